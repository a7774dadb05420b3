# queue_lib.sh - helpers shared by the test_queue_*.sh tests (sourced after
# lib.sh, not run).
#
#   QIO   qio.py, one exact system call on a queue (see its docstring)
#   Q     the queues of the test's mount, $MNT/queues (a test on a daemon of
#         its own sets its own)
# Background clients started here (qio_bg, start_behind) are killed when
# the test exits, so that nothing stays blocked on the mount.
#
# Writes of one queue reach the daemon together, so several writers can be
# parked there (state S, interruptible).  What locks the queue's inode in
# the kernel (chmod, rm, setfattr, touch, an O_TRUNC open of it) waits
# there, uninterruptibly (state D), while a writer is parked: park_writer,
# start_behind, release_writer and finish_behind check that order.

QIO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/qio.py
Q=$MNT/queues
QUEUE_BG=()

# qio CMD PATH ...: qio.py, bounded; prints its result (OK, EOF, EAGAIN...).
qio() {
	timeout 10 "$PYTHON" "$QIO" "$@" || fail "qio $* did not finish (status $?)"
}

# qio_bg OUT CMD PATH ...: qio.py in the background (bounded: 30 s), its
# result in OUT; sets BG to its pid.
qio_bg() {
	local out=$1
	shift
	timeout 30 "$PYTHON" "$QIO" "$@" >"$out" 2>&1 &
	BG=$!
	QUEUE_BG+=("$BG")
}

# qbytes PATH: the bytes waiting in a queue, its attribute user.bytes
# (stat shows every queue as 1048576 bytes, see docs/PROTOCOL.md).
qbytes() {
	qio getx "$1" user.bytes
}

# waiting_is NAME READERS WRITERS: mnt/stats counts that many reads and
# writes of queue NAME parked in the daemon (for wait_until).
waiting_is() {
	stat_is "queue.$1.readers_waiting" "$2" && stat_is "queue.$1.writers_waiting" "$3"
}

# write_refused RESULT: what qio w printed for a writer of a sealed queue.
write_refused() {
	[[ "$1" == EPIPE || "$1" == open:EACCES ]]
}

# proc_state PID: the state letter (S, D, Z...) of PID, or of the program
# it runs when PID is a wrapper such as timeout(1).
proc_state() {
	local pid=$1 child stat
	child=$(pgrep -n -P "$pid") && pid=$child
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	printf '%s' "${stat:0:1}"
}

# state_is PID LETTER: proc_state PID is LETTER (for wait_until).
state_is() {
	[[ "$(proc_state "$1")" == "$2" ]]
}

# ended PID...: none of them is running any more (for wait_until).
ended() {
	local pid
	for pid in "$@"; do
		is_running "$pid" && return 1
	done
	return 0
}

# kill_bg PID...: SIGKILL to each and to the programs they run.
kill_bg() {
	local pid
	for pid in "$@"; do
		is_running "$pid" || continue
		kill -KILL $(pgrep -P "$pid") "$pid" 2>/dev/null
	done
}

# A killed writer parked in the daemon is interrupted; those behind it in
# the kernel then die in turn as each gets the file.
at_exit 'kill_bg "${QUEUE_BG[@]}"'

# park_readers NAME N: N reads of queue NAME parked one after the other
# (READERS: their pids, their results in $TEST_TMP/reader.1 ... N).
park_readers() {
	local i
	READERS=()
	for ((i = 1; i <= $2; i++)); do
		qio_bg "$TEST_TMP/reader.$i" r "$Q/$1"
		READERS[i]=$BG
		wait_until 10 waiting_is "$1" "$i" 0 ||
			fail "reader $i of queue $1 did not wait: $(grep -F "queue.$1." "$MNT/stats")"
	done
}

