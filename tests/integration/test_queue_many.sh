#!/usr/bin/env bash
# Waiting readers and writers hold no daemon worker thread: with 50 readers
# blocked on one queue and 30 writers blocked on 30 full queues (libfuse
# runs at most 10 workers by default), other operations complete promptly;
# then 50 items go to the 50 readers, exactly one each, all distinct, and
# room made in each full queue lets its writer in.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

readers=50
writers=30

touch "$Q/jobs"
for ((i = 0; i < readers; i++)); do
	timeout 40 dd if="$Q/jobs" of="$TEST_TMP/got.$i" bs=64k count=1 status=none 2>"$TEST_TMP/dd.$i" &
	rpids[i]=$!
done
for ((i = 0; i < writers; i++)); do
	touch "$Q/full$i"
	setfattr -n user.capacity -v 1 "$Q/full$i" || fail "setfattr full$i"
	assert_eq OK "$(qio w "$Q/full$i" "b'first $i'")" "fill full$i"
	qio_bg "$TEST_TMP/writer.$i" w "$Q/full$i" "b'second $i'"
	wpids[i]=$BG
done
wait_until 20 stat_is queue.jobs.readers_waiting "$readers" ||
	fail "queue.jobs.readers_waiting is $(stat_value queue.jobs.readers_waiting), not $readers"
all_writers_wait() {
	local i
	for ((i = 0; i < writers; i++)); do
		stat_is "queue.full$i.writers_waiting" 1 || return 1
	done
}
wait_until 20 all_writers_wait || fail "not every writer is waiting"

# Everything else still works, promptly.
start=$(date +%s%N)
assert_eq 0 "$(value "$MNT/A")" "cat mnt/A with $readers readers and $writers writers waiting"
echo 5 >"$MNT/B" || fail "echo 5 > mnt/B"
touch "$Q/other" || fail "touch another queue"
assert_eq OK "$(qio w "$Q/other" 'b"o1\no2"')" "a producer on another queue"
assert_eq "b'o1\n'" "$(qio r "$Q/other")" "a consumer on another queue"
ls -l "$Q" >/dev/null || fail "ls -l mnt/queues"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
((elapsed_ms < 5000)) || fail "other operations took $elapsed_ms ms with requests waiting"

# 50 items, one write each, from one producer: one per reader.
timeout 20 "$PYTHON" - "$Q/jobs" <<'PY' || fail "the producer failed"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in range(50):
    os.write(fd, b"job %02d\n" % i)
PY
for ((i = 0; i < readers; i++)); do
	wait "${rpids[i]}" || fail "reader $i failed (status $?): $(cat "$TEST_TMP/dd.$i")"
done
got=$(cat "$TEST_TMP"/got.* | sort)
assert_eq "$(for i in $(seq -w 0 49); do echo "job $i"; done)" "$got" "the items the 50 readers got"
for ((i = 0; i < readers; i++)); do
	assert_eq 1 "$(wc -l <"$TEST_TMP/got.$i")" "items that reader $i got"
done
assert_eq 0 "$(stat_value queue.jobs.depth)" "queue.jobs.depth"
assert_eq 0 "$(stat_value queue.jobs.readers_waiting)" "queue.jobs.readers_waiting"
assert_eq 50 "$(stat_value queue.jobs.out)" "queue.jobs.out"

# Room in each full queue lets its writer in.
for ((i = 0; i < writers; i++)); do
	assert_eq "b'first $i\n'" "$(qio r "$Q/full$i")" "pop of full$i"
done
for ((i = 0; i < writers; i++)); do
	wait "${wpids[i]}" || fail "writer $i failed"
	assert_eq OK "$(cat "$TEST_TMP/writer.$i")" "writer $i"
	assert_eq "b'second $i\n'" "$(qio r "$Q/full$i" --nb)" "the item of writer $i"
done
