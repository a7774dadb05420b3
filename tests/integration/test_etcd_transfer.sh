#!/usr/bin/env bash
# Transfers across three mounts of one etcd cluster (SPEC 7): 2 writers
# per mount move units between A and B, each move one ctl batch
# (`SUB A n\nADD B n`), while a reader on each mount reads mnt/registers,
# one open and one read to end of file per snapshot: every snapshot holds
# the 26 registers and A+B = 2000.  At the end A is 1000 less what the
# writers moved from A to B, on every mount, and every mount shows the same
# digest at the same position.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

start_etcd
for m in m1 m2 m3; do start_mount $m --quiet; done

MNT=$TEST_TMP/m1 ctl_call $'SET A 1000\nSET B 1000'
assert_eq OK "$CTL_STATUS" "setting up"
done_flag=$TEST_TMP/writers.done

# writer.py CTL SEED: 200 moves; prints how many units it moved from A to B
# in all (negative: from B to A).
cat >"$TEST_TMP/writer.py" <<'PY'
import os, random, sys
ctl, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
net = 0
for i in range(200):
    n = rnd.randint(1, 9)
    src, dst = rnd.choice([("A", "B"), ("B", "A")])
    fd = os.open(ctl, os.O_WRONLY)
    try:
        os.write(fd, ("SUB %s %d\nADD %s %d\n" % (src, n, dst, n)).encode())
    finally:
        os.close(fd)
    net += n if src == "A" else -n
print(net)
PY
cat >"$TEST_TMP/reader.py" <<'PY'
import os, sys
path, done = sys.argv[1], sys.argv[2]
reads = 0
while not os.path.exists(done) or reads < 20:
    fd = os.open(path, os.O_RDONLY)
    data = os.read(fd, 65536)
    rest = os.read(fd, 65536)
    os.close(fd)
    if rest:
        sys.exit("one read did not give the whole snapshot: %r then %r" % (data, rest))
    lines = data.decode().splitlines()
    regs = dict(line.split(" ") for line in lines)
    if len(lines) != 26 or sorted(regs) != [chr(c) for c in range(65, 91)]:
        sys.exit("bad snapshot %r" % data)
    if int(regs["A"]) + int(regs["B"]) != 2000:
        sys.exit("A + B = %d in snapshot %r" % (int(regs["A"]) + int(regs["B"]), data))
    reads += 1
print(reads)
PY

readers=() writers=() outs=()
start=$(date +%s%N)
for m in m1 m2 m3; do
	timeout 100 "$PYTHON" "$TEST_TMP/reader.py" "$TEST_TMP/$m/registers" "$done_flag" \
		>"$TEST_TMP/r-$m" 2>&1 &
	readers+=($!)
	for w in 1 2; do
		timeout 100 "$PYTHON" "$TEST_TMP/writer.py" "$TEST_TMP/$m/ctl" "${#writers[@]}" \
			>"$TEST_TMP/w-$m-$w" 2>&1 &
		writers+=($!)
		outs+=("$TEST_TMP/w-$m-$w")
	done
done
for i in "${!writers[@]}"; do
	wait "${writers[i]}" || fail "writer ${outs[i]##*/}: $(cat "${outs[i]}")"
done
ms=$((($(date +%s%N) - start) / 1000000))
touch "$done_flag"
i=0
for m in m1 m2 m3; do
	wait "${readers[i]}" || fail "reader on $m: $(cat "$TEST_TMP/r-$m")"
	i=$((i + 1))
done

moved=0
for o in "${outs[@]}"; do
	moved=$((moved + $(cat "$o")))
done
for m in m1 m2 m3; do
	assert_bytes "$TEST_TMP/$m/A" "$((1000 - moved))"$'\n'
	assert_bytes "$TEST_TMP/$m/B" "$((1000 + moved))"$'\n'
done
wait_same_state m1 m2 m3 >/dev/null
echo "transfers: 1200 batches from 3 mounts in $ms ms ($((1200 * 1000 / ms))/s);" \
	"snapshots read per mount: $(cat "$TEST_TMP"/r-m? | tr '\n' ' ')"
for m in m1 m2 m3; do
	stop_rwfs $m || fail "$m: exit status $? after the unmount"
done
