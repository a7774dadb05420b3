#!/usr/bin/env bash
# The command line: --help and --version exit 0; a bad option or a stray
# argument is one usage line on stderr and exit 2, before anything is
# done; a bad, busy or stale mount point is one line naming it and exit 1;
# every option of rwfs works as --NAME=VALUE, --NAME VALUE and -o
# NAME=VALUE; the start line; the event log in the background.
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

# usage_error WHAT PIECE: exit status 2, one stderr line that holds PIECE
# and the usage, nothing on stdout, nothing made in the working directory.
usage_error() {
	assert_eq 2 "$STATUS" "exit status of $1"
	assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "stderr lines of $1 ($ERR)"
	assert_contains "$ERR" "$2" "stderr of $1"
	assert_match 'usage|see rwfs --help' "$ERR" "stderr of $1"
	assert_eq "" "$OUT" "stdout of $1"
	assert_eq "" "$(ls -A "$TEST_TMP/cli")" "files made by $1"
}

mkdir -p "$TEST_TMP/m"
run_rwfs --bogus "$TEST_TMP/m"
usage_error --bogus "unknown option '--bogus'"
# Even after a --state that does not exist: nothing is opened first.
run_rwfs --state="$TEST_TMP/none" --bogus "$TEST_TMP/m"
usage_error "--bogus after --state" "unknown option '--bogus'"
run_rwfs -o bogus "$TEST_TMP/m"
usage_error "-o bogus" "-o bogus"
run_rwfs -o state="$TEST_TMP/none",bogus "$TEST_TMP/m"
usage_error "-o state=...,bogus" "bogus"
run_rwfs "$TEST_TMP/m" extra
usage_error "a stray argument" "unexpected argument 'extra'"
run_rwfs rwfs "$TEST_TMP/m" extra
usage_error "a stray argument after the source" "unexpected argument 'extra'"
run_rwfs other "$TEST_TMP/m"
usage_error "a source other than rwfs" "unexpected argument '$TEST_TMP/m' after the mount point 'other'"
run_rwfs
usage_error "no mount point" "no mount point given"
run_rwfs "$TEST_TMP/m" --state
usage_error "--state without its value" "a value is missing after --state"
run_rwfs -o max_threads=many "$TEST_TMP/m"
usage_error "-o max_threads=many" "max_threads=many"
! is_mounted "$TEST_TMP/m" || fail "a usage error mounted"

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
	--compact-size= --queue-capacity=x --queue-capacity=100001 --queue-capacity=-1; do
	mkdir -p "$TEST_TMP/m"
	run_rwfs -f "$bad" "$TEST_TMP/m"
	assert_eq 2 "$STATUS" "exit status of $bad"
	assert_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "stderr lines of $bad ($ERR)"
	assert_contains "$ERR" "${bad%%=*} must be a whole number" "stderr of $bad"
	! is_mounted "$TEST_TMP/m" || fail "$bad mounted"
done

# A mount point whose daemon died (kill -9) is a stale mount: one line
# that says so and how to clear it.
start_rwfs stale
kill -KILL "$DAEMON_PID"
wait_until 5 eval '! is_running $DAEMON_PID' || fail "the killed daemon still runs"
PATH_NAMED=$TEST_TMP/stale
run_rwfs "$PATH_NAMED"
one_line_error "a stale mount point"
assert_contains "$ERR" "is a stale mount" "stderr for a stale mount point"
assert_contains "$ERR" "fusermount3 -u $PATH_NAMED" "stderr for a stale mount point"
fusermount3 -u "$PATH_NAMED" || fail "the advice did not clear the stale mount"
start_rwfs stale
stop_rwfs stale || fail "clean exit after the stale mount was cleared"

