#!/usr/bin/env bash
# A compaction while a mount is down (SPEC 7): with --compact-size=20000,
# m3 is unmounted cleanly, m1 and m2 write until a snapshot is taken and
# etcd's history compacted past the revision m3 had applied (etcd itself
# refuses to read the log at that revision); m3 then starts again, loads
# the snapshot and reaches the same digest at the same position as the
# others, and so does a new mount m4.  The registers, a queue and a file
# read the same on every mount.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

COMPACT=20000
etcdget() {
	ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URLS" --command-timeout=5s get "$@"
}
start_etcd
for m in m1 m2 m3; do start_mount $m --compact-size=$COMPACT; done
M1=$TEST_TMP/m1 M2=$TEST_TMP/m2 M3=$TEST_TMP/m3

echo 5 >"$M1/B" || fail "write B"
touch "$M1/queues/jobs" || fail "touch queues/jobs"
wait_same_state m1 m2 m3 >/dev/null
down_at=$(mount_stat m3 etcd_applied_revision)
stop_rwfs m3 || fail "m3 did not stop cleanly"

# Well past the compaction size: ctl batches from m1 and m2, queue items,
# and a file of 30000 bytes.
for m in m1 m2; do
	timeout 40 "$PYTHON" - "$TEST_TMP/$m" <<'PY' &
import os, sys
mnt = sys.argv[1]
for i in range(150):
    fd = os.open(mnt + "/ctl", os.O_WRONLY)
    os.write(fd, b"ADD A 1\nADD C 3\n")
    os.close(fd)
fd = os.open(mnt + "/queues/jobs", os.O_WRONLY)
for i in range(20):
    os.write(fd, b"%s-%d\n" % (os.path.basename(mnt).encode(), i))
os.close(fd)
PY
	writers+=($!)
done
head -c 30000 /dev/urandom >"$TEST_TMP/blob"
cp "$TEST_TMP/blob" "$M2/files/blob" || fail "cp to m2/files"
for p in "${writers[@]}"; do
	wait "$p" || fail "a writer failed"
done

snapshot_past() {
	local s
	for m in m1 m2; do
		s=$(mount_stat $m etcd_snapshot_revision)
		((s > down_at)) && return 0
	done
	return 1
}
wait_until 10 snapshot_past || fail "no snapshot past revision $down_at: $(grep etcd_ "$M1/stats" | tr '\n' ' ')"
grep -h 'snapshot at revision' "$TEST_TMP/m1.log" "$TEST_TMP/m2.log" >"$TEST_TMP/snapshots" ||
	fail "no 'snapshot at revision' line in the event logs"
compacted=$(etcdget --rev="$down_at" rwfs/log 2>&1 >/dev/null)
assert_contains "$compacted" "compacted" "etcd's answer for the log at revision $down_at"

# The manifest names its chunks: every one of them must be there.
read -r man_rev _ man_chunks _ _ man_proposer <<<"$(etcdget --print-value-only rwfs/snap/manifest)"
present=$(etcdget --keys-only --prefix "rwfs/snap/$man_rev/$man_proposer/" | grep -c .)
((present == man_chunks)) ||
	fail "the manifest names $man_chunks chunks of revision $((10#$man_rev)), etcd holds $present of them"

start_mount m3 --compact-size=$COMPACT
start_mount m4 --compact-size=$COMPACT
wait_same_state m1 m2 m3 m4 >/dev/null
snap=$(mount_stat m3 etcd_snapshot_revision)
((snap > down_at)) || fail "m3 reports snapshot revision $snap, not past $down_at: it did not load the snapshot"
for m in m1 m2 m3 m4; do
	assert_bytes "$TEST_TMP/$m/A" $'300\n'
	assert_bytes "$TEST_TMP/$m/B" $'5\n'
	assert_bytes "$TEST_TMP/$m/C" $'900\n'
	cmp -s "$TEST_TMP/blob" "$TEST_TMP/$m/files/blob" || fail "files/blob reads differently on $m"
	assert_eq 40 "$(awk '$1 == "queue.jobs.depth" { print $2 }' "$TEST_TMP/$m/stats")" "queue.jobs.depth on $m"
done
echo "m3 down at revision $down_at; $(wc -l <"$TEST_TMP/snapshots") snapshots" \
	"(last: $(tail -n 1 "$TEST_TMP/snapshots" | sed 's/.*etcd: //')); m3 and m4 loaded revision $snap" \
	"and caught up to $(mount_stat m1 etcd_applied_revision)"
