#!/usr/bin/env bash
# A member that hangs without closing its connections (SIGSTOP: a frozen
# host) is left for the others: writes on m1 and reads on m2 go on within
# seconds, through the other two members, and the event log says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

start_etcd
start_mount m1
start_mount m2 --quiet
echo 1 >"$TEST_TMP/m1/A" || fail "first write"
assert_bytes "$TEST_TMP/m2/A" $'1\n'

# Both mounts talk to the first URL, n1, until it fails them.
frozen=$(cat "$TEST_TMP/etcd/n1.pid")
kill -STOP "$frozen"
at_exit "kill -CONT $frozen"
start=$(date +%s%N)
timeout 20 sh -c "echo 2 >'$TEST_TMP/m1/A'" || fail "a write on m1 did not get through the other members"
assert_bytes "$TEST_TMP/m2/A" $'2\n'
took=$((($(date +%s%N) - start) / 1000000))
echo "write on m1 and read on m2 with n1 frozen: $took ms" >&2
((took < 15000)) || fail "it took $took ms"
wait_until 5 grep -q "fallen behind\|trying the other members" "$TEST_TMP/m1.log" ||
	fail "the event log of m1 does not say the member was left"
kill -CONT "$frozen"
echo 3 >"$TEST_TMP/m1/A" || { grep -v "from another" "$TEST_TMP/m1.log" >&2; fail "a write after n1 is back"; }
assert_bytes "$TEST_TMP/m2/A" $'3\n'
wait_same_state m1 m2 >/dev/null
