#!/usr/bin/env bash
# A member that hangs without closing its connections (SIGSTOP: a frozen
# host) is left for the others: writes on m1 and reads on m2 go on within
# seconds, through the other two members, and the event log says so.
# The member frozen is a follower: an etcd 3.4.23 leader that resumes
# revokes every lease (etcd issue 12528, see test_etcd_session_lost).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

start_etcd
leader=$(etcd_cluster leader)
[[ "$leader" =~ ^[123]$ ]] || fail "no leader found: '$leader'"
follower=$((leader % 3 + 1))
# Both mounts talk to the first URL until it fails them: the follower's.
urls=(${ETCD_URLS//,/ })
ETCD_URLS=${urls[follower - 1]}
for n in 1 2 3; do
	((n == follower)) || ETCD_URLS+=",${urls[n - 1]}"
done
start_mount m1
start_mount m2 --quiet
echo 1 >"$TEST_TMP/m1/A" || fail "first write"
assert_bytes "$TEST_TMP/m2/A" $'1\n'

frozen=$(cat "$TEST_TMP/etcd/n$follower.pid")
at_exit "kill -CONT $frozen 2>/dev/null"
kill -STOP "$frozen"
start=$(date +%s%N)
timeout 20 sh -c "echo 2 >'$TEST_TMP/m1/A'" || fail "a write on m1 did not get through the other members"
assert_bytes "$TEST_TMP/m2/A" $'2\n'
took=$((($(date +%s%N) - start) / 1000000))
echo "write on m1 and read on m2 with n1 frozen: $took ms" >&2
((took < 15000)) || fail "it took $took ms"
wait_until 5 grep -q "fallen behind\|trying the other members" "$TEST_TMP/m1.log" ||
	fail "the event log of m1 does not say the member was left"
kill -CONT "$frozen"
echo 3 >"$TEST_TMP/m1/A" || { grep -v "from another" "$TEST_TMP/m1.log" >&2; fail "a write after the member is back"; }
assert_bytes "$TEST_TMP/m2/A" $'3\n'
wait_same_state m1 m2 >/dev/null
