#!/usr/bin/env bash
# A reader blocked on mnt/events that gets a signal has its read
# interrupted instead of hanging; one killed with SIGKILL goes away; the
# daemon stays healthy after both.
. "$(dirname "$0")/lib.sh"

timeout -k 2 10 "$PYTHON" - "$MNT" <<'PY' || fail "the blocked read was not interrupted by SIGALRM"
import os, signal, sys, time

class Alarm(Exception):
    pass

def on_alarm(signum, frame):
    raise Alarm()

signal.signal(signal.SIGALRM, on_alarm)
fd = os.open(os.path.join(sys.argv[1], "events"), os.O_RDONLY)
start = time.monotonic()
signal.alarm(1)
try:
    data = os.read(fd, 65536)
    sys.exit("read returned %r instead of being interrupted" % data)
except (Alarm, InterruptedError):
    pass
elapsed = time.monotonic() - start
if elapsed > 4:
    sys.exit("the interrupt took %.1f s" % elapsed)
os.close(fd)
PY

assert_eq 0 "$(timeout 5 cat "$MNT/A")" "cat mnt/A after the interrupted read"
wait_until 5 stat_is events_listeners 0 || fail "events_listeners did not go back to 0"

# SIGKILL of a blocked reader (reading stats is an event too, hence the
# loop; after a second of quiet it is blocked in read()).
timeout 30 "$PYTHON" -c '
import os, sys
fd = os.open(os.path.join(sys.argv[1], "events"), os.O_RDONLY)
while os.read(fd, 65536):
    pass
sys.exit("EOF on mnt/events")' "$MNT" &
reader=$!
wait_until 10 stat_is events_listeners 1 || fail "the reader did not open mnt/events"
sleep 1
py=$(pgrep -P "$reader") || py=$reader # timeout's child
kill -KILL "$py"
wait_until 5 eval "! is_running $py" || fail "SIGKILLed reader still there after 5 s"
wait "$reader"
assert_eq 0 "$(timeout 5 cat "$MNT/A")" "cat mnt/A after the killed reader"
wait_until 5 stat_is events_listeners 0 || fail "events_listeners did not go back to 0"

# A new listener still gets events.
timeout 10 "$PYTHON" - "$MNT" <<'PY' || fail "a new events reader got nothing"
import os, sys
mnt = sys.argv[1]
fd = os.open(os.path.join(mnt, "events"), os.O_RDONLY)
w = os.open(os.path.join(mnt, "G"), os.O_WRONLY)
os.write(w, b"3\n")
os.close(w)
data = os.read(fd, 65536)
if b' write G "3" -> ok\n' not in data:
    sys.exit("unexpected events %r" % data)
PY
