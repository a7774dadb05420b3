#!/usr/bin/env bash
# kill -9 of the daemon under load: 4 producers each push their own numbered
# items (one write each, counting the acknowledged ones) and 2 consumers pop
# (recording what they got) on one queue; the daemon is killed mid-load and
# restarted, and the queue drained.  Every acknowledged item appears exactly
# once across consumed and drained, in each producer's order, and none is
# lost.  Allowed: per producer one more item (journaled, its acknowledgement
# lost in the kill), and per consumer its last item once more in the drain
# (its reply delivered, the daemon killed before the acknowledgement reached
# the journal: the restart gives a held item back rather than lose it).
# The counts are printed.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
start_rwfs d --state="$state"
D=$TEST_TMP/d
touch "$D/queues/load" || fail "touch"

for p in 0 1 2 3; do
	timeout 30 "$PYTHON" - "$D/queues/load" "$p" >"$TEST_TMP/acked.$p" 2>&1 <<'PY' &
import os, sys
path, me = sys.argv[1], int(sys.argv[2])
acked = 0
try:
    fd = os.open(path, os.O_WRONLY)
    while acked < 1000000:
        os.write(fd, b"p%d-%d\n" % (me, acked))
        acked += 1
except OSError:
    pass
print(acked)
PY
	producers+=($!)
done
for c in 0 1; do
	timeout 30 "$PYTHON" - "$D/queues/load" >"$TEST_TMP/consumed.$c" 2>&1 <<'PY' &
import os, sys, time
got = []
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    while True:
        item = os.read(fd, 100)
        if not item:
            break
        got.append(item)
        if len(got) % 4 == 0:
            time.sleep(0.001) # slower than the producers: the queue fills up
except OSError:
    pass
sys.stdout.buffer.write(b"".join(got))
PY
	consumers+=($!)
done
sleep 1.5
kill -KILL "$DAEMON_PID"
for pid in "${producers[@]}" "${consumers[@]}"; do
	wait "$pid" || fail "a client did not end after the kill (status $?)"
done
wait_until 5 eval "! is_running $DAEMON_PID" || fail "the daemon survived kill -9"
unmount "$D" || fail "cannot unmount the dead mount"

start_rwfs d --state="$state"
timeout 20 "$PYTHON" - "$D/queues/load" >"$TEST_TMP/drained" <<'PY' || fail "drain failed"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
out = []
while True:
    try:
        item = os.read(fd, 100)
    except BlockingIOError:
        break
    if not item:
        break
    out.append(item)
sys.stdout.buffer.write(b"".join(out))
PY

timeout 20 "$PYTHON" - "$TEST_TMP" <<'PY' || fail "the items do not add up"
import collections, os, re, sys

tmp = sys.argv[1]
P, C = 4, 2

def items(name):
    with open(os.path.join(tmp, name), "rb") as f:
        lines = f.read().split(b"\n")
    if lines[-1] != b"":
        sys.exit("%s: not whole lines: %r" % (name, lines[-1][:40]))
    out = []
    for line in lines[:-1]:
        m = re.fullmatch(rb"p(\d)-(\d+)", line)
        if not m:
            sys.exit("%s: bad item %r" % (name, line))
        out.append((int(m.group(1)), int(m.group(2))))
    return out

acked = [int(open(os.path.join(tmp, "acked.%d" % p)).read()) for p in range(P)]
consumed = [items("consumed.%d" % c) for c in range(C)]
drained = items("drained")
everything = [i for c in consumed for i in c] + drained
dups = [i for i, n in collections.Counter(everything).items() if n > 1]
at_kill = [i for i in dups if i in drained and any(c and c[-1] == i for c in consumed)
           and everything.count(i) == 2]
if len(dups) != len(at_kill):
    sys.exit("delivered twice: %r" % [i for i in dups if i not in at_kill][:10])
drained_once = [i for i in drained if i not in at_kill]

def in_order(seq, what):
    last = [-1] * P
    for p, n in seq:
        if n <= last[p]:
            sys.exit("%s: p%d-%d after p%d-%d" % (what, p, n, p, last[p]))
        last[p] = n

for c in range(C):
    in_order(consumed[c], "consumer %d" % c)
in_order(drained_once, "drained")

present = collections.defaultdict(set)
for p, n in everything:
    present[p].add(n)
extra = lost = 0
for p in range(P):
    if acked[p] < 20:
        sys.exit("producer %d had only %d writes acknowledged before the kill" % (p, acked[p]))
    beyond = sorted(n for n in present[p] if n >= acked[p])
    if beyond and beyond != [acked[p]]:
        sys.exit("producer %d: %d acknowledged, but items %r are there" % (p, acked[p], beyond))
    extra += len(beyond)
    missing = [n for n in range(acked[p]) if n not in present[p]]
    lost += len(missing)
    # What the consumers took was ahead of what stayed queued.
    taken = [n for c in consumed for q, n in c if q == p]
    left = [n for q, n in drained_once if q == p]
    if taken and left and max(taken) > min(left):
        sys.exit("producer %d: p%d-%d consumed but p%d-%d still queued" % (p, p, max(taken), p, min(left)))
    if missing:
        print("producer %d: acknowledged but gone: %r" % (p, missing))
if lost:
    sys.exit("%d acknowledged items lost" % lost)
if sum(len(c) for c in consumed) < 20:
    sys.exit("the consumers took only %d items before the kill" % sum(len(c) for c in consumed))
print("acknowledged %d, consumed %d, drained %d; unacknowledged but kept: %d; "
      "delivered before the kill and again after: %d" % (sum(acked), sum(len(c) for c in consumed),
                                          len(drained), extra, len(at_kill)))
PY
