#!/usr/bin/env bash
# mnt/stats shows each queue with exact values: depth, capacity, bytes,
# items in and out, the seal, and the readers and writers waiting while
# processes block; user.bytes shows the bytes waiting (stat the fixed size).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# Queues get the mode their maker asks, less its umask.
umask 022

# expect_queue NAME DEPTH CAPACITY BYTES IN OUT SEALED READERS WRITERS
expect_queue() {
	local want got
	want=$(printf 'queue.%s.depth %s\nqueue.%s.capacity %s\nqueue.%s.bytes %s\nqueue.%s.in %s\nqueue.%s.out %s\nqueue.%s.sealed %s\nqueue.%s.readers_waiting %s\nqueue.%s.writers_waiting %s' \
		"$1" "$2" "$1" "$3" "$1" "$4" "$1" "$5" "$1" "$6" "$1" "$7" "$1" "$8" "$1" "$9")
	got=$(timeout 10 grep -F "queue.$1." "$MNT/stats")
	assert_eq "$want" "$got" "mnt/stats lines of queue $1"
	assert_eq "$4" "$(qbytes "$Q/$1")" "user.bytes of queue $1"
	assert_eq 1048576 "$(stat -c %s "$Q/$1")" "ls -l size of queue $1"
}

assert_not_contains "$(cat "$MNT/stats")" "queue." "mnt/stats without queues"
touch "$Q/s"
expect_queue s 0 100 0 0 0 0 0 0
assert_eq OK "$(qio w "$Q/s" 'b"ab\n\ncde"')" "a write of three items"
expect_queue s 3 100 8 3 0 0 0 0
assert_eq EMSGSIZE "$(qio r "$Q/s" 2)" "read(2) of 'ab'"
expect_queue s 3 100 8 3 0 0 0 0
assert_eq "b'ab\n'" "$(qio r "$Q/s")" "pop"
expect_queue s 2 100 5 3 1 0 0 0
assert_eq EFBIG "$(qio w "$Q/s" 'b"x\n" * 101')" "101 items"
assert_eq EMSGSIZE "$(qio w "$Q/s" 'b"x" * 4097')" "an item of 4097 bytes"
expect_queue s 2 100 5 3 1 0 0 0
setfattr -n user.capacity -v 2 "$Q/s" || fail "setfattr"
assert_eq EAGAIN "$(qio w "$Q/s" 'b"f"' --nb)" "a full queue"
expect_queue s 2 2 5 3 1 0 0 0
chmod a-w "$Q/s" || fail "chmod a-w"
expect_queue s 2 2 5 3 1 1 0 0
assert_eq "-r--r--r--" "$(stat -c %A "$Q/s")" "mode of a sealed queue"
chmod u+w "$Q/s" || fail "chmod u+w"
expect_queue s 2 2 5 3 1 0 0 0
assert_eq "-rw-r--r--" "$(stat -c %A "$Q/s")" "mode of an unsealed queue"
assert_eq "b'\n'" "$(qio r "$Q/s")" "pop of an empty item"
assert_eq "b'cde\n'" "$(qio r "$Q/s")" "pop"
expect_queue s 0 2 0 3 3 0 0 0

# Readers and writers waiting.
touch "$Q/r" "$Q/w"
park_readers r 3
expect_queue r 0 100 0 0 0 0 3 0
setfattr -n user.capacity -v 2 "$Q/w" || fail "setfattr w"
assert_eq OK "$(qio w "$Q/w" 'b"full"')" "one item in w"
# (One writer: the kernel lets one write() at a time into a file; see
# test_queue_writers.sh for several.)
qio_bg "$TEST_TMP/writer" w "$Q/w" "b'w1\nw2'"
writer=$BG
wait_until 10 waiting_is w 0 1 || fail "queue.w.writers_waiting is not 1 (writer: $(cat "$TEST_TMP/writer")): $(grep 'queue\.w\.' "$MNT/stats")"
expect_queue w 1 2 5 1 0 0 0 1
# The other queue's lines are untouched.
expect_queue s 0 2 0 3 3 0 0 0

# Two items for three readers: two of them leave.
assert_eq OK "$(qio w "$Q/r" 'b"r1\nr2"')" "two items for the readers"
wait_until 10 waiting_is r 1 0 || fail "readers_waiting did not drop to 1"
expect_queue r 0 100 0 2 2 0 1 0
assert_eq OK "$(qio w "$Q/r" 'b"r3\n"')" "the third item"
readers_got "the third item (arrival order)" "b'r1\n'" "b'r2\n'" "b'r3\n'"
expect_queue r 0 100 0 3 3 0 0 0

# The writer of two items needs room for both.
expect_queue w 1 2 5 1 0 0 0 1
assert_eq "b'full\n'" "$(qio r "$Q/w")" "pop of w"
wait "$writer" || fail "the writer failed"
assert_eq OK "$(cat "$TEST_TMP/writer")" "the writer"
expect_queue w 2 2 6 3 1 0 0 0
assert_eq "b'w1\n'" "$(qio r "$Q/w")" "pop of w1"
assert_eq "b'w2\n'" "$(qio r "$Q/w")" "pop of w2"
expect_queue w 0 2 0 3 3 0 0 0
assert_eq $((3 + 3 + 3)) "$(($(stat_value queue.s.in) + $(stat_value queue.r.in) + $(stat_value queue.w.in)))" "items in"

# A removed queue leaves mnt/stats.
rm "$Q/w" || fail "rm w"
assert_not_contains "$(cat "$MNT/stats")" "queue.w." "mnt/stats after rm w"
