#!/usr/bin/env bash
# Two of three etcd members down (SPEC 7): without a quorum a write to A, a
# ctl batch and a read of A on a mount started with --etcd-timeout=3 fail
# with ETIMEDOUT or EIO within the timeout and a margin, never hang; once
# the members are back the operations work again, on both mounts, and the
# mounts end with the same digest at the same position.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

TIMEOUT_S=2
MARGIN_MS=2500
FAULT=$(dirname "$0")/etcd_fault_call.py

start_etcd
start_mount m1 --etcd-timeout=$TIMEOUT_S
start_mount m2 --etcd-timeout=$TIMEOUT_S
M1=$TEST_TMP/m1 M2=$TEST_TMP/m2
echo 1 >"$M1/A" || fail "write A before the fault"
assert_bytes "$M2/A" $'1\n'

leader=$(etcd_cluster leader)
[[ "$leader" =~ ^[123]$ ]] || fail "no leader found: '$leader'"
other=$((leader % 3 + 1))
etcd_cluster kill "$leader"
etcd_cluster kill "$other"

# Each call prints its errno name and how long it took (ms).
check_fails() {
	local what=$1 out errno ms
	shift
	out=$(timeout 30 "$PYTHON" "$FAULT" "$@") || fail "$what: the call did not end within 30 s"
	read -r errno ms <<<"$out"
	echo "without quorum: $what -> $errno after $ms ms"
	[[ "$errno" == ETIMEDOUT || "$errno" == EIO ]] || fail "$what without quorum: $errno, expected ETIMEDOUT or EIO"
	((ms <= TIMEOUT_S * 1000 + MARGIN_MS)) || fail "$what without quorum took $ms ms (timeout ${TIMEOUT_S} s)"
}
check_fails "write 5 to m1/A" write "$M1/A" $'5\n'
check_fails "ctl ADD A 1 on m2" write "$M2/ctl" $'ADD A 1\n'
check_fails "read of m1/A" read "$M1/A"
check_fails "read of m2/A" read "$M2/A"

etcd_cluster revive "$leader"
etcd_cluster revive "$other"
back=$(date +%s%N)
until out=$(timeout 30 "$PYTHON" "$FAULT" write "$M1/A" $'7\n') && [[ "$out" == OK* ]]; do
	(($(date +%s%N) - back < 20000000000)) || fail "writes do not work 20 s after the members came back: $out"
	sleep 0.2
done
echo "writes work again $((($(date +%s%N) - back) / 1000000)) ms after the members came back"
assert_bytes "$M2/A" $'7\n'
echo "ADD A 1" >"$M2/ctl" || fail "ctl on m2 after the members came back"
assert_bytes "$M1/A" $'8\n'
wait_same_state m1 m2 >/dev/null

# The event log says what happened: a member lost, the quorum lost, back.
log=$(grep -h "etcd:" "$TEST_TMP/m1.log" "$TEST_TMP/m2.log")
assert_contains "$log" "etcd: member lost:" "the event log, members down"
assert_contains "$log" "etcd: quorum lost:" "the event log, no quorum"
assert_contains "$log" "etcd: back:" "the event log, members back"
assert_contains "$(cat "$TEST_TMP/m1.log")" "read A -> error: Connection timed out" "the event log, a failed read"
