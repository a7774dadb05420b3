#!/usr/bin/env bash
# Interrupts: a reader blocked on an empty queue that gets a signal gets
# EINTR and takes nothing, and so does one killed with SIGKILL (then the
# next item goes to the next reader); a writer blocked on a full queue that
# gets a signal or SIGKILL pushes nothing.  Loops hunt races: a signal and
# an item arriving together must leave every item delivered exactly once
# (taken by the reader, or still queued), and the counters add up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# The counters of queue NAME add up: in = out + depth, nobody waits.
balanced() {
	local in out depth
	in=$(stat_value "queue.$1.in")
	out=$(stat_value "queue.$1.out")
	depth=$(stat_value "queue.$1.depth")
	((in == out + depth)) || fail "queue $1: in $in, out $out, depth $depth"
	wait_until 5 waiting_is "$1" 0 0 || fail "queue $1: readers or writers still counted as waiting"
}

touch "$Q/r" "$Q/race" "$Q/k" "$Q/w"

# --- SIGALRM of a blocked reader, 20 times ---------------------------------------

timeout -k 2 30 "$PYTHON" - "$Q/r" "$MNT/stats" <<'PY' || fail "the SIGALRM loop failed"
import os, signal, sys, threading, time

path, stats = sys.argv[1], sys.argv[2]

class Alarm(Exception):
    pass

def on_alarm(signum, frame):
    raise Alarm()

def stat(name):
    with open(stats) as f:
        for line in f:
            k, v = line.split()
            if k == name:
                return int(v)
    sys.exit("no %s in mnt/stats" % name)

seen_waiting = []
def sampler():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(0.2)
    seen_waiting.append(stat("queue.r.readers_waiting"))

signal.signal(signal.SIGALRM, on_alarm)
for i in range(20):
    fd = os.open(path, os.O_RDONLY)
    t = threading.Thread(target=sampler)
    t.start()
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.4)
    try:
        data = os.read(fd, 100)
        sys.exit("round %d: read returned %r instead of being interrupted" % (i, data))
    except (Alarm, InterruptedError):
        pass
    signal.setitimer(signal.ITIMER_REAL, 0)
    t.join()
    if time.monotonic() - start > 3:
        sys.exit("round %d: the interrupt took %.1f s" % (i, time.monotonic() - start))
    if seen_waiting[-1] != 1:
        sys.exit("round %d: readers_waiting was %d during the read" % (i, seen_waiting[-1]))
    os.close(fd)
    if stat("queue.r.readers_waiting") != 0:
        sys.exit("round %d: the interrupted reader is still counted as waiting" % i)
    # Nothing was taken: the next item goes to the next reader.
    w = os.open(path, os.O_WRONLY)
    os.write(w, b"item %d\n" % i)
    os.close(w)
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    data = os.read(r, 100)
    os.close(r)
    if data != b"item %d\n" % i:
        sys.exit("round %d: the next reader got %r" % (i, data))
    # The item counts as out once its delivery is acknowledged, which
    # follows the reply: look again for a moment.
    for _ in range(100):
        counters = (stat("queue.r.in"), stat("queue.r.out"), stat("queue.r.depth"))
        if counters == (i + 1, i + 1, 0):
            break
        time.sleep(0.02)
    else:
        sys.exit("round %d: counters in %d out %d depth %d" % ((i,) + counters))
PY
balanced r

# --- a signal and an item at the same moment, 150 times --------------------------
# The reader calls read(2) through ctypes, so that the outcome of the very
# system call is seen (data, or EINTR), not Python's retry.  A child writes
# one item and signals the reader, in varying order and timing.

setfattr -n user.capacity -v 1000 "$Q/race" || fail "setfattr race"
timeout -k 2 40 "$PYTHON" - "$Q/race" "$TEST_TMP/race.out" <<'PY' || fail "the race loop failed"
import ctypes, errno, os, random, signal, sys, time

path, out = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGUSR1, lambda s, f: None)
signal.siginterrupt(signal.SIGUSR1, True)
N = 150
got, eintr = [], 0
buf = ctypes.create_string_buffer(256)
parent = os.getpid()
left = []
drain = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
def take_leftovers():
    # An interrupted round leaves its item queued: take it now, so that
    # the next reader really waits.
    while True:
        try:
            left.append(os.read(drain, 256))
        except BlockingIOError:
            return
for i in range(N):
    take_leftovers()
    fd = os.open(path, os.O_RDONLY)
    pid = os.fork()
    if pid == 0:
        rnd = random.Random(i)
        time.sleep(0.02 + rnd.random() * 0.01)
        def push():
            w = os.open(path, os.O_WRONLY)
            os.write(w, b"race %d\n" % i)
            os.close(w)
        if i % 3 == 0:
            push()
            os.kill(parent, signal.SIGUSR1)
        elif i % 3 == 1:
            os.kill(parent, signal.SIGUSR1)
            time.sleep(rnd.random() * 0.003)
            push()
        else:
            push()
            time.sleep(rnd.random() * 0.002)
            os.kill(parent, signal.SIGUSR1)
        os._exit(0)
    n = libc.read(fd, buf, 256)
    if n > 0:
        got.append(buf.raw[:n])
    elif n < 0 and ctypes.get_errno() == errno.EINTR:
        eintr += 1
    else:
        sys.exit("round %d: read returned %d, errno %d" % (i, n, ctypes.get_errno()))
    os.waitpid(pid, 0)
    os.close(fd)
