#!/usr/bin/env bash
# Three mounts on one etcd cluster (SPEC 7): 3 processes per mount x 300
# `ADD A 1` end at exactly 2700 on every mount; a write acknowledged on m1
# is seen by a read that starts afterwards on m2, over 1000 rounds; a file
# written on m1 reads the same on m3; flock -x on m1 blocks flock -x on m2
# until released; every mount ends with the same digest at the same position.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

start_etcd
for m in m1 m2 m3; do start_mount $m --quiet; done

for m in m1 m2 m3; do
	for w in 1 2 3; do
		timeout 120 bash -c '
			failures=0
			for ((i = 0; i < 300; i++)); do
				echo "ADD A 1" >"$1/ctl" || failures=$((failures + 1))
			done
			exit $((failures > 0))' _ "$TEST_TMP/$m" &
		pids+=($!)
	done
done
for p in "${pids[@]}"; do
	wait "$p" || fail "an adder had failed writes or timed out"
done
for m in m1 m2 m3; do
	assert_bytes "$TEST_TMP/$m/A" $'2700\n'
done

# Read-after-write across mounts: every round writes i on m1, then reads m2.
"$PYTHON" - "$TEST_TMP/m1/B" "$TEST_TMP/m2/B" <<'PY' || fail "a read on m2 missed a write acknowledged on m1"
import os, sys
w, r = sys.argv[1], sys.argv[2]
for i in range(1, 1001):
    fd = os.open(w, os.O_WRONLY)
    os.write(fd, b"%d\n" % i)
    os.close(fd)
    fd = os.open(r, os.O_RDONLY)
    got = os.read(fd, 64)
    os.close(fd)
    if got != b"%d\n" % i:
        print("round %d: m2 read %r" % (i, got))
        sys.exit(1)
PY

head -c 200000 /dev/urandom >"$TEST_TMP/blob"
cp "$TEST_TMP/blob" "$TEST_TMP/m1/files/blob" || fail "cp to m1/files"
cmp "$TEST_TMP/blob" "$TEST_TMP/m3/files/blob" || fail "the file reads differently on m3"

# flock -x on m1 holds off flock -x on m2 until it is released.
touch "$TEST_TMP/m1/files/lock"
flock -x "$TEST_TMP/m1/files/lock" -c "echo held >$TEST_TMP/held; sleep 1.5" &
holder=$!
wait_until 5 test -e "$TEST_TMP/held" || fail "m1 did not get the lock"
start=$(date +%s%N)
timeout 10 flock -x "$TEST_TMP/m2/files/lock" -c true || fail "m2 did not get the lock"
waited=$((($(date +%s%N) - start) / 1000000))
wait "$holder"
((waited >= 1000)) || fail "flock -x on m2 got the lock after $waited ms while m1 held it"

wait_same_state m1 m2 m3 >/dev/null
