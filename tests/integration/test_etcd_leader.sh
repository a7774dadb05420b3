#!/usr/bin/env bash
# kill -9 of the etcd leader under load (SPEC 7): two writers on each of
# three mounts do `ADD A 1` through mnt/ctl, counting what was acknowledged;
# the leader is killed mid-load.  Nothing acknowledged is lost (A ends at
# least at the acknowledged count, and at most at the attempted one), the
# writes go on after the election, and no write stalls past the operation
# timeout.  The member is revived and every mount ends with the same
# digest at the same position.  Prints the counts and the longest stall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

WRITER=$(dirname "$0")/etcd_fault_writer.py
TIMEOUT_S=10

start_etcd
for m in m1 m2 m3; do start_mount $m --quiet --etcd-timeout=$TIMEOUT_S; done

stop=$TEST_TMP/stop mark=$TEST_TMP/mark
for m in m1 m2 m3; do
	for w in 1 2; do
		timeout 50 "$PYTHON" "$WRITER" "$TEST_TMP/$m/ctl" "$stop" "$mark" >"$TEST_TMP/w.$m.$w" &
		writers+=($!)
	done
done

sleep 2
leader=$(etcd_cluster leader)
[[ "$leader" =~ ^[123]$ ]] || fail "no leader found: '$leader'"
before=$(value "$TEST_TMP/m1/A")
touch "$mark"
etcd_cluster kill "$leader"
# An election takes one to three seconds; the writes must go on after it.
sleep 6
touch "$stop"
for p in "${writers[@]}"; do
	wait "$p" || fail "a writer did not end (status $?)"
done

etcd_cluster revive "$leader"
wait_same_state m1 m2 m3 >/dev/null

read -r attempted acked failed stall after <<<"$(awk '
	{ a += $1; k += $2; f += $3; if ($4 > s) s = $4; m += $5 }
	END { print a, k, f, s, m }' "$TEST_TMP"/w.*)"
final=$(value "$TEST_TMP/m1/A")
for m in m2 m3; do
	assert_eq "$final" "$(value "$TEST_TMP/$m/A")" "A on $m"
done
echo "leader n$leader killed at A=$before; attempted $attempted, acknowledged $acked" \
	"($after after the kill), failed $failed, final A $final," \
	"lost $((acked > final ? acked - final : 0)), longest stall ${stall} ms"
((final >= acked)) || fail "$((acked - final)) acknowledged writes lost (A $final, acknowledged $acked)"
((final <= attempted)) || fail "A is $final, more than the $attempted writes attempted"
((before > 0)) || fail "no write was acknowledged before the kill"
((after > 0)) || fail "no write was acknowledged after the leader was killed"
((stall < TIMEOUT_S * 1000 + 2000)) || fail "a write stalled $stall ms, past the ${TIMEOUT_S} s timeout"
