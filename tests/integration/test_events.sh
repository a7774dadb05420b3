#!/usr/bin/env bash
# mnt/events: an open starts at "now"; a read blocks until events come and
# returns whole lines, the same lines as the console log.
. "$(dirname "$0")/lib.sh"

timeout 20 "$PYTHON" - "$MNT" "$TEST_TMP/events" <<'PY' || fail "events reader failed"
import os, sys, threading, time
mnt, out = sys.argv[1], sys.argv[2]

def write(name, data):
    fd = os.open(os.path.join(mnt, name), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    except OSError:
        pass
    os.close(fd)

def read(name):
    fd = os.open(os.path.join(mnt, name), os.O_RDONLY)
    os.read(fd, 100)
    os.close(fd)

write("E", b"1\n")                      # before the open: not seen
fd = os.open(os.path.join(mnt, "events"), os.O_RDONLY)

# A read blocks until something happens; a thread does it 0.5 s later.
def later():
    time.sleep(0.5)
    write("F", b"2\n")
threading.Thread(target=later).start()
start = time.monotonic()
first = os.read(fd, 65536)
waited = time.monotonic() - start
if waited < 0.3:
    sys.exit("read of mnt/events returned after %.2f s, before any event" % waited)

# Now the main thread (pid = our pid) does a few operations.
write("A", b"42\n")
read("A")
write("ctl", b"DIV A Z\n")
write("ctl", b"ADD A 1\n")

data = first
deadline = time.monotonic() + 5
while b"ADD A 1" not in data and time.monotonic() < deadline:
    chunk = os.read(fd, 65536)
    if not chunk.endswith(b"\n"):
        sys.exit("read returned a partial line: %r" % chunk)
    data += chunk
os.close(fd)
with open(out, "wb") as f:
    f.write(data)
with open(out + ".pid", "w") as f:
    f.write(str(os.getpid()))
PY

events=$(cat "$TEST_TMP/events")
pid=$(cat "$TEST_TMP/events.pid")
assert_not_contains "$events" 'write E "1"' "events from before the open"
assert_match ' write F "2" -> ok' "$(head -n 1 <<<"$events")" "first event"
while IFS= read -r line; do
	assert_match "$EVENT_RE" "$line" "event line"
done <<<"$events"
assert_match "pid $pid \([^)]*\) write A \"42\" -> ok"$'\n' "$events"$'\n' "write event"
assert_match "pid $pid \([^)]*\) read A -> 42"$'\n' "$events"$'\n' "read event"
assert_match "pid $pid \([^)]*\) ctl \"DIV A Z\" -> error line 1: division by zero"$'\n' "$events"$'\n' "ctl error event"
assert_match "pid $pid \([^)]*\) ctl \"ADD A 1\" -> " "$events" "ctl event"

# The same lines are on the console log.
while IFS= read -r line; do
	wait_until 5 grep -qxF -- "$line" "$RWFS_LOG" || fail "event line not on the console log: $line"
done <<<"$events"
