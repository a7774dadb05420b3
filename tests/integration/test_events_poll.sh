#!/usr/bin/env bash
# mnt/events with O_NONBLOCK: EAGAIN when nothing is new; poll and select
# report it readable when lines wait.
. "$(dirname "$0")/lib.sh"

timeout 20 "$PYTHON" - "$MNT" <<'PY' || fail "poll checks failed"
import errno, os, select, sys
mnt = sys.argv[1]

def write(name, data):
    fd = os.open(os.path.join(mnt, name), os.O_WRONLY | os.O_TRUNC)
    os.write(fd, data)
    os.close(fd)

fd = os.open(os.path.join(mnt, "events"), os.O_RDONLY | os.O_NONBLOCK)
try:
    data = os.read(fd, 65536)
    sys.exit("O_NONBLOCK read with nothing new returned %r, not EAGAIN" % data)
except BlockingIOError:
    pass

p = select.poll()
p.register(fd, select.POLLIN)
if p.poll(300):
    sys.exit("poll says readable with nothing new")
if select.select([fd], [], [], 0.3)[0]:
    sys.exit("select says readable with nothing new")

write("D", b"7\n")
ready = p.poll(5000)
if not ready or not ready[0][1] & select.POLLIN:
    sys.exit("poll did not report the event within 5 s: %r" % ready)
if not select.select([fd], [], [], 5)[0]:
    sys.exit("select did not report the event within 5 s")
data = os.read(fd, 65536)
if b' write D "7" -> ok\n' not in data or not data.endswith(b"\n"):
    sys.exit("unexpected event data %r" % data)
try:
    data = os.read(fd, 65536)
    sys.exit("second O_NONBLOCK read returned %r, not EAGAIN" % data)
except BlockingIOError:
    pass
if p.poll(300):
    sys.exit("poll says readable after everything was read")

# Readable via epoll too.
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
write("D", b"8\n")
if not ep.poll(5):
    sys.exit("epoll did not report the event within 5 s")
data = os.read(fd, 65536)
if b' write D "8" -> ok\n' not in data:
    sys.exit("unexpected event data %r" % data)
os.close(fd)
PY
