#!/usr/bin/env bash
# The shop across three mounts of one etcd cluster (SPEC 7): each mount
# starts with the same --inventory (20 plums), which seeds the stock once,
# not once per mount.  12 buyers, 4 per mount, each logged in on its own
# mount, start together (a barrier) and buy 1 plum at a time until told
# "insufficient stock: 2001 has 0": exactly 20 purchases succeed overall,
# their "N left" replies are 19..0 once each, the stock ends at 0 on every
# mount and every mount shows the same digest.  A token from m1 is a
# session on m3 at once (30 rounds of login on m1, whoami and logout on
# m3); a fourth mount started with the same --inventory after the
# sell-out does not bring the stock back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

stock=20
printf 'upc,name,count\n2001,plum,%d\n' "$stock" >"$TEST_TMP/stock.csv"
start_etcd
for m in m1 m2 m3; do start_mount $m --quiet --inventory="$TEST_TMP/stock.csv"; done
for m in m1 m2 m3; do
	assert_bytes "$TEST_TMP/$m/inventory" "2001 plum $stock"$'\n'
done

timeout 60 "$PYTHON" - "$stock" "$TEST_TMP"/m1 "$TEST_TMP"/m2 "$TEST_TMP"/m3 <<'PY' || fail "oversold, undersold or a buyer went wrong"
import multiprocessing as mp
import os, re, sys

from shopio import request as call

stock = int(sys.argv[1])
mounts = sys.argv[2:]
PER_MOUNT = 4
USERS = [("alice", "wonderland"), ("bob", "builder")]
BOUGHT = re.compile(rb"ok bought 1 plum \(2001\), (\d+) left\n")
REFUSED = re.compile(rb"error insufficient stock: 2001 has (\d+)\n")


def login(mount, i):
    user, password = USERS[i % 2]
    reply = call(os.path.join(mount, "shop"), "login %s %s\n" % (user, password))
    m = re.fullmatch(rb"ok ([0-9a-f]{32})\n", reply)
    if not m:
        raise RuntimeError("login on %s: %r" % (mount, reply))
    return m.group(1).decode()


def buyer(i, mount, barrier, results):
    try:
        fd = os.open(os.path.join(mount, "shop"), os.O_RDWR)
        token = login(mount, i)
        barrier.wait(timeout=20)
        lefts = []
        while True:
            reply = call(fd, "buy %s 2001 1\n" % token)
            m = BOUGHT.fullmatch(reply)
            if m:
                lefts.append(int(m.group(1)))
                continue
            m = REFUSED.fullmatch(reply)
            if m and m.group(1) == b"0":
                break
            raise RuntimeError("unexpected reply %r" % reply)
        results.put(("done", i, mount, lefts))
    except Exception as e:
        barrier.abort()
        results.put(("error", i, mount, repr(e)))


buyers = [(i, mounts[i % len(mounts)]) for i in range(PER_MOUNT * len(mounts))]
barrier = mp.Barrier(len(buyers))
results = mp.Queue()
procs = [mp.Process(target=buyer, args=(i, m, barrier, results)) for i, m in buyers]
for p in procs:
    p.start()
got = [results.get(timeout=50) for _ in procs]
for p in procs:
    p.join(10)
bad = [r for r in got if r[0] != "done"]
for r in bad:
    print("buyer %d on %s: %s" % r[1:])
lefts = sorted(l for r in got if r[0] == "done" for l in r[3])
per_mount = {m: sum(len(r[3]) for r in got if r[0] == "done" and r[2] == m) for m in mounts}
print("%d purchases (%s)" % (len(lefts), ", ".join("%s %d" % (os.path.basename(m), n) for m, n in per_mount.items())))
if lefts != list(range(stock)):
    print("the 'N left' replies are not %d..0 once each: %s" % (stock - 1, lefts))
    sys.exit(1)

# A token from m1 is a session on m3 at once, as linearizable as a
# register: whoami right after each of 30 logins, then a logout on m3.
for round in range(30):
    token = login(mounts[0], 0)
    reply = call(os.path.join(mounts[2], "shop"), "whoami %s\n" % token)
    if reply != b"ok alice\n":
        print("round %d: whoami on m3 with m1's token: %r" % (round, reply))
        sys.exit(1)
    reply = call(os.path.join(mounts[2], "shop"), "logout %s\n" % token)
    if not reply.startswith(b"ok"):
        print("round %d: logout on m3 of m1's login: %r" % (round, reply))
        sys.exit(1)
sys.exit(1 if bad else 0)
PY

for m in m1 m2 m3; do
	assert_bytes "$TEST_TMP/$m/inventory" $'2001 plum 0\n'
done
start_mount m4 --quiet --inventory="$TEST_TMP/stock.csv"
for m in m4 m1; do
	assert_bytes "$TEST_TMP/$m/inventory" $'2001 plum 0\n'
done
wait_same_state m1 m2 m3 m4 >/dev/null
for m in m1 m2 m3 m4; do
	stop_rwfs $m || fail "$m: exit status $? after the unmount"
done
