#!/usr/bin/env bash
# Tickets: flock(1), flock(2) and fcntl locks granted by the daemon on
# registers and queues: exclusion between processes, -n and -w, byte
# ranges and F_GETLK, fairness for a writer behind a stream of readers,
# nothing left behind by a timeout, a kill -9 of the holder or of the
# daemon, and what stats and the event log show.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
start_rwfs d --state="$state"
D=$TEST_TMP/d

# 4 processes x 500 increments of B under flock -x: exactly 2000.
timeout 120 "$PYTHON" - "$D/B" <<'PY' || fail "the counter under flock went wrong"
import fcntl, multiprocessing as mp, os, sys

path = sys.argv[1]

def bump(n):
    fd = os.open(path, os.O_RDWR)
    for _ in range(n):
        fcntl.flock(fd, fcntl.LOCK_EX)
        v = int(os.pread(fd, 64, 0))
        os.pwrite(fd, b"%d\n" % (v + 1), 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)

procs = [mp.Process(target=bump, args=(500,)) for _ in range(4)]
for p in procs:
    p.start()
for p in procs:
    p.join()
    if p.exitcode:
        sys.exit("a process failed")
PY
assert_bytes "$D/B" $'2000\n'

# -n is refused at once while another holds the file; -w gives up in time
# and leaves no ticket: once the holder is gone the file is free.
flock -x "$D/A" sleep 2 &
holder=$!
wait_until 5 eval '[[ "$(MNT=$D stat_value tickets_held)" == 1 ]]' || fail "tickets_held never 1"
flock -n -x "$D/A" true && fail "flock -n got a held file"
flock -n -s "$D/A" true && fail "flock -n -s got an exclusively held file"
start=$(date +%s%N)
flock -w 0.3 -x "$D/A" true && fail "flock -w got a held file"
took=$((($(date +%s%N) - start) / 1000000))
((took >= 250 && took < 1500)) || fail "flock -w 0.3 took $took ms"
assert_eq 0 "$(MNT=$D stat_value tickets_waiting)" "tickets_waiting after the timeout"
# A request parked behind the holder keeps no other client waiting: the
# file reads and writes at once (the lock is advisory).
flock -x "$D/A" true &
waiter=$!
wait_until 5 eval '[[ "$(MNT=$D stat_value tickets_waiting)" == 1 ]]' || fail "no request waiting"
assert_eq 0 "$(timeout 2 cat "$D/A")" "a read of A while a lock request waits"
timeout 2 sh -c "echo 0 > '$D/A'" || fail "a write of A while a lock request waits"
wait "$holder" || fail "the holder failed"
wait "$waiter" || fail "the waiting request failed"
flock -n -x "$D/A" true || fail "flock -n after the holder ended"
assert_eq 0 "$(MNT=$D stat_value tickets_held)" "tickets_held after the holder ended"
grep -qE ' \(flock\) flock A exclusive -> interrupted$' "$TEST_TMP/d.log" ||
	fail "no interrupted line in the event log"
grep -qE ' \(flock\) flock A exclusive -> busy$' "$TEST_TMP/d.log" || fail "no busy line in the event log"
grep -qE ' \(flock\) flock A exclusive -> granted after [0-9.]+ ms$' "$TEST_TMP/d.log" ||
	fail "no grant with its wait in the event log"
wait_us=$(MNT=$D stat_value tickets_longest_wait_us)
((wait_us >= 100000)) || fail "tickets_longest_wait_us $wait_us after a wait of about 2 s"
grep -qE ' flock A unlock -> released at close$' "$TEST_TMP/d.log" || fail "no release line in the event log"

# Tickets on a queue too; a holder killed with -9 lets go.
touch "$D/queues/jobs" || fail "touch a queue"
# One process, so that nothing else inherits the locked file.
"$PYTHON" -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
time.sleep(30)' "$D/queues/jobs" &
holder=$!
wait_until 5 eval '! flock -n -x "$D/queues/jobs" true' || fail "the queue's ticket was never held"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
wait_until 5 eval 'flock -n -x "$D/queues/jobs" true' || fail "a killed holder kept its ticket"

