#!/usr/bin/env bash
# The command line: --help and --version exit 0, a bad option prints usage
# on stderr and exits 2, a bad or busy mount point is one line naming it
# and exit 1.
. "$(dirname "$0")/lib.sh"

# run_rwfs ARG...: runs the daemon (bounded), sets OUT, ERR and STATUS.
run_rwfs() {
	mkdir -p "$TEST_TMP/cli"
	(cd "$TEST_TMP/cli" && timeout 10 "$RWFS" "$@") >"$TEST_TMP/cli.out" 2>"$TEST_TMP/cli.err"
	STATUS=$?
	OUT=$(cat "$TEST_TMP/cli.out")
	ERR=$(cat "$TEST_TMP/cli.err")
}

run_rwfs --help
assert_eq 0 "$STATUS" "exit status of --help"
help="$OUT$ERR"
assert_match '[Uu]sage' "$help" "--help output"
assert_contains "$help" "--memory" "--help output"
assert_contains "$help" "-f" "--help output"

run_rwfs -h
assert_eq 0 "$STATUS" "exit status of -h"

run_rwfs --version
assert_eq 0 "$STATUS" "exit status of --version"
[[ -n "$OUT$ERR" ]] || fail "--version printed nothing"

run_rwfs --bogus "$TEST_TMP/cli"
assert_eq 2 "$STATUS" "exit status of --bogus"
assert_match '[Uu]sage' "$ERR" "stderr of --bogus"
assert_eq "" "$OUT" "stdout of --bogus"

# one_line_error WHAT: exit status 1 and exactly one stderr line naming PATH.
one_line_error() {
	assert_eq 1 "$STATUS" "exit status for $1"
	assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "stderr lines for $1 ($ERR)"
	assert_contains "$ERR" "$PATH_NAMED" "stderr for $1"
}

PATH_NAMED=$TEST_TMP/does-not-exist
run_rwfs -f "$PATH_NAMED"
one_line_error "a missing mount point"
run_rwfs "$PATH_NAMED"
one_line_error "a missing mount point (background)"

PATH_NAMED=$TEST_TMP/regular-file
touch "$PATH_NAMED"
run_rwfs -f "$PATH_NAMED"
one_line_error "a regular file as mount point"
is_mounted "$PATH_NAMED" && fail "rwfs mounted on a regular file"

PATH_NAMED=$MNT
run_rwfs -f "$MNT"
one_line_error "an already mounted mount point"
run_rwfs "$MNT"
one_line_error "an already mounted mount point (background)"
assert_eq 1 "$(awk -v d="$MNT" '$2 == d' /proc/self/mounts | wc -l)" "mounts on $MNT"
assert_bytes "$MNT/A" $'0\n'

# Numbers are whole decimal numbers in range, nothing around them: the bad
# ones are one line naming the option, status 2, and nothing mounted.
for bad in --memory=12abc --memory=abc --memory=0 --memory=-1 --compact-size=1k \
	--compact-size= --queue-capacity=x --queue-capacity=100001; do
	mkdir -p "$TEST_TMP/m"
	run_rwfs -f "$bad" "$TEST_TMP/m"
	assert_eq 2 "$STATUS" "exit status of $bad"
	assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "stderr lines of $bad ($ERR)"
	assert_contains "$ERR" "${bad%%=*} must be a whole number" "stderr of $bad"
	! is_mounted "$TEST_TMP/m" || fail "$bad mounted"
done
