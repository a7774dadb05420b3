#!/usr/bin/env bash
# Every tool, C or shell: --version prints "NAME rwfs VERSION" with the
# daemon's version, and a usage error is one line, "NAME: WHAT; see NAME
# --help", with exit status 2.
. "$(dirname "$0")/lib.sh"

# The tools under test: $TOOLS (the Makefile points it at a sanitizer
# build), else the repository's tools/; the scripts are always in tools/.
tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools
binaries=(producer consumer records shop groups)
scripts=(reader.sh writer.sh)

version=$(timeout 10 "$RWFS" --version) || fail "rwfs --version failed"
version=${version#rwfs }
version=${version%% *}
assert_match '^[0-9]+\.[0-9]+\.[0-9]+' "$version" "the daemon's version"

# check_tool PATH NAME
check_tool() {
	local tool=$1 name=$2 out err
	out=$(timeout 10 "$tool" --version 2>&1)
	assert_eq 0 "$?" "exit status of $name --version"
	assert_eq "$name rwfs $version" "$out" "$name --version"
	out=$(timeout 10 "$tool" --foo 2>"$TEST_TMP/err")
	assert_eq 2 "$?" "exit status of $name --foo"
	assert_eq "" "$out" "stdout of $name --foo"
	err=$(cat "$TEST_TMP/err")
	assert_eq "$name: unknown option '--foo'; see $name --help" "$err" "$name --foo"
	out=$(timeout 10 "$tool" --help) || fail "$name --help failed"
	assert_contains "$out" "--version" "$name --help"
}

for name in "${binaries[@]}"; do
	[[ -x "$tools/$name" ]] || fail "$tools/$name is not built"
	check_tool "$tools/$name" "$name"
done
for name in "${scripts[@]}"; do
	check_tool "$ROOT/tools/$name" "${name%.sh}"
done

# Other usage errors are one line too.
expect_usage() {
	local want=$1 err
	shift
	err=$(timeout 10 "$@" 2>&1 >/dev/null)
	assert_eq 2 "$?" "exit status of ${*##*/}"
	assert_eq "$want" "$err" "usage error of ${*##*/}"
}
expect_usage "producer: no QUEUE given; see producer --help" "$tools/producer"
expect_usage "producer: --count takes a whole number, not 'x'; see producer --help" \
	"$tools/producer" --count x q
expect_usage "consumer: option '--timeout' needs an argument; see consumer --help" \
	"$tools/consumer" --timeout
expect_usage "consumer: --out and --records do not go together; see consumer --help" \
	"$tools/consumer" --out a --records b q
expect_usage "records: no FILE given; see records --help" "$tools/records"
expect_usage "shop: unknown subcommand 'bogus'; see shop --help" "$tools/shop" --mount "$MNT" bogus
expect_usage "groups: --groups takes a whole number 1..64, not '0'; see groups --help" \
	"$tools/groups" --groups 0
expect_usage "reader: 'AB' is not a register (A-Z); see reader --help" \
	"$ROOT/tools/reader.sh" --mount "$MNT" AB
expect_usage "writer: --count takes a whole number, not 'x'; see writer --help" \
	"$ROOT/tools/writer.sh" --mount "$MNT" --count x
exit 0
