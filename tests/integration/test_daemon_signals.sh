#!/usr/bin/env bash
# SIGTERM, SIGINT and `fusermount3 -u` end the -f daemon: it unmounts and
# exits 0.
. "$(dirname "$0")/lib.sh"

for sig in TERM INT; do
	start_rwfs "sig$sig"
	echo 5 >"$TEST_TMP/sig$sig/A" || fail "write before SIG$sig"
	kill "-$sig" "$DAEMON_PID"
	wait_until 10 eval "! is_running $DAEMON_PID" || fail "the daemon still runs 10 s after SIG$sig"
	wait "$DAEMON_PID"
	assert_eq 0 "$?" "exit status after SIG$sig"
	is_mounted "$TEST_TMP/sig$sig" && fail "still mounted after SIG$sig"
done

start_rwfs unmounted
timeout 10 fusermount3 -u "$TEST_TMP/unmounted" || fail "fusermount3 -u failed"
wait_until 10 eval "! is_running $DAEMON_PID" || fail "the daemon still runs 10 s after fusermount3 -u"
wait "$DAEMON_PID"
assert_eq 0 "$?" "exit status after fusermount3 -u"

# Also with a reader blocked on mnt/events at the time.
start_rwfs busy
timeout 30 "$PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
while os.read(fd, 65536):
    pass' "$TEST_TMP/busy/events" &
reader=$!
sleep 1
kill -TERM "$DAEMON_PID"
wait_until 10 eval "! is_running $DAEMON_PID" || fail "the daemon still runs 10 s after SIGTERM with a blocked reader"
wait "$DAEMON_PID"
assert_eq 0 "$?" "exit status after SIGTERM with a blocked reader"
is_mounted "$TEST_TMP/busy" && fail "still mounted after SIGTERM with a blocked reader"
wait_until 5 eval "! is_running $reader" || fail "the blocked reader still hangs after the daemon left"
wait "$reader"
