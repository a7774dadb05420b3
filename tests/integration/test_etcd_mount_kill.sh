#!/usr/bin/env bash
# kill -9 of a mount (SPEC 7): m3 holds a flock ticket on files/x, has a
# reader blocked on the empty queue idle and three consumers taking the
# items that producers on m1 and m2 push into load, when it is killed.  Within the lease
# (+ a margin) m2 gets the ticket, every acknowledged item is either
# received on m3 or still in load (an item a consumer received as m3 died
# may be there again, nothing else twice), and an item pushed into idle goes to a
# reader on m2, not to the dead one.  m3 restarts with the same command and
# reaches the same digest at the same position as the others.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

QUEUE=$(dirname "$0")/etcd_fault_queue.py
QIO=$(dirname "$0")/qio.py
LEASE=2

start_etcd
for m in m1 m2 m3; do start_mount $m --lease=$LEASE; done
victim=$DAEMON_PID
M1=$TEST_TMP/m1 M2=$TEST_TMP/m2 M3=$TEST_TMP/m3

touch "$M1/files/x" "$M1/queues/load" "$M1/queues/idle" || fail "touch on m1"
flock -x "$M3/files/x" -c "touch $TEST_TMP/held; exec sleep 60" &
wait_until 5 test -e "$TEST_TMP/held" || fail "m3 did not get the lock"
timeout 10 flock -x -n "$M2/files/x" -c true && fail "m2 got the lock that m3 holds"

timeout 30 "$PYTHON" "$QIO" r "$M3/queues/idle" >"$TEST_TMP/idle.m3" &
idle_reader=$!
for c in 1 2 3; do
	timeout 30 "$PYTHON" "$QUEUE" consume "$M3/queues/load" "$TEST_TMP/received.$c" &
	consumers+=($!)
done
for m in m1 m2; do
	timeout 30 "$PYTHON" "$QUEUE" produce "$TEST_TMP/$m/queues/load" $m "$TEST_TMP/stop" >"$TEST_TMP/acked.$m" &
	producers+=($!)
done
sleep 1.5

kill -KILL "$victim"
killed=$(date +%s%N)
{ wait "$victim"; } 2>/dev/null
touch "$TEST_TMP/stop"
for p in "${producers[@]}"; do
	wait "$p" || fail "a producer failed"
done
# What m3 had popped but not yet acknowledged, as m1 sees it before the
# lease ends (items in, minus items acknowledged, minus items waiting).
held=$(awk '$1 ~ /^queue\.load\.(in|out|depth)$/ { v[$1] = $2 }
	END { print v["queue.load.in"] - v["queue.load.out"] - v["queue.load.depth"] }' "$M1/stats")
until timeout 10 flock -x -n "$M2/files/x" -c true; do
	(($(date +%s%N) - killed < (LEASE + 4) * 1000000000)) ||
		fail "m2 did not get the lock $((LEASE + 4)) s after m3 was killed"
	sleep 0.1
done
released=$((($(date +%s%N) - killed) / 1000000))
for p in "${consumers[@]}" "$idle_reader"; do
	wait "$p"
done
[[ "$(cat "$TEST_TMP/idle.m3")" != "b'"* ]] || fail "the dead reader on idle received $(cat "$TEST_TMP/idle.m3")"

timeout 20 "$PYTHON" "$QUEUE" drain "$M2/queues/load" "$TEST_TMP/drained" || fail "drain of load on m2"
counts=$(timeout 20 "$PYTHON" "$QUEUE" check "$TEST_TMP") ||
	fail "load: $counts"
expect_errno OK "$M1/queues/idle" $'z\n'
assert_eq "b'z\\n'" "$(timeout 10 "$PYTHON" "$QIO" r "$M2/queues/idle" --nb)" "the item pushed into idle, read on m2"
echo "ticket released on m2 $released ms after the kill (lease $LEASE s); held by m3 at the kill: $held; $counts"
grep -q 'a mount left the cluster' "$TEST_TMP/m1.log" || fail "m1's event log does not say that m3's session ended"

# The dead mount is unmounted and started again with the same command.
wait_until 5 eval "! is_running $victim" || fail "m3 survived kill -9"
timeout 5 fusermount3 -uz "$M3" || fail "cannot unmount the dead m3"
start_mount m3 --lease=$LEASE
echo 7 >"$M1/B" || fail "write B on m1"
assert_bytes "$M3/B" $'7\n'
timeout 10 flock -x -n "$M3/files/x" -c true || fail "m3 cannot take the free lock after its restart"
wait_same_state m1 m2 m3 >/dev/null
