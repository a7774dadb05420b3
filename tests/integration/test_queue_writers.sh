#!/usr/bin/env bash
# Several writers on one full queue.  The kernel lets one write() at a time
# into a FUSE file (docs/PROTOCOL.md, "Waiting in the kernel"): the first
# writer parks in the daemon (writers_waiting 1, an interruptible sleep),
# the others, O_NONBLOCK ones too, wait behind it in the kernel (state D),
# where not even SIGKILL ends them.  Each pop lets the parked writer in and
# the next one reach the daemon, so every item enters once, in arrival
# order.  A signal to the parked writer gives it EINTR, pushes nothing and
# lets the next one in; a writer killed while it waited in the kernel ends
# without pushing once it gets the file; an O_NONBLOCK writer that reaches
# a full queue gets EAGAIN.  setfattr, `echo x >` (an O_TRUNC open) and
# touch of the queue wait for the parked writer the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# writer N STATE [--nb|--eintr]: a write of "wN" to queue m in the
# background (W[N]: its pid, its result in $TEST_TMP/writer.N); waits until
# it sleeps in STATE: S, parked in the daemon, or D, waiting in the kernel.
writer() {
	local n=$1 state=$2
	shift 2
	qio_bg "$TEST_TMP/writer.$n" w "$Q/m" "b'w$n'" "$@"
	W[n]=$BG
	[[ "$state" == S ]] && { wait_until 10 waiting_is m 0 1 || fail "writer $n did not park"; }
	wait_until 5 state_is "$BG" "$state" ||
		fail "writer $n is in state $(proc_state "$BG"), not $state: $(cat "$TEST_TMP/writer.$n")"
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

# w1 parks; w2 (a SIGALRM interrupts it), w3, w4 (O_NONBLOCK), w5 and w6
# queue behind it in the kernel, in that order.
writer 1 S
writer 2 D --eintr
writer 3 D
writer 4 D --nb
writer 5 D
writer 6 D
sleep 1
expect_states SDDDDD "1 s later"
assert_eq 1 "$(stat_value queue.m.writers_waiting)" "writers_waiting with six writers"
assert_eq 1 "$(stat_value queue.m.depth)" "depth with six writers"

# SIGKILL does not end a writer waiting in the kernel.
kill -KILL "$(pgrep -P "${W[3]}")"
sleep 1
expect_states SDDDDD "1 s after SIGKILL of writer 3"

# A pop lets w1 in; w2 reaches the daemon and parks.
assert_eq "b'full\n'" "$(qio r "$Q/m" --nb)" "first pop"
expect_states -SDDDD "after the first pop"
assert_eq OK "$(cat "$TEST_TMP/writer.1")" "writer 1"
assert_eq 1 "$(stat_value queue.m.writers_waiting)" "writers_waiting after the first pop"

# SIGALRM to the parked w2: EINTR, nothing pushed.  Then the killed w3
# ends as it gets the file, the O_NONBLOCK w4 finds the queue full
# (EAGAIN), and w5 parks.
kill -ALRM "$(pgrep -P "${W[2]}")"
expect_states ----SD "after SIGALRM of writer 2"
assert_eq EINTR "$(cat "$TEST_TMP/writer.2")" "writer 2, interrupted while parked"
wait "${W[3]}"
assert_eq 137 "$?" "exit status of writer 3, killed while it waited in the kernel"
assert_eq "" "$(cat "$TEST_TMP/writer.3")" "output of writer 3"
assert_eq EAGAIN "$(cat "$TEST_TMP/writer.4")" "writer 4 (O_NONBLOCK), once it got the file"
assert_eq 2 "$(stat_value queue.m.in)" "queue.m.in: full and w1 only"
assert_eq 1 "$(stat_value queue.m.writers_waiting)" "writers_waiting: w5"

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
