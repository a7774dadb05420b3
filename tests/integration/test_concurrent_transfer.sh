#!/usr/bin/env bash
# Two writers move units between A and B in batches (`SUB A 3\nADD B 3`)
# while readers read mnt/registers: A+B never changes, and every snapshot
# holds the 26 registers.
. "$(dirname "$0")/lib.sh"

ctl_call $'SET A 1000\nSET B 1000'
assert_eq OK "$CTL_STATUS" "setting up"
done_flag=$TEST_TMP/writers.done

cat >"$TEST_TMP/writer.py" <<'PY'
import os, random, sys
ctl, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
for i in range(300):
    n = rnd.randint(1, 9)
    src, dst = rnd.choice([("A", "B"), ("B", "A")])
    batch = "SUB %s %d\nADD %s %d\n" % (src, n, dst, n)
    fd = os.open(ctl, os.O_WRONLY)
    try:
        os.write(fd, batch.encode())
    finally:
        os.close(fd)
PY
cat >"$TEST_TMP/reader.py" <<'PY'
import os, sys
path, done = sys.argv[1], sys.argv[2]
reads = 0
while not os.path.exists(done) or reads < 20:
    fd = os.open(path, os.O_RDONLY)
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    lines = data.decode().splitlines()
    regs = dict(line.split(" ") for line in lines)
    if len(lines) != 26 or sorted(regs) != [chr(c) for c in range(65, 91)]:
        sys.exit("bad snapshot %r" % data)
    if int(regs["A"]) + int(regs["B"]) != 2000:
        sys.exit("A + B = %d in snapshot %r" % (int(regs["A"]) + int(regs["B"]), data))
    reads += 1
print(reads)
PY

for r in 1 2 3; do
	timeout 60 "$PYTHON" "$TEST_TMP/reader.py" "$MNT/registers" "$done_flag" >"$TEST_TMP/r$r" 2>&1 &
	readers[r]=$!
done
for w in 1 2; do
	timeout 60 "$PYTHON" "$TEST_TMP/writer.py" "$MNT/ctl" "$w" >"$TEST_TMP/w$w" 2>&1 &
	writers[w]=$!
done
for w in 1 2; do
	wait "${writers[w]}" || fail "writer $w: $(cat "$TEST_TMP/w$w")"
done
touch "$done_flag"
for r in 1 2 3; do
	wait "${readers[r]}" || fail "reader $r: $(cat "$TEST_TMP/r$r")"
done
assert_eq 2000 $(($(value "$MNT/A") + $(value "$MNT/B"))) "A + B at the end"
