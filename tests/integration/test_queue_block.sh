#!/usr/bin/env bash
# Blocking: a read of an empty queue waits for an item, a write waits until
# there is room for all of its items (none enters before), parked readers
# are served in arrival order, one write feeds several readers, a parked
# reader whose buffer is too small gets EMSGSIZE and the item stays, and a
# producer and a consumer go through a small queue in order.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# --- a reader waits for an item ------------------------------------------------

touch "$Q/q"
qio_bg "$TEST_TMP/r0" r "$Q/q"
r0=$BG
wait_until 10 waiting_is q 1 0 || fail "the reader did not wait"
sleep 0.5
is_running "$r0" || fail "the read of an empty queue returned: $(cat "$TEST_TMP/r0")"
start=$(date +%s%N)
echo wake >"$Q/q" || fail "echo wake"
wait "$r0" || fail "the reader failed"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "b'wake\n'" "$(cat "$TEST_TMP/r0")" "what the blocked reader got"
((elapsed_ms < 2000)) || fail "the reader took $elapsed_ms ms to wake"
waiting_is q 0 0 || fail "a reader still counted as waiting"

# --- arrival order, one write for many readers ----------------------------------

park_readers q 5
assert_eq OK "$(qio w "$Q/q" 'b"i1\ni2\ni3"')" "three items for five readers"
for i in 1 2 3; do
	wait "${READERS[i]}" || fail "reader $i failed"
	assert_eq "b'i$i\n'" "$(cat "$TEST_TMP/reader.$i")" "reader $i (arrival order)"
done
wait_until 10 waiting_is q 2 0 || fail "readers 4 and 5 are not waiting"
is_running "${READERS[4]}" && is_running "${READERS[5]}" || fail "reader 4 or 5 returned without an item"
assert_eq 0 "$(stat_value queue.q.depth)" "depth with readers waiting"
assert_eq OK "$(qio w "$Q/q" 'b"i4\ni5\ni6\n"')" "three items for two readers"
for i in 4 5; do
	wait "${READERS[i]}" || fail "reader $i failed"
	assert_eq "b'i$i\n'" "$(cat "$TEST_TMP/reader.$i")" "reader $i (arrival order)"
done
assert_eq $'b\'i6\\n\'\nEAGAIN' "$(qio drain "$Q/q")" "the item left over"

# --- a parked reader with a small buffer ---------------------------------------

qio_bg "$TEST_TMP/small" r "$Q/q" 4
small=$BG
wait_until 10 waiting_is q 1 0 || fail "the small reader did not wait"
qio_bg "$TEST_TMP/big" r "$Q/q" 100
big=$BG
wait_until 10 waiting_is q 2 0 || fail "the big reader did not wait"
assert_eq OK "$(qio w "$Q/q" 'b"too long"')" "an item of 8 bytes"
wait "$small" || fail "the small reader failed"
assert_eq EMSGSIZE "$(cat "$TEST_TMP/small")" "a parked read(4) of an 8-byte item"
wait "$big" || fail "the big reader failed"
assert_eq "b'too long\n'" "$(cat "$TEST_TMP/big")" "the next reader gets the item"
assert_eq 0 "$(stat_value queue.q.depth)" "depth"

# --- a writer waits for room for all of its items ------------------------------

touch "$Q/w"
setfattr -n user.capacity -v 3 "$Q/w" || fail "setfattr"
assert_eq OK "$(qio w "$Q/w" 'b"a\nb"')" "two items of three"
qio_bg "$TEST_TMP/writer" w "$Q/w" 'b"c\nd\n"'
writer=$BG
wait_until 10 waiting_is w 0 1 || fail "the writer of two items did not wait with room for one"
sleep 0.5
is_running "$writer" || fail "the writer returned: $(cat "$TEST_TMP/writer")"
assert_eq 2 "$(stat_value queue.w.depth)" "depth while the writer waits (nothing of it entered)"
assert_eq "b'a\n'" "$(qio r "$Q/w")" "pop a"
wait "$writer" || fail "the writer failed"
assert_eq OK "$(cat "$TEST_TMP/writer")" "the writer after room was made"
assert_eq $'b\'b\\n\'\nb\'c\\n\'\nb\'d\\n\'\nEAGAIN' "$(qio drain "$Q/w")" "contents"

# --- producer and consumer through a queue of 5 ---------------------------------

touch "$Q/pc"
setfattr -n user.capacity -v 5 "$Q/pc" || fail "setfattr pc"
timeout 30 "$PYTHON" - "$Q/pc" >"$TEST_TMP/consumer" 2>&1 <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(500):
    item = os.read(fd, 100)
    if item != b"item %d\n" % i:
        sys.exit("item %d: got %r" % (i, item))
print("consumed 500")
PY
consumer=$!
timeout 30 "$PYTHON" - "$Q/pc" >"$TEST_TMP/producer" 2>&1 <<'PY' || fail "producer: $(cat "$TEST_TMP/producer")"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
i = 0
while i < 500:
    n = 1 + i % 4 if i + 1 + i % 4 <= 500 else 500 - i
    os.write(fd, b"".join(b"item %d\n" % k for k in range(i, i + n)))
    i += n
print("produced 500")
PY
wait "$consumer" || fail "consumer: $(cat "$TEST_TMP/consumer")"
assert_eq "consumed 500" "$(cat "$TEST_TMP/consumer")" "the consumer"
assert_eq 500 "$(stat_value queue.pc.in)" "queue.pc.in"
assert_eq 500 "$(stat_value queue.pc.out)" "queue.pc.out"
assert_eq 0 "$(stat_value queue.pc.depth)" "queue.pc.depth"
