#!/usr/bin/env bash
# Several writers on one full queue.  Writes of one queue reach the daemon
# together (docs/PROTOCOL.md, "Waiting in the kernel"): every blocking
# writer parks there (writers_waiting counts them, an interruptible sleep)
# and an O_NONBLOCK writer gets EAGAIN at once.  SIGKILL ends a parked
# writer, which pushes nothing; a signal gives one EINTR.  Each pop lets
# the oldest parked writer in, so every item enters once, in arrival
# order.  setfattr, `echo x >` (an O_TRUNC open) and touch of the queue
# lock its inode in the kernel, and wait there for a parked writer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# writer N [--nb|--eintr]: a write of "wN" to queue m in the background
# (W[N]: its pid, its result in $TEST_TMP/writer.N).
writer() {
	local n=$1
	shift
	qio_bg "$TEST_TMP/writer.$n" w "$Q/m" "b'w$n'" "$@"
	W[n]=$BG
}

# parked N WAITING: writer N sleeps in the daemon (state S), with WAITING
# writers parked in all.
parked() {
	wait_until 10 waiting_is m 0 "$2" || fail "writer $1 did not park: $(grep -F queue.m. "$MNT/stats")"
	wait_until 5 state_is "${W[$1]}" S ||
		fail "writer $1 is in state $(proc_state "${W[$1]}"), not S: $(cat "$TEST_TMP/writer.$1")"
}

# states_are LETTERS: the states of writers 1, 2... ("-" for an ended one).
states_are() {
	local i got=
	for ((i = 1; i <= ${#1}; i++)); do
		if is_running "${W[i]}"; then
			got+=$(proc_state "${W[i]}")
		else
			got+=-
		fi
	done
	[[ "$got" == "$1" ]] || { STATES=$got; return 1; }
}

# expect_states LETTERS WHEN: states_are LETTERS, within 5 s.
expect_states() {
	wait_until 5 states_are "$1" || fail "writers' states $2: $STATES, expected $1"
}

touch "$Q/m"
setfattr -n user.capacity -v 1 "$Q/m" || fail "setfattr"
assert_eq OK "$(qio w "$Q/m" 'b"full"')" "fill"

# w1, w2 (a SIGALRM interrupts it) and w3 park; w4 (O_NONBLOCK) gets EAGAIN
# at once; w5 and w6 park behind them, in that order.
writer 1
parked 1 1
writer 2 --eintr
parked 2 2
writer 3
parked 3 3
writer 4 --nb
wait_until 5 eval "! is_running ${W[4]}" || fail "the O_NONBLOCK writer 4 is still running 5 s later"
assert_eq EAGAIN "$(cat "$TEST_TMP/writer.4")" "writer 4 (O_NONBLOCK) with writers parked"
writer 5
parked 5 4
writer 6
parked 6 5
expect_states SSS-SS "with five writers parked"
assert_eq 1 "$(stat_value queue.m.depth)" "depth with five writers parked"

# SIGKILL ends a parked writer; it pushes nothing.
kill -KILL "$(pgrep -P "${W[3]}")"
expect_states SS--SS "after SIGKILL of writer 3"
wait "${W[3]}"
assert_eq 137 "$?" "exit status of writer 3, killed while parked"
wait_until 5 waiting_is m 0 4 || fail "writers_waiting after SIGKILL: $(stat_value queue.m.writers_waiting)"

# A pop lets w1 in; w2 stays parked, the oldest.
assert_eq "b'full\n'" "$(qio r "$Q/m" --nb)" "first pop"
expect_states -S--SS "after the first pop"
assert_eq OK "$(cat "$TEST_TMP/writer.1")" "writer 1"
assert_eq 3 "$(stat_value queue.m.writers_waiting)" "writers_waiting after the first pop"

# SIGALRM to the parked w2: EINTR, nothing pushed.
kill -ALRM "$(pgrep -P "${W[2]}")"
expect_states ----SS "after SIGALRM of writer 2"
assert_eq EINTR "$(cat "$TEST_TMP/writer.2")" "writer 2, interrupted while parked"
assert_eq 2 "$(stat_value queue.m.in)" "queue.m.in: full and w1 only"
assert_eq 2 "$(stat_value queue.m.writers_waiting)" "writers_waiting: w5 and w6"

# Two more pops let w5 and then w6 in.
assert_eq "b'w1\n'" "$(qio r "$Q/m" --nb)" "second pop"
expect_states -----S "after the second pop"
assert_eq OK "$(cat "$TEST_TMP/writer.5")" "writer 5"
assert_eq "b'w5\n'" "$(qio r "$Q/m" --nb)" "third pop"
expect_states ------ "after the third pop"
assert_eq OK "$(cat "$TEST_TMP/writer.6")" "writer 6"
assert_eq $'b\'w6\\n\'\nEAGAIN' "$(qio drain "$Q/m")" "what is left"
# Every item once, in arrival order: full w1 w5 w6 in, and out.
assert_eq 4 "$(stat_value queue.m.in)" "queue.m.in"
assert_eq 4 "$(stat_value queue.m.out)" "queue.m.out"
waiting_is m 0 0 || fail "writers still counted as waiting"
wait_until 5 grep -qE ' write queues/m "w6" -> ok$' "$RWFS_LOG"
grep -E ' write queues/m "w[0-9]" -> ok$' "$RWFS_LOG" | grep -oE '"w[0-9]"' | tr '\n' ' ' >"$TEST_TMP/logged"
assert_eq '"w1" "w5" "w6" ' "$(cat "$TEST_TMP/logged")" "the writes logged ok, in order"

# setfattr, an O_TRUNC open (echo x >) and touch wait for a parked writer.
touch "$Q/c"
park_writer c "b'p1'"
start_behind "setfattr user.capacity 10" setfattr -n user.capacity -v 10 "$Q/c"
assert_eq 1 "$(stat_value queue.c.capacity)" "capacity while setfattr waits"
release_writer c
finish_behind "setfattr user.capacity 10"
assert_eq 10 "$(stat_value queue.c.capacity)" "capacity after the delayed setfattr"
assert_eq $'b\'p1\\n\'\nEAGAIN' "$(qio drain "$Q/c")" "c after the delayed setfattr"

park_writer c "b'p2'"
start_behind "echo x > (an O_TRUNC open)" bash -c 'echo x >"$1"' _ "$Q/c"
release_writer c
# Then echo's write finds the queue full (p2): it parks in its turn.
wait_until 5 waiting_is c 0 1 || fail "the write of echo x > did not park"
state_is "$BEHIND" S || fail "the write of echo x > is in state $(proc_state "$BEHIND"), not S"
assert_eq "b'p2\n'" "$(qio r "$Q/c" --nb)" "the pop that lets echo in"
finish_behind "echo x >"
assert_eq $'b\'x\\n\'\nEAGAIN' "$(qio drain "$Q/c")" "c after echo x >"

park_writer c "b'p3'"
start_behind touch touch "$Q/c"
release_writer c
finish_behind touch
assert_eq $'b\'p3\\n\'\nEAGAIN' "$(qio drain "$Q/c")" "c after touch"
assert_eq 7 "$(stat_value queue.c.in)" "queue.c.in: full, p1, full, p2, x, full, p3"
waiting_is c 0 0 || fail "writers of c still counted as waiting"