# Byte ranges and F_GETLK, between two processes.
timeout 30 "$PYTHON" - "$D/C" <<'PY' || fail "byte-range locks went wrong"
import errno, fcntl, os, struct, subprocess, sys

path = sys.argv[1]
fd = os.open(path, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)          # bytes 0-9
fcntl.lockf(fd, fcntl.LOCK_SH, 10, 100)        # bytes 100-109
child = r'''
import errno, fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
def getlk(kind, start, length):
    r = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", kind, 0, start, length, 0))
    return struct.unpack("hhqqi", r)
t, _, s, l, pid = getlk(fcntl.F_WRLCK, 5, 1)
assert (t, s, l, pid) == (fcntl.F_WRLCK, 0, 10, int(sys.argv[2])), (t, s, l, pid)
assert getlk(fcntl.F_WRLCK, 10, 90)[0] == fcntl.F_UNLCK
assert getlk(fcntl.F_RDLCK, 100, 5)[0] == fcntl.F_UNLCK   # shared with shared
assert getlk(fcntl.F_WRLCK, 105, 1)[0] == fcntl.F_RDLCK
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 90, 10)    # between them: free
fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 10, 100)   # shared with shared
for start, length, kind in ((9, 1, fcntl.LOCK_SH), (105, 1, fcntl.LOCK_EX)):
    try:
        fcntl.lockf(fd, kind | fcntl.LOCK_NB, length, start)
        sys.exit("got bytes %d.. against a conflicting lock" % start)
    except OSError as e:
        assert e.errno in (errno.EAGAIN, errno.EACCES), e
'''
r = subprocess.run([sys.executable, "-c", child, path, str(os.getpid())])
if r.returncode:
    sys.exit("the second process saw the wrong locks")
# Unlocking the middle of the first range splits it.
fcntl.lockf(fd, fcntl.LOCK_UN, 2, 4)
child2 = r'''
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 2, 4)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 3)
    sys.exit("byte 3 is still locked")
except OSError:
    pass
'''
if subprocess.run([sys.executable, "-c", child2, path]).returncode:
    sys.exit("the split went wrong")
PY

# A writer behind a stream of readers gets in, and soon.
timeout 60 "$PYTHON" - "$D/E" <<'PY' || fail "a writer starved behind readers"
import fcntl, multiprocessing as mp, os, sys, time

path = sys.argv[1]

def reader(stop):
    fd = os.open(path, os.O_RDONLY)
    while not stop.is_set():
        fcntl.flock(fd, fcntl.LOCK_SH)
        time.sleep(0.002)
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)

stop = mp.Event()
readers = [mp.Process(target=reader, args=(stop,)) for _ in range(4)]
for r in readers:
    r.start()
time.sleep(0.3)
fd = os.open(path, os.O_RDWR)
longest = 0
for _ in range(20):
    t = time.monotonic()
    fcntl.flock(fd, fcntl.LOCK_EX)
    longest = max(longest, time.monotonic() - t)
    fcntl.flock(fd, fcntl.LOCK_UN)
    time.sleep(0.005)
stop.set()
for r in readers:
    r.join()
print("writer's longest wait behind 4 readers: %.1f ms" % (longest * 1000))
if longest > 2:
    sys.exit("the writer waited %.1f s" % longest)
PY

# The daemon killed -9 while a ticket is held: after the restart the old
# session's ticket is gone.
flock -x "$D/F" sleep 30 &
holder=$!
wait_until 5 eval '[[ "$(MNT=$D stat_value tickets_held)" == 1 ]]' || fail "F never held"
kill -KILL "$DAEMON_PID"
wait_until 5 eval "! is_running $DAEMON_PID" || fail "the daemon survived kill -9"
kill -KILL "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
unmount "$D" || fail "cannot unmount the dead mount"
start_rwfs d --state="$state"
assert_eq 0 "$(MNT=$D stat_value tickets_held)" "tickets_held after the restart"
flock -n -x "$D/F" true || fail "the dead session's ticket survived the restart"
assert_bytes "$D/B" $'2000\n'
