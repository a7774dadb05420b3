#!/usr/bin/env bash
# poll, select and epoll on a queue: readable when an item waits (or the
# queue is sealed or removed: then read gives end of file), writable when
# there is room and it is not sealed; a poller sleeping in poll() is woken
# by the change, and an idle poll times out (how a consumer stops after a
# minute of nothing).
. "$(dirname "$0")/lib.sh"

touch "$MNT/queues/p" || fail "touch"
setfattr -n user.capacity -v 2 "$MNT/queues/p" || fail "setfattr"

timeout -k 2 40 "$PYTHON" - "$MNT/queues/p" "$MNT/queues" <<'PY' || fail "poll checks failed"
import os, select, subprocess, sys, threading, time

path, qdir = sys.argv[1], sys.argv[2]
IN, OUT = select.POLLIN, select.POLLOUT

def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)

def revents(fd, timeout_ms=0):
    p = select.poll()
    p.register(fd, IN | OUT)
    ev = p.poll(timeout_ms)
    return ev[0][1] if ev else 0

def later(delay, fn):
    t = threading.Timer(delay, fn)
    t.start()
    return t

def write(data, p=path):
    fd = os.open(p, os.O_WRONLY)
    os.write(fd, data)
    os.close(fd)

def pop(p=path):
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    data = os.read(fd, 100)
    os.close(fd)
    return data

r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
w = os.open(path, os.O_WRONLY | os.O_NONBLOCK)

# Empty: not readable, writable.
ev = revents(r)
check(not ev & IN and ev & OUT, "empty queue: revents %#x, want POLLOUT only" % ev)

# An idle poll times out.
start = time.monotonic()
p = select.poll()
p.register(r, IN)
check(p.poll(500) == [], "idle poll returned events")
check(time.monotonic() - start >= 0.4, "idle poll(500) returned early")

# A poller sleeping for POLLIN is woken by a write from elsewhere.
t = later(0.3, lambda: write(b"one\n"))
start = time.monotonic()
ev = p.poll(5000)
took = time.monotonic() - start
t.join()
check(ev and ev[0][1] & IN, "poll for POLLIN not woken by a write: %r" % ev)
check(took < 3, "POLLIN came after %.1f s" % took)
check(revents(r) & IN, "one item: not readable")
check(revents(w) & OUT, "one of two: not writable")

# Full: readable, not writable; a pop wakes a poller waiting for POLLOUT.
write(b"two\n")
ev = revents(w)
check(ev & IN and not ev & OUT, "full queue: revents %#x, want POLLIN only" % ev)
pw = select.poll()
pw.register(w, OUT)
check(pw.poll(200) == [], "POLLOUT on a full queue")
t = later(0.3, lambda: pop())
start = time.monotonic()
ev = pw.poll(5000)
t.join()
check(ev and ev[0][1] & OUT, "poll for POLLOUT not woken by a pop: %r" % ev)
check(time.monotonic() - start < 3, "POLLOUT came late")
check(os.read(r, 100) == b"two\n", "the item left")
check(not revents(r) & IN, "empty again: still readable")

# select() and epoll the same way.
t = later(0.3, lambda: write(b"three\n"))
rl, _, _ = select.select([r], [], [], 5)
t.join()
check(rl == [r], "select not woken by a write")
_, wl, _ = select.select([], [w], [], 0)
check(wl == [w], "select: not writable with room")
check(os.read(r, 100) == b"three\n", "the item selected")
ep = select.epoll()
ep.register(r, select.EPOLLIN)
check(ep.poll(0.2) == [], "epoll: readable when empty")
t = later(0.3, lambda: write(b"four\n"))
ev = ep.poll(5)
t.join()
check(ev and ev[0][1] & select.EPOLLIN, "epoll not woken by a write: %r" % ev)
check(os.read(r, 100) == b"four\n", "the item epolled")
check(ep.poll(0.2) == [], "epoll: readable when empty again")
ep.close()

# Sealed: readable (read gives EOF when empty), not writable; a sealing
# wakes a poller.
t = later(0.3, lambda: subprocess.run(["chmod", "a-w", path], check=True))
ev = p.poll(5000)
t.join()
check(ev and ev[0][1] & IN, "poll not woken by the seal: %r" % ev)
ev = revents(w)
check(ev & IN and not ev & OUT, "sealed empty queue: revents %#x, want POLLIN only" % ev)
check(os.read(r, 100) == b"", "read of a sealed empty queue is not EOF")
subprocess.run(["chmod", "u+w", path], check=True)
ev = revents(r)
check(not ev & IN and ev & OUT, "unsealed empty queue: revents %#x" % ev)

# Removed: a poller is woken; read gives EOF, write EPIPE.
t = later(0.3, lambda: os.unlink(path))
ev = p.poll(5000)
t.join()
check(ev and ev[0][1] & IN, "poll not woken by rm: %r" % ev)
check(os.read(r, 100) == b"", "read of a removed queue is not EOF")
try:
    os.write(w, b"x\n")
    sys.exit("FAIL: write to a removed queue succeeded")
except BrokenPipeError:
    pass
ev = revents(w)
check(not ev & OUT, "removed queue: POLLOUT set (%#x)" % ev)

# Many pollers on one queue are all woken.
path2 = os.path.join(qdir, "many")
os.close(os.open(path2, os.O_WRONLY | os.O_CREAT))
fds = [os.open(path2, os.O_RDONLY | os.O_NONBLOCK) for _ in range(20)]
woken = []
def waiter(fd):
    pp = select.poll()
    pp.register(fd, IN)
    if pp.poll(5000):
        woken.append(fd)
threads = [threading.Thread(target=waiter, args=(fd,)) for fd in fds]
for th in threads:
    th.start()
time.sleep(0.5)
write(b"for all\n", path2)
for th in threads:
    th.join()
check(len(woken) == 20, "%d of 20 pollers woken" % len(woken))
PY