# Every option of rwfs as --NAME VALUE and as a mount option, and the start
# line: what, where, which state, how many records, which sync mode.
state=$TEST_TMP/state
mkdir "$state"
start_rwfs o -o "state=$state,sync=always,memory=7" --queue-capacity 0
assert_eq 7 "$(ls "$TEST_TMP/o/mem" | wc -l)" "cells with -o memory=7"
echo 5 >"$TEST_TMP/o/A" || fail "echo 5 > A"
[[ -s "$state/journal" ]] || fail "-o state=DIR: no journal in $state"
[[ ! -e "$TEST_TMP/work-o/rwfs.state" ]] || fail "-o state=DIR made ./rwfs.state too"
touch "$TEST_TMP/o/queues/q" || fail "touch queues/q"
assert_eq 100 "$(getfattr --absolute-names --only-values -n user.capacity "$TEST_TMP/o/queues/q")" \
	"capacity of a queue with --queue-capacity 0"
start=$(head -n 1 "$TEST_TMP/o.log")
assert_match "$EVENT_RE" "$start" "the start line"
assert_match "pid $DAEMON_PID \\(rwfs\\) mount $TEST_TMP/o -> rwfs [0-9.]+, state $state, 0 records restored, sync always\$" \
	"$start" "the start line"
stop_rwfs o || fail "clean exit"
start_rwfs o --state "$state" --sync everysec --memory 7
assert_bytes "$TEST_TMP/o/A" $'5\n'
assert_match "state $state, [1-9][0-9]* records restored, sync everysec\$" \
	"$(head -n 1 "$TEST_TMP/o.log")" "the start line after a restart"
stop_rwfs o || fail "clean exit"
start_rwfs o --state="$state" --memory=7 --quiet
echo 6 >"$TEST_TMP/o/A" || fail "echo 6 > A"
stop_rwfs o || fail "clean exit"
assert_eq "" "$(cat "$TEST_TMP/o.log")" "the console with --quiet"

# In the background the event log goes to --log=FILE, start line first.
bg=$TEST_TMP/bg
mkdir "$bg"
run_rwfs --state "$state" --memory=7 --log "$TEST_TMP/events.log" "$bg"
assert_eq 0 "$STATUS" "exit status of a background start with --log ($ERR)"
at_exit 'unmount "$bg"'
assert_bytes "$bg/A" $'6\n'
wait_until 5 grep -q ' read A -> 6$' "$TEST_TMP/events.log" || fail "no read line in --log FILE"
assert_match "^[0-9:.]+ pid [0-9]+ \\(rwfs\\) mount $bg -> rwfs " "$(head -n 1 "$TEST_TMP/events.log")" \
	"the start line in --log FILE"
assert_eq 600 "$(stat -c %a "$TEST_TMP/events.log")" "mode of the --log FILE"
unmount "$bg" || fail "cannot unmount $bg"

# Without --log, the background event log goes to syslog: /dev/log, here a
# socket of the test's own in a private mount namespace.
ns=$TEST_TMP/ns
mkdir -p "$ns/dev" "$ns/mnt"
cat >"$ns/run.sh" <<'SCRIPT'
set -eu
ns=$1 rwfs=$2 state=$3
mount -t tmpfs tmpfs "$ns/dev"
for dev in fuse null; do
	touch "$ns/dev/$dev"
	mount --bind "/dev/$dev" "$ns/dev/$dev"
done
mount --rbind "$ns/dev" /dev
"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
s.settimeout(10)
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(4096) + b"\n")
' "$ns/syslog" &
for _ in $(seq 50); do [ -e "$ns/syslog.ready" ] && break; sleep 0.1; done
"$rwfs" --state "$state" --memory=7 "$ns/mnt"
cat "$ns/mnt/A" >/dev/null
fusermount3 -u "$ns/mnt"
for _ in $(seq 50); do grep -q ' read A -> ' "$ns/syslog" && break; sleep 0.1; done
kill $!
SCRIPT
timeout 20 unshare --mount --propagation private bash "$ns/run.sh" "$ns" "$RWFS" "$state" ||
	fail "the background daemon with syslog in a private namespace failed"
log=$(cat "$ns/syslog")
assert_match "<30>.* rwfs\\[[0-9]+\\]: [0-9:.]+ pid [0-9]+ \\(rwfs\\) mount $ns/mnt -> rwfs " "$log" \
	"the start line in syslog (daemon.info)"
assert_match "rwfs\\[[0-9]+\\]: [0-9:.]+ pid [0-9]+ \\(cat\\) read A -> 6" "$log" "a read in syslog"
