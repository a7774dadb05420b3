#!/usr/bin/env bash
# A queue shared by three mounts of one etcd cluster (SPEC 7): 7 producers
# (tools/producer --records, 3 on m1, 2 on m2, 2 on m3) and 3 consumers
# (tools/consumer --out, one per mount) move every item exactly once: once
# the producers are done the queue is sealed, the consumers drain it and
# stop at its end, and every (producer, seq) is found in their files once,
# none missing, none twice.  Then the queue is empty on every mount and
# every mount shows the same digest at the same position.
# By default 7 x 300 items; ETCD_FULL=1: 7 x 2000.  Prints the items/s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etcd_lib.sh"

# The tools under test: $TOOLS (the Makefile points it at a sanitizer
# build for the second run), else the plain build.
tools=${TOOLS:-$ROOT/tools}

items=300
[[ "${ETCD_FULL:-}" == 1 ]] && items=2000
limit=$((items / 5 + 60))

start_etcd
for m in m1 m2 m3; do start_mount $m --quiet; done
touch "$TEST_TMP/m1/queues/jobs" || fail "cannot make the queue on m1"
for m in m2 m3; do
	wait_until 5 test -e "$TEST_TMP/$m/queues/jobs" || fail "the queue made on m1 is not on $m"
done

start=$(date +%s%N)
consumers=()
for c in 1 2 3; do
	timeout "$limit" "$tools/consumer" --mount "$TEST_TMP/m$c" --id "$c" --timeout 30 \
		--out "$TEST_TMP/out$c" jobs 2>"$TEST_TMP/c$c.msg" &
	consumers+=($!)
done
producers=()
for p in 1 2 3 4 5 6 7; do
	m=m$((p % 3 + 1))
	timeout "$limit" "$tools/producer" --mount "$TEST_TMP/$m" --records --id "$p" \
		--count "$items" jobs 2>"$TEST_TMP/p$p.msg" &
	producers+=($!)
done
for p in 1 2 3 4 5 6 7; do
	wait "${producers[p - 1]}" || fail "producer $p (status $?): $(cat "$TEST_TMP/p$p.msg")"
done
setfattr -n user.seal -v jobs "$TEST_TMP/m2/queues" || fail "cannot seal the queue on m2"
for c in 1 2 3; do
	wait "${consumers[c - 1]}" || fail "consumer $c (status $?): $(cat "$TEST_TMP/c$c.msg")"
	grep -q "sealed and empty" "$TEST_TMP/c$c.msg" ||
		fail "consumer $c did not stop at the end of the queue: $(cat "$TEST_TMP/c$c.msg")"
done
ms=$((($(date +%s%N) - start) / 1000000))

"$PYTHON" - "$items" "$TEST_TMP"/out1 "$TEST_TMP"/out2 "$TEST_TMP"/out3 <<'PY' || fail "items lost or delivered twice"
import collections, re, sys
items = int(sys.argv[1])
seen = collections.Counter()
per = []
for path in sys.argv[2:]:
    n = 0
    for line in open(path):
        m = re.match(r"reading producer=(\d+) sensor=\d+ seq=(\d+) ", line)
        if not m:
            sys.exit("%s: not a reading: %r" % (path, line))
        seen[int(m.group(1)), int(m.group(2))] += 1
        n += 1
    per.append(n)
want = {(p, s) for p in range(1, 8) for s in range(1, items + 1)}
lost = sorted(want - set(seen))
twice = sorted(k for k, n in seen.items() if n > 1)
alien = sorted(set(seen) - want)
for what, keys in (("lost", lost), ("delivered twice", twice), ("never produced", alien)):
    if keys:
        print("%d items %s, first %s" % (len(keys), what, keys[:5]))
print("consumed per consumer: %s" % per)
sys.exit(1 if lost or twice or alien else 0)
PY
for m in m1 m2 m3; do
	assert_eq 0 "$(getfattr --absolute-names --only-values -n user.bytes "$TEST_TMP/$m/queues/jobs" 2>&1)" "bytes left in the queue on $m"
done
wait_same_state m1 m2 m3 >/dev/null
echo "queue: $((7 * items)) items through 3 mounts in $ms ms, $((7 * items * 1000 / ms)) items/s"
for m in m1 m2 m3; do
	stop_rwfs $m || fail "$m: exit status $? after the unmount"
done
