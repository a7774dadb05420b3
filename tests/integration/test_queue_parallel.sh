#!/usr/bin/env bash
# One client never makes another wait in the kernel.  With a writer parked
# on a full queue: an O_NONBLOCK writer gets EAGAIN at once; a second
# blocking writer parks in the daemon too, where SIGKILL ends it; the
# attributes user.seal and user.remove of the queues/ directory (which do
# not lock the queue in the kernel) seal or remove the queue at once, the
# parked writers getting EPIPE and the readers end of file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# Queues get the mode their maker asks, less its umask.
umask 022

# nonblocking_write PATH: one O_NONBLOCK write of "nb"; prints the errno
# name (or OK) and the time it took in ms.
nonblocking_write() {
	timeout 5 "$PYTHON" - "$1" <<'PY' || fail "the O_NONBLOCK write did not return within 5 s (status $?)"
import errno, os, sys, time
t = time.monotonic()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
try:
    os.write(fd, b"nb\n")
    result = "OK"
except OSError as e:
    result = errno.errorcode[e.errno]
ms = (time.monotonic() - t) * 1000
os.close(fd)
print(result, "%.3f" % ms)
PY
}

touch "$Q/p" "$Q/r" "$Q/x"

# --- O_NONBLOCK and a second writer, with a writer parked ---------------------

park_writer p 'b"blocked"'
read -r result ms < <(nonblocking_write "$Q/p")
echo "O_NONBLOCK write with a writer parked: $result in $ms ms"
assert_eq EAGAIN "$result" "O_NONBLOCK write with a writer parked"

qio_bg "$TEST_TMP/second" w "$Q/p" 'b"second"'
SECOND=$BG
wait_until 10 waiting_is p 0 2 || fail "the second writer did not park: $(grep -F queue.p. "$MNT/stats")"
wait_until 5 state_is "$SECOND" S || fail "the second writer is in state $(proc_state "$SECOND"), not S"
start=$(date +%s%N)
kill -KILL "$(pgrep -P "$SECOND")"
wait_until 5 eval "! is_running $SECOND" || fail "the second writer still runs 5 s after SIGKILL (state $(proc_state "$SECOND"))"
echo "SIGKILL of a second parked writer: gone in $((($(date +%s%N) - start) / 1000000)) ms"
wait_until 5 waiting_is p 0 1 || fail "writers_waiting after SIGKILL: $(stat_value queue.p.writers_waiting)"
is_running "$WRITER" || fail "the first writer ended: $(cat "$TEST_TMP/writer")"

# --- user.seal of queues/: the parked writer gets EPIPE at once ----------------

start=$(date +%s%N)
timeout 5 setfattr -n user.seal -v p "$Q" || fail "setfattr user.seal of queues/ failed or hung (status $?)"
wait_until 5 eval "! is_running $WRITER" || fail "the parked writer still blocked 5 s after the seal"
echo "user.seal with a writer parked: writer ended in $((($(date +%s%N) - start) / 1000000)) ms"
wait "$WRITER"
assert_eq EPIPE "$(cat "$TEST_TMP/writer")" "the parked writer after the seal"
assert_eq "-r--r--r--" "$(stat -c %A "$Q/p")" "mode after user.seal"
assert_eq $'b\'full\\n\'\nEOF' "$(qio drain "$Q/p")" "a reader drains the sealed queue, then end of file"
assert_eq 1 "$(stat_value queue.p.in)" "nothing entered but full"
logged_in_order 'seal queues/p -> ok' 'write queues/p "blocked" -> error: Broken pipe'
timeout 5 setfattr -n user.unseal -v p "$Q" || fail "setfattr user.unseal"
assert_eq OK "$(qio w "$Q/p" 'b"again"')" "a write after user.unseal"
assert_eq "-rw-r--r--" "$(stat -c %A "$Q/p")" "mode after user.unseal (the bits before the seal)"

# --- user.remove of queues/: writers EPIPE, readers end of file ---------------

park_writer x 'b"doomed"'
park_readers r 2
start=$(date +%s%N)
timeout 5 setfattr -n user.remove -v x "$Q" || fail "setfattr user.remove x failed or hung (status $?)"
wait_until 5 eval "! is_running $WRITER" || fail "the parked writer still blocked 5 s after user.remove"
echo "user.remove with a writer parked: writer ended in $((($(date +%s%N) - start) / 1000000)) ms"
wait "$WRITER"
assert_eq EPIPE "$(cat "$TEST_TMP/writer")" "the parked writer after user.remove"
timeout 5 setfattr -n user.remove -v r "$Q" || fail "setfattr user.remove r"
readers_got "user.remove" EOF EOF
assert_eq "p" "$(ls "$Q")" "queues left"
wait_until 5 grep -qE ' \(setfattr\) rm queues/x -> ok$' "$RWFS_LOG" || fail "no rm line for user.remove in the event log"

# --- what else the directory's attributes answer -------------------------------

assert_eq ENOENT "$(qio setx "$Q" user.seal nosuch)" "user.seal of no queue"
assert_eq ENOENT "$(qio setx "$Q" user.remove 'bad name')" "user.remove of a bad name"
assert_eq ENOTSUP "$(qio setx "$Q" user.other p)" "another attribute of queues/"
assert_eq EPERM "$(qio setx "$Q/p" user.bytes 5)" "setting user.bytes"
