#!/usr/bin/env bash
# Without -f the daemon returns once mounted; the mount works, and
# `fusermount3 -u` unmounts it and ends the daemon.
. "$(dirname "$0")/lib.sh"

dir=$TEST_TMP/bg
mkdir -p "$dir" "$TEST_TMP/work-bg"
at_exit 'unmount "$dir"'
(cd "$TEST_TMP/work-bg" && timeout 10 "$RWFS" "$dir") >"$TEST_TMP/bg.out" 2>"$TEST_TMP/bg.err"
assert_eq 0 "$?" "exit status of the background start ($(cat "$TEST_TMP/bg.err"))"
is_mounted "$dir" || fail "not mounted after the background start returned"

assert_bytes "$dir/A" $'0\n'
echo 3 >"$dir/A" || fail "echo 3 > A failed"
assert_bytes "$dir/A" $'3\n'
echo 'ADD A 4' >"$dir/ctl" || fail "echo 'ADD A 4' > ctl failed"
assert_bytes "$dir/A" $'7\n'

# The daemon is the process whose command line is "$RWFS $dir".
daemons() {
	pgrep -xf -- "$(sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$RWFS $dir")"
}
[[ -n "$(daemons)" ]] || fail "no background daemon process found"
# No core dump: one would hold live tokens and what clients sent.
grep -Eq '^Max core file size +0 +0 ' "/proc/$(daemons)/limits" ||
	fail "the daemon may dump core: $(grep -i core "/proc/$(daemons)/limits")"

timeout 10 fusermount3 -u "$dir" || fail "fusermount3 -u failed"
is_mounted "$dir" && fail "still mounted after fusermount3 -u"
wait_until 10 eval '[[ -z "$(daemons)" ]]' || fail "the background daemon still runs after fusermount3 -u: $(daemons)"

# Mounted again at once after each unmount, on the same state: the daemon
# just unmounted may still hold the state directory's lock as it exits.
for i in 1 2 3 4 5; do
	(cd "$TEST_TMP/work-bg" && timeout 10 "$RWFS" "$dir") >"$TEST_TMP/bg.out" 2>"$TEST_TMP/bg.err" ||
		fail "mount $i right after an unmount: $(cat "$TEST_TMP/bg.err")"
	assert_bytes "$dir/A" "$((i == 1 ? 7 : i - 1))"$'\n'
	echo "$i" >"$dir/A" || fail "echo $i > A"
	timeout 10 fusermount3 -u "$dir" || fail "fusermount3 -u $i failed"
done
wait_until 10 eval '[[ -z "$(daemons)" ]]' || fail "a background daemon still runs: $(daemons)"