# readers_got WHAT RESULT...: reader i of park_readers returns RESULT i
# within 5 s (of WHAT).
readers_got() {
	local what=$1 i
	shift
	for ((i = 1; i <= $#; i++)); do
		wait_until 5 eval "! is_running ${READERS[i]}" || fail "reader $i still blocked 5 s after $what"
		wait "${READERS[i]}"
		assert_eq "${!i}" "$(cat "$TEST_TMP/reader.$i")" "reader $i after $what"
	done
}

# park_writer NAME ITEM: queue NAME gets capacity 1 and the item "full",
# and a write of the Python bytes ITEM parks in the daemon (WRITER: its
# pid, its result in $TEST_TMP/writer).
park_writer() {
	setfattr -n user.capacity -v 1 "$Q/$1" || fail "setfattr $1"
	assert_eq OK "$(qio w "$Q/$1" 'b"full"')" "fill $1"
	qio_bg "$TEST_TMP/writer" w "$Q/$1" "$2"
	WRITER=$BG
	wait_until 10 waiting_is "$1" 0 1 || fail "the writer did not wait: $(cat "$TEST_TMP/writer")"
	wait_until 5 state_is "$WRITER" S || fail "the parked writer is in state $(proc_state "$WRITER"), not S"
}

# start_behind WHAT COMMAND...: runs COMMAND in the background while the
# writer of park_writer is parked (BEHIND: its pid) and checks that it
# waits in the kernel: still running after 1 s, in state D.
start_behind() {
	local what=$1
	shift
	"$@" &
	BEHIND=$!
	QUEUE_BG+=("$BEHIND")
	sleep 1
	is_running "$BEHIND" || { wait "$BEHIND"; fail "$what with a writer parked did not wait (status $?)"; }
	state_is "$BEHIND" D || fail "$what with a writer parked: state $(proc_state "$BEHIND"), not D (waiting in the kernel)"
	is_running "$WRITER" || fail "the parked writer ended while $what waited: $(cat "$TEST_TMP/writer")"
}

# release_writer NAME: a reader takes "full" from queue NAME; the parked
# writer of park_writer then completes OK within 5 s (its item entered).
release_writer() {
	assert_eq "b'full\n'" "$(qio r "$Q/$1" --nb)" "the pop that makes room in $1"
	wait_until 5 eval "! is_running $WRITER" || fail "the parked writer still blocked 5 s after a pop"
	wait "$WRITER"
	assert_eq OK "$(cat "$TEST_TMP/writer")" "the parked writer after the pop"
}

# finish_behind WHAT: the COMMAND of start_behind completes within 5 s,
# with status 0.
finish_behind() {
	wait_until 5 eval "! is_running $BEHIND" || fail "$1 still waiting 5 s after the writer completed"
	wait "$BEHIND" || fail "$1 failed (status $?)"
}

# logged_in_order FIRST SECOND: the event log has a line ending in FIRST
# and, later, one ending in SECOND (fixed strings, such as 'rm queues/w ->
# ok').
logged_in_order() {
	wait_until 5 awk -v a=" $1" -v b=" $2" '
		function ends(s) { return length($0) >= length(s) && substr($0, length($0) - length(s) + 1) == s }
		!seen && ends(a) { seen = 1; next }
		seen && ends(b) { found = 1 }
		END { exit !found }' "$RWFS_LOG" ||
		fail "no event line '$2' after one '$1' in the event log:
$(grep -F -e "$1" -e "$2" "$RWFS_LOG")"
}

# The scenario of test_queue_sigterm.sh and test_queue_unmount.sh, where
# a daemon's session ends while clients are blocked:
#   start_blocked_clients    a daemon of the test's own on D=$TEST_TMP/d
#                            (state in STATE, Q=$D/queues); 3 readers
#                            blocked on queue r; queue w full (capacity 1)
#                            with 2 writers parked in the daemon
#   expect_clients_end WHAT  after WHAT they all return within 5 s, readers
#                            with end of file (or ENOTCONN), writers with an
#                            error; the daemon unmounts and exits 0; after a
#                            restart w holds only "full" and r nothing

# dstat NAME: its value in the stats of the daemon on $D.
dstat() {
	timeout 5 awk -v n="$1" '$1 == n { print $2 }' "$D/stats"
}

start_blocked_clients() {
	local i
	STATE=$TEST_TMP/state
	D=$TEST_TMP/d
	Q=$D/queues
	mkdir "$STATE"
	start_rwfs d --state="$STATE"
	touch "$Q/r" "$Q/w" || fail "touch"
	setfattr -n user.capacity -v 1 "$Q/w" || fail "setfattr"
	assert_eq OK "$(qio w "$Q/w" 'b"full"')" "fill w"
	CLIENTS=()
	for i in 1 2 3; do
		qio_bg "$TEST_TMP/reader.$i" r "$Q/r"
		CLIENTS+=("$BG")
	done
	for i in 1 2; do
		qio_bg "$TEST_TMP/writer.$i" w "$Q/w" "b'w$i'"
		CLIENTS+=("$BG")
		sleep 0.2
	done
	wait_until 10 eval '[[ "$(dstat queue.r.readers_waiting)" == 3 && "$(dstat queue.w.writers_waiting)" == 2 ]]' ||
		fail "the readers and writers are not waiting: $(grep waiting "$D/stats")"
	wait_until 5 eval '[[ "$(proc_state "${CLIENTS[3]}")$(proc_state "${CLIENTS[4]}")" == SS ]]' ||
		fail "the writers are not both parked in the daemon (S): $(proc_state "${CLIENTS[3]}") $(proc_state "${CLIENTS[4]}")"
}

expect_clients_end() {
	local what=$1 stuck daemon status i out
	if ! wait_until 5 ended "${CLIENTS[@]}"; then
		stuck=$(for i in 1 2 3; do is_running "${CLIENTS[i - 1]}" && echo -n "reader $i "; done
			for i in 1 2; do is_running "${CLIENTS[i + 2]}" && echo -n "writer $i "; done)
		daemon=$(is_running "$DAEMON_PID" && echo "is still running" || echo "has exited")
		# Kill them, so that the daemon can end.
		kill_bg "${CLIENTS[@]}"
		wait 2>/dev/null
		fail "still blocked 5 s after $what: $stuck(the daemon $daemon)"
	fi
	for i in 1 2 3; do
		out=$(cat "$TEST_TMP/reader.$i")
		[[ "$out" == EOF || "$out" == ENOTCONN || "$out" == ECONNABORTED ]] ||
			fail "blocked reader $i got '$out', not end of file or ENOTCONN"
	done
	for i in 1 2; do
		out=$(cat "$TEST_TMP/writer.$i")
		[[ "$out" =~ ^E[A-Z]+$ ]] || fail "blocked writer $i got '$out', not an error"
	done
	wait_until 10 eval "! is_mounted $D" || fail "still mounted 10 s later"
	stop_process "$DAEMON_PID" 10
	status=$?
	((status == 0)) || fail "the daemon exited with status $status"
	[[ -s "$TEST_TMP/d.err" ]] && fail "the daemon wrote to stderr: $(cat "$TEST_TMP/d.err")"

	# What was acknowledged is there after a restart; the refused writes are not.
	start_rwfs d --state="$STATE"
	assert_eq $'b\'full\\n\'\nEAGAIN' "$(qio drain "$Q/w")" "w after the restart"
	assert_eq EAGAIN "$(qio drain "$Q/r")" "r after the restart"
}