take_leftovers()
with open(out, "w") as f:
    for item in got + left:
        f.write(item.decode())
print("race: %d items read, %d reads interrupted" % (len(got), eintr))
if eintr == 0 or len(got) == 0:
    sys.exit("the race loop never saw both outcomes: %d read, %d interrupted" % (len(got), eintr))
PY
qio drain "$Q/race" | grep -v EAGAIN | sed "s/^b'//; s/\\\\n'\$//" >"$TEST_TMP/race.left"
all=$(cat "$TEST_TMP/race.out" "$TEST_TMP/race.left" | sort -t' ' -k2n)
assert_eq "$(for i in $(seq 0 149); do echo "race $i"; done)" "$all" "items read and left over (each exactly once)"
balanced race

# --- SIGKILL of a blocked dd, 20 times ----------------------------------------------

for i in $(seq 1 20); do
	dd if="$Q/k" of="$TEST_TMP/dd.$i" bs=64k count=1 status=none 2>/dev/null &
	dd=$!
	wait_until 10 waiting_is k 1 0 || { kill -KILL "$dd"; fail "round $i: dd did not wait"; }
	kill -KILL "$dd"
	wait_until 5 eval "! is_running $dd" || fail "round $i: the killed dd is still there after 5 s"
	wait "$dd" 2>/dev/null
	wait_until 5 waiting_is k 0 0 || fail "round $i: the killed reader is still counted as waiting"
	[[ -s "$TEST_TMP/dd.$i" ]] && fail "round $i: the killed dd got data"
	assert_eq OK "$(qio w "$Q/k" "b'kill $i'")" "round $i: push"
	assert_eq "b'kill $i\n'" "$(qio r "$Q/k" --nb)" "round $i: the next reader after a killed one"
done
assert_eq 20 "$(stat_value queue.k.in)" "queue.k.in"
balanced k

# --- a blocked writer interrupted pushes nothing --------------------------------

setfattr -n user.capacity -v 1 "$Q/w" || fail "setfattr w"
assert_eq OK "$(qio w "$Q/w" 'b"full"')" "fill w"
timeout -k 2 30 "$PYTHON" - "$Q/w" "$MNT/stats" <<'PY' || fail "the writer SIGALRM loop failed"
import os, signal, sys, time

path, stats = sys.argv[1], sys.argv[2]

class Alarm(Exception):
    pass

def on_alarm(signum, frame):
    raise Alarm()

def stat(name):
    with open(stats) as f:
        for line in f:
            k, v = line.split()
            if k == name:
                return int(v)
    sys.exit("no %s in mnt/stats" % name)

signal.signal(signal.SIGALRM, on_alarm)
for i in range(10):
    fd = os.open(path, os.O_WRONLY)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        os.write(fd, b"never %d\n" % i)
        sys.exit("round %d: a write to a full queue succeeded" % i)
    except (Alarm, InterruptedError):
        pass
    signal.setitimer(signal.ITIMER_REAL, 0)
    if time.monotonic() - start > 3:
        sys.exit("round %d: the interrupt took %.1f s" % (i, time.monotonic() - start))
    os.close(fd)
    counters = (stat("queue.w.in"), stat("queue.w.depth"), stat("queue.w.writers_waiting"))
    if counters != (1, 1, 0):
        sys.exit("round %d: in, depth, writers_waiting are %r, want (1, 1, 0)" % (i, counters))
PY
for i in 1 2 3; do
	"$PYTHON" "$QIO" w "$Q/w" "b'killed $i'" >/dev/null 2>&1 &
	writer=$!
	wait_until 10 waiting_is w 0 1 || { kill -KILL "$writer"; fail "round $i: the writer did not wait"; }
	kill -KILL "$writer"
	wait_until 5 eval "! is_running $writer" || fail "round $i: the killed writer is still there after 5 s"
	wait "$writer" 2>/dev/null
	wait_until 5 waiting_is w 0 0 || fail "round $i: the killed writer is still counted as waiting"
done
assert_eq $'b\'full\\n\'\nEAGAIN' "$(qio drain "$Q/w")" "w after the interrupted writers"
assert_eq 1 "$(stat_value queue.w.in)" "queue.w.in after the interrupted writers"
balanced w

# The daemon is well: a register and a new queue work.
assert_eq 0 "$(value "$MNT/A")" "mnt/A"
echo fine >"$Q/after" && assert_eq "b'fine\n'" "$(qio r "$Q/after" --nb)" "a new queue"
