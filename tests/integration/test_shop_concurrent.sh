#!/usr/bin/env bash
# Concurrent buyers are never oversold.  8 processes, each with its own
# session, start together (a barrier) and buy until refused:
#   - 1 unit at a time of the 5 units of 1003 (demo stock): exactly 5
#     purchases succeed, everyone else is told "insufficient stock";
#   - 1- and 2-unit purchases mixed, on a fresh daemon seeded with 5 units:
#     exactly 5 units are sold;
#   - 1 to 3 units at random out of 1000.
# Every "ok bought Q NAME (UPC), LEFT left" reply must fit one sequence
# (sorted by LEFT, each is the one before minus its Q), the stock ends at 0
# and a reader of mnt/inventory running alongside never sees it negative
# or going up.
. "$(dirname "$0")/lib.sh"

# race SHOP INVENTORY UPC INITIAL MODE: MODE one (1 unit), mixed (half the
# buyers 2 units, then 1 when 2 is refused), random (1-3 units).
race() {
	timeout 40 "$PYTHON" - "$@" <<'PY'
import multiprocessing as mp
import os, random, re, sys, time

shop, inventory, upc, initial, mode = sys.argv[1:6]
upc, initial = int(upc), int(initial)
BUYERS = 8
USERS = [("alice", "wonderland"), ("bob", "builder")]
BOUGHT = re.compile(rb"ok bought (\d+) \S+ \(%d\), (-?\d+) left\n" % upc)
REFUSED = re.compile(rb"error insufficient stock: %d has (\d+)\n" % upc)


from shopio import request as call


def buyer(i, barrier, results):
    rng = random.Random(i)
    fd = os.open(shop, os.O_RDWR)
    user, password = USERS[i % 2]
    reply = call(fd, "login %s %s\n" % (user, password))
    m = re.fullmatch(rb"ok ([0-9a-f]{32})\n", reply)
    if not m:
        results.put(("error", i, "login: %r" % reply))
        barrier.abort()
        return
    token = m.group(1).decode()
    try:
        barrier.wait(timeout=20)
    except Exception as e:
        results.put(("error", i, "barrier: %r" % e))
        return
    sales, refusals = [], []
    qty = 2 if mode == "mixed" and i % 2 else 1
    while True:
        if mode == "random":
            qty = rng.randint(1, 3)
        reply = call(fd, "buy %s %d %d\n" % (token, upc, qty))
        m = BOUGHT.fullmatch(reply)
        if m:
            if int(m.group(1)) != qty:
                results.put(("error", i, "asked %d, reply %r" % (qty, reply)))
                return
            sales.append((qty, int(m.group(2))))
            continue
        m = REFUSED.fullmatch(reply)
        if not m:
            results.put(("error", i, "unexpected reply %r" % reply))
            return
        left = int(m.group(1))
        refusals.append((qty, left))
        if left >= qty:
            results.put(("error", i, "refused %d with %d in stock: %r" % (qty, left, reply)))
            return
        if left == 0:
            break
        if mode == "one" or (mode == "mixed" and qty == 1):
            results.put(("error", i, "refused 1 unit with %d left" % left))
            return
        qty = 1 if mode == "mixed" else qty  # random: try again with another qty
    os.close(fd)
    results.put(("done", i, sales, refusals))


def counts():
    with open(inventory, "rb") as f:
        text = f.read()
    for line in text.splitlines():
        fields = line.split(b" ")
        if int(fields[0]) == upc:
            return int(fields[-1])
    raise RuntimeError("no %d in mnt/inventory: %r" % (upc, text))


def watcher(stop, results):
    seen, last = 0, initial
    while not stop.is_set():
        n = counts()
        seen += 1
        if n < 0 or n > last:
            results.put(("error", "watcher", "inventory showed %d after %d" % (n, last)))
            return
        last = n
    results.put(("watched", seen))


if counts() != initial:
    sys.exit("FAIL: %d does not start at %d but at %d" % (upc, initial, counts()))
barrier = mp.Barrier(BUYERS)
results, stop = mp.Queue(), mp.Event()
watch = mp.Process(target=watcher, args=(stop, results))
watch.start()
procs = [mp.Process(target=buyer, args=(i, barrier, results)) for i in range(BUYERS)]
for p in procs:
    p.start()
done, errors, watched = [], [], None
while len(done) + len(errors) < BUYERS:
    r = results.get(timeout=30)
    if r[0] == "done":
        done.append(r)
    elif r[0] == "error":
        errors.append(r)
    else:
        watched = r
stop.set()
r = results.get(timeout=10)
if r[0] == "error":
    errors.append(r)
else:
    watched = r
for p in procs + [watch]:
    p.join(10)
for e in errors:
    print("FAIL: buyer %s: %s" % (e[1], e[2]))
sales = sorted((s for d in done for s in d[2]), key=lambda s: -s[1])
units = sum(q for q, _ in sales)
stock = initial
for qty, left in sales:
    if left != stock - qty:
        print("FAIL: sales do not fit one sequence: after %d left, a sale of %d left %d (%s)"
              % (stock, qty, left, sales))
        errors.append(1)
        break
    stock = left
if units != initial:
    print("FAIL: %d units sold, expected exactly %d" % (units, initial))
    errors.append(1)
if counts() != 0:
    print("FAIL: stock ends at %d, expected 0" % counts())
    errors.append(1)
print("%s: %d purchases, %d units, %d inventory reads alongside"
      % (mode, len(sales), units, watched[1] if watched else -1))
sys.exit(1 if errors else 0)
PY
}

# The demo's 5 cherries, 1 unit at a time: exactly 5 purchases.
out=$(race "$MNT/shop" "$MNT/inventory" 1003 5 one) || fail "race for 1003: $out"
assert_contains "$out" "one: 5 purchases, 5 units" "race for 1003"
assert_bytes "$MNT/inventory" $'1001 apple 10\n1002 banana 20\n1003 cherry 0\n'
wait_until 5 grep -q 'shop buy 1003 1 -> ok bought 1 cherry (1003), 0 left' "$RWFS_LOG"
assert_eq 5 "$(grep -c 'shop buy 1003 1 -> ok bought 1 cherry (1003)' "$RWFS_LOG")" \
	"purchases in the event log"

# A fresh daemon seeded with 5 cherries and 1000 plums: 1- and 2-unit
# purchases mixed, then random quantities.
mkdir "$TEST_TMP/state"
printf 'upc,name,count\n1003,cherry,5\n2001,plum,1000\n' >"$TEST_TMP/stock.csv"
start_rwfs d --state="$TEST_TMP/state" --inventory="$TEST_TMP/stock.csv"
out=$(race "$TEST_TMP/d/shop" "$TEST_TMP/d/inventory" 1003 5 mixed) || fail "mixed race: $out"
assert_contains "$out" "units, " "mixed race"
out=$(race "$TEST_TMP/d/shop" "$TEST_TMP/d/inventory" 2001 1000 random) || fail "random race: $out"
assert_bytes "$TEST_TMP/d/inventory" $'1003 cherry 0\n2001 plum 0\n'

# What was sold is what a restart restores.
stop_rwfs d || fail "daemon exit status after the races"
start_rwfs d --state="$TEST_TMP/state" --inventory="$TEST_TMP/stock.csv"
assert_bytes "$TEST_TMP/d/inventory" $'1003 cherry 0\n2001 plum 0\n'
