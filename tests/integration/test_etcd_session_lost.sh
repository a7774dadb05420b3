#!/usr/bin/env bash
# A mount whose session the cluster ends while the mount lives (its lease
# revoked: what a partition longer than the lease does, and what an etcd
# 3.4.23 leader does to every lease when it resumes after a stall, etcd
# issue 12528) begins a new session and serves again, on its own: the
# ticket it held goes to the other mount, writes and reads work on both
# within seconds, and both reach the same state.  The event log of m1
# shows m2's change as one from another host (SPEC 7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

start_etcd
start_mount m1
start_mount m2
M1=$TEST_TMP/m1 M2=$TEST_TMP/m2
echo 1 >"$M1/A" || fail "first write"
touch "$M1/files/x" || fail "touch on m1"
flock -x "$M1/files/x" -c "touch $TEST_TMP/held; exec sleep 60" &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_until 5 test -e "$TEST_TMP/held" || fail "m1 did not get the lock"
timeout 10 flock -x -n "$M2/files/x" -c true && fail "m2 got the lock that m1 holds"

leases=$(ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URLS" lease list | tail -n +2)
(($(wc -w <<<"$leases") == 2)) || fail "expected the leases of two mounts: $leases"
for id in $leases; do
	ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URLS" lease revoke "$id" >/dev/null ||
		fail "cannot revoke lease $id"
done
revoked=$(date +%s%N)

# Each mount learns of its end from its own watch; a request a mount makes
# before then is proposed in the old session and refused (ESTALE).
for m in m1 m2; do
	wait_until 10 grep -q "a new session begins" "$TEST_TMP/$m.log" ||
		{ cat "$TEST_TMP/$m.log" >&2; fail "$m did not begin a new session"; }
done
assert_contains "$(cat "$TEST_TMP/m1.log")" "the cluster ended this mount's session"
timeout 10 flock -x -n "$M2/files/x" -c true || fail "m2 did not get the lock m1's ended session held"
echo 2 >"$M1/A" || fail "a write on m1 after its new session"
assert_bytes "$M2/A" $'2\n'
echo 3 >"$M2/A" || fail "a write on m2 after its new session"
assert_bytes "$M1/A" $'3\n'
took=$((($(date +%s%N) - revoked) / 1000000))
wait_until 5 grep -q "from another host: .* BATCH SET A 3$" "$TEST_TMP/m1.log" ||
	fail "m1's event log does not show m2's write: $(grep 'from another' "$TEST_TMP/m1.log" | tail -3)"
grep "BATCH SET A 2$" "$TEST_TMP/m1.log" | grep -q "from another host" &&
	fail "m1's event log shows its own write as another host's"
echo "both mounts serve again $took ms after their leases were revoked" >&2
wait_until 5 test "$(mount_stat m1 etcd_mounts)" = 2 || fail "m1 sees $(mount_stat m1 etcd_mounts) mounts"
assert_eq "$(mount_stat m1 etcd_lease_lost)" 0
assert_eq "$(mount_stat m2 etcd_lease_lost)" 0
wait_same_state m1 m2 >/dev/null
