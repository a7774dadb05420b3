"""exactly_once.py - loss and duplication of queue items under kills.

    exactly_once.py --rwfs BIN --tmp DIR --name NAME [--sync MODE]
                    [--producers P] [--items N] [--consumers C]
                    [--reader-kills K] [--daemon-kills D] [--duration S]
                    [--report-only]

Mounts BIN -f on DIR/NAME (state in DIR/NAME.state, event log and stderr in
DIR/NAME.log and DIR/NAME.err, each daemon listed in DIR/daemons as lib.sh's
start_rwfs does) and runs, on the queue q:

  - P producers, each writing its N items "p<k>-<n>\\n" one write() each,
    paced over S seconds.  A write that fails (the daemon is dead) is retried
    once the mount answers again, as a new item "p<k>-<n>r<attempt>\\n": the
    failed attempt may have been applied with its reply lost, and the retry
    must not be mistaken for a duplicate.  A write() that returned success
    is acknowledged.
  - C consumers that read (4096 bytes, blocking) and record each item;
    they reopen the queue when the daemon dies, and record that too (a line
    "#gone").  An item a consumer got just before the daemon died may come
    again after the restart: the reply reached the consumer, the daemon
    died before its acknowledgement reached the journal, and the restart
    gives the item back rather than lose it.  Such an item is counted as
    "duplicated at a daemon kill", apart, and allowed.
  - victims, one after the other: a reader that reads straight into memory
    shared with this driver, records each item it gets, and is killed with
    SIGKILL 0-20 ms after it opened the queue.  An item found in a killed
    victim's memory, unrecorded, after its read() had returned was
    delivered (the victim died before writing it down).  One found there
    while read() had not returned is lost: the reply reached a reader
    already dying (the window FUSE leaves).  A lost item found nowhere
    vanished in the daemon.
  - D times, kill -9 of the daemon, a lazy unmount of the dead mount and a
    restart on the same state.

At the end the queue is sealed and drained by the consumers, the daemon is
unmounted and restarted once more to check that nothing came back, and one
line sums up:

    exactly_once: sync S rounds R reader_kills K daemon_kills D
    acknowledged A delivered X lost L duplicated U ...

The status is 1 when an item vanished or was delivered twice (with
--report-only, never for that; an item lost in the kernel's window is only
counted), 1 when the items do not add up (one no
producer wrote, a producer's item never acknowledged), 2 when the run itself
went wrong (a client failed, the daemon did not mount, a deadline passed).
"""
import argparse
import collections
import ctypes
import errno
import mmap
import os
import random
import re
import select
import signal
import subprocess
import sys
import time

# What a client sees while the daemon is dead or being replaced.
TRANSIENT = (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO, errno.ENOENT, errno.EINTR)
BUF = 4096
RETRY = 0.01
GONE = b"#gone"


def now():
    return time.monotonic()


# --- clients (run as their own processes) -----------------------------------


def open_retrying(path, flags, deadline):
    while True:
        try:
            return os.open(path, flags)
        except OSError as e:
            if e.errno not in TRANSIENT or now() > deadline:
                raise
            time.sleep(RETRY)


def close_quietly(fd):
    """close() of a file on a mount whose daemon died fails (its flush
    cannot reach the daemon); the descriptor is gone all the same."""
    try:
        os.close(fd)
    except OSError as e:
        if e.errno not in TRANSIENT:
            raise


def producer(path, k, items, pace, acked_path, limit):
    """Writes items k-0 .. k-(items-1), item n not before start + n * pace."""
    deadline = now() + limit
    acked = os.open(acked_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    fd = None
    start = now()
    for n in range(items):
        delay = start + n * pace - now()
        if delay > 0:
            time.sleep(delay)
        attempt = 0
        while True:
            item = b"p%d-%d%s\n" % (k, n, b"r%d" % attempt if attempt else b"")
            if fd is None:
                fd = open_retrying(path, os.O_WRONLY, deadline)
            try:
                done = os.write(fd, item)
            except OSError as e:
                if e.errno not in TRANSIENT or now() > deadline:
                    raise
                close_quietly(fd)
                fd = None
                attempt += 1
                time.sleep(RETRY)
                continue
            if done != len(item):
                sys.exit("producer %d: short write %d of %r" % (k, done, item))
            os.write(acked, item)
            break
    return 0


def consumer(path, out_path, sealed_path, limit):
    """Records every item read until end of file once the queue is sealed."""
    deadline = now() + limit
    out = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    fd = None
    while True:
        if fd is None:
            fd = open_retrying(path, os.O_RDONLY, deadline)
        try:
            data = os.read(fd, BUF)
        except OSError as e:
            if e.errno not in TRANSIENT or now() > deadline:
                raise
            data = None
        if data:
            os.write(out, data)
            continue
        if data is not None and os.path.exists(sealed_path):
            return 0
        # An error or end of file from a mount going away: read again on
        # the next one.
        os.write(out, GONE + b"\n")
        close_quietly(fd)
        fd = None
        time.sleep(RETRY)


# --- the daemon ---------------------------------------------------------------


def is_mounted(d):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == d for line in f)


class Daemon:
    def __init__(self, args):
        self.args = args
        self.mnt = os.path.join(args.tmp, args.name)
        self.state = self.mnt + ".state"
        self.work = os.path.join(args.tmp, "work-" + args.name)
        for d in (self.mnt, self.state, self.work):
            os.makedirs(d, exist_ok=True)
        self.proc = None
        self.starts = 0

    def start(self):
        cmd = [self.args.rwfs, "-f", "--state=" + self.state]
        if self.args.sync:
            cmd.append("--sync=" + self.args.sync)
        cmd.append(self.mnt)
        env = {k: v for k, v in os.environ.items() if k != "TEST_TMP"}
        with open(self.mnt + ".log", "ab") as log, open(self.mnt + ".err", "ab") as err:
            self.proc = subprocess.Popen(cmd, cwd=self.work, env=env, stdout=log,
                                         stderr=err, stdin=subprocess.DEVNULL)
        with open(os.path.join(self.args.tmp, "daemons"), "a") as f:
            f.write("%d %s\n" % (self.proc.pid, self.mnt))
        self.starts += 1
        deadline = now() + 10
        while now() < deadline:
            if self.proc.poll() is not None:
                break
            if is_mounted(self.mnt) and os.path.exists(os.path.join(self.mnt, "A")):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not mount %s (start %d)" % (" ".join(cmd), self.mnt, self.starts))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.lazy_unmount()

    def lazy_unmount(self):
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt], timeout=5,
                           stderr=subprocess.DEVNULL)

    def stop(self):
        """A clean unmount; the daemon's exit status."""
        subprocess.run(["fusermount3", "-u", self.mnt], timeout=10, check=True)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed"

    def cleanup(self):
        self.lazy_unmount()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- victims --------------------------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)


RETURNED, RECORDED = 1, 2


class Victims:
    """Readers killed with SIGKILL, one at a time, forked from this driver."""

    def __init__(self, path, record_path):
        self.path = path
        self.record_path = record_path
        # MAP_SHARED, so it outlives the victim: the read's buffer, then
        # how far the victim got with it (0, RETURNED, RECORDED).
        self.shared = mmap.mmap(-1, 2 * BUF)
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.shared))
        self.returned = ctypes.c_long.from_buffer(self.shared, BUF)
        self.rounds = 0
        self.kills = 0
        self.blocked = 0
        # Items a killed victim held but had not recorded: killed in the
        # kernel with the reply (the window FUSE leaves), or after read()
        # returned (the window of this driver).
        self.in_kernel = []
        self.in_user = []

    def run_child(self, ready):
        fd = os.open(self.path, os.O_RDONLY)
        record = os.open(self.record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(ready, b"r")
        while True:
            n = libc.read(fd, ctypes.c_void_p(self.addr), BUF)
            self.returned.value = RETURNED
            if n <= 0:
                return
            os.write(record, ctypes.string_at(self.addr, n))
            self.returned.value = RECORDED
            ctypes.memset(self.addr, 0, n)
            self.returned.value = 0

    def one(self, rnd):
        """Starts a victim and kills it 0-20 ms after it opened the queue."""
        self.rounds += 1
        try:
            recorded_before = os.path.getsize(self.record_path)
        except FileNotFoundError:
            recorded_before = 0
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            try:
                self.run_child(ready_w)
            finally:
                os._exit(0)
        os.close(ready_w)
        try:
            opened = select.select([ready_r], [], [], 2)[0] and os.read(ready_r, 1) == b"r"
            if opened:
                time.sleep(rnd.uniform(0, 0.02))
                self.blocked += in_fuse_wait(pid)
        finally:
            os.close(ready_r)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if opened:
            self.kills += 1
        held = self.shared[:BUF].split(b"\0", 1)[0]
        if held and self.returned.value == RETURNED and held not in \
                self.recorded_since(recorded_before):
            self.in_user.append(held)
        elif held and self.returned.value == 0:
            self.in_kernel.append(held)
        self.shared[:] = bytes(2 * BUF)

    def recorded_since(self, offset):
        """The items recorded past OFFSET: the last victim's (with newlines)."""
        try:
            with open(self.record_path, "rb") as f:
                f.seek(offset)
                return set(i + b"\n" for i in f.read().split(b"\n")[:-1])
        except FileNotFoundError:
            return set()


def in_fuse_wait(pid):
    """1 when PID sleeps in the kernel waiting for a FUSE answer."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(") ", 1)[1][0]
    except OSError:
        return 0
    return int(state == "S" and ("fuse" in wchan or "request_wait_answer" in wchan))


# --- the run --------------------------------------------------------------------


def lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    if data and not data.endswith(b"\n"):
        raise RuntimeError("%s: not whole lines: %r" % (path, data[-40:]))
    return data.split(b"\n")[:-1]


def count_acked(files):
    total = 0
    for path in files:
        try:
            with open(path, "rb") as f:
                total += f.read().count(b"\n")
        except FileNotFoundError:
            pass
    return total


def drain(path):
    """Items left in the queue (read with O_NONBLOCK until EAGAIN or EOF)."""
    out = []
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                data = os.read(fd, BUF)
            except BlockingIOError:
                break
            if not data:
                break
            out.append(data)
    finally:
        os.close(fd)
    return out


def spawn(role, *params):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), role] +
                            [str(p) for p in params], stdin=subprocess.DEVNULL)


def check_clients(procs, what):
    for i, p in enumerate(procs):
        if p.poll() not in (None, 0):
            raise RuntimeError("%s %d failed (status %d)" % (what, i, p.returncode))


def run(args):
    rnd = random.Random(args.seed)
    out = os.path.join(args.tmp, args.name + ".out")
    os.makedirs(out, exist_ok=True)
    daemon = Daemon(args)
    q = os.path.join(daemon.mnt, "queues", "q")
    sealed = os.path.join(out, "sealed")
    acked_files = [os.path.join(out, "acked.%d" % k) for k in range(args.producers)]
    consumed_files = [os.path.join(out, "consumed.%d" % c) for c in range(args.consumers)]
    victims = Victims(q, os.path.join(out, "victims"))
    producers, consumers = [], []
    daemon_kills = 0
    limit = args.duration * 4 + 60
    try:
        daemon.start()
        os.close(os.open(q, os.O_WRONLY | os.O_CREAT, 0o644))
        consumers = [spawn("consumer", q, f, sealed, limit) for f in consumed_files]
        pace = args.duration / args.items
        producers = [spawn("producer", q, k, args.items, pace, acked_files[k], limit)
                     for k in range(args.producers)]
        total = args.producers * args.items
        deadline = now() + limit
        while True:
            check_clients(producers, "producer")
            check_clients(consumers, "consumer")
            producing = any(p.poll() is None for p in producers)
            if not producing and victims.kills >= args.reader_kills and \
                    daemon_kills >= args.daemon_kills:
                break
            if now() > deadline:
                raise RuntimeError("not done after %d s: %d of %d items acknowledged, "
                                   "%d reader kills, %d daemon kills" %
                                   (limit, count_acked(acked_files), total, victims.kills,
                                    daemon_kills))
            # Daemon kill i when (i + 0.5) / D of the items are acknowledged,
            # or at once when the producers are done.
            if daemon_kills < args.daemon_kills and (
                    not producing or count_acked(acked_files) >=
                    total * (daemon_kills + 0.5) / args.daemon_kills):
                daemon.kill9()
                time.sleep(rnd.uniform(0, 0.05))
                daemon.start()
                daemon_kills += 1
                continue
            victims.one(rnd)
        # The end: seal, let the consumers drain to end of file.
        with open(sealed, "w"):
            pass
        os.chmod(q, os.stat(q).st_mode & ~0o222)
        for c in consumers:
            try:
                c.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise RuntimeError("a consumer did not reach end of file 30 s after the seal")
        check_clients(consumers, "consumer")
        status = daemon.stop()
        if status != 0:
            raise RuntimeError("the daemon exited with status %s after the unmount" % status)
        # Nothing may come back after a restart.
        daemon.start()
        leftovers = drain(q)
        status = daemon.stop()
        if status != 0:
            raise RuntimeError("the daemon exited with status %s after the last unmount" % status)
    finally:
        for p in producers + consumers:
            if p.poll() is None:
                p.kill()
                p.wait()
        daemon.cleanup()

    return report(args, victims, daemon_kills, acked_files, consumed_files, leftovers)


ITEM = re.compile(rb"p(\d+)-(\d+)(?:r(\d+))?")


def report(args, victims, daemon_kills, acked_files, consumed_files, leftovers):
    acked = collections.Counter(i for f in acked_files for i in lines(f))
    # Who got each item, for the duplicates.
    where = collections.defaultdict(list)
    last_before_kill = set()
    for c, f in enumerate(consumed_files):
        got = lines(f)
        for n, i in enumerate(got):
            if i == GONE:
                if n > 0 and got[n - 1] != GONE:
                    last_before_kill.add(got[n - 1])
                continue
            where[i].append("consumer %d" % c)
    for i in lines(victims.record_path):
        where[i].append("a victim")
    left = [i for data in leftovers for i in data.split(b"\n")[:-1]]
    for i in left:
        where[i].append("the queue after the end")
    # read() returned the item to the victim, which died before recording
    # it: delivered, and the gap is this driver's, not the daemon's.
    for i in victims.in_user:
        where[i.rstrip(b"\n")].append("a victim killed before recording it")
    delivered = collections.Counter({i: len(w) for i, w in where.items()})
    strange = [i for i in delivered if not ITEM.fullmatch(i)]
    in_kernel = set(i.rstrip(b"\n") for i in victims.in_kernel)

    problems = []
    if strange:
        problems.append("items that no producer wrote: %r" % strange[:5])
    if any(n > 1 for n in acked.values()):
        problems.append("a producer acknowledged an item twice")
    logical = collections.Counter(ITEM.fullmatch(i).group(1, 2) for i in acked)
    if len(logical) != args.producers * args.items or any(n != 1 for n in logical.values()):
        problems.append("the producers acknowledged %d of %d items" %
                        (len(logical), args.producers * args.items))

    lost = sorted(i for i in acked if i not in delivered)
    lost_kernel = [i for i in lost if i in in_kernel]
    twice = sorted(i for i, n in delivered.items() if n > 1)
    # Once before the kill, once after the restart, and no more.
    at_kill = [i for i in twice if i in last_before_kill and delivered[i] == 2]
    duplicated = [i for i in twice if i not in at_kill]
    unacked_delivered = [i for i in delivered if i not in acked and i not in strange]

    print("exactly_once: sync %s rounds %d reader_kills %d daemon_kills %d acknowledged %d "
          "delivered %d lost %d duplicated %d duplicated_at_daemon_kill %d" %
          (args.sync or "default", victims.rounds, victims.kills, daemon_kills, len(acked),
           len(delivered), len(lost), len(duplicated), len(at_kill)))
    print("exactly_once: sync %s details: readers killed while waiting in the daemon %d; "
          "lost: with the reply in a reader killed in read() %d, vanished %d; "
          "delivered to a reader killed after read() returned %d; extra deliveries %d; "
          "unacknowledged but delivered %d (allowed); left queued at the end %d" %
          (args.sync or "default", victims.blocked, len(lost_kernel),
           len(lost) - len(lost_kernel), len(victims.in_user),
           sum(delivered[i] - 1 for i in duplicated), len(unacked_delivered), len(left)))
    if lost:
        print("  lost: %s" % b" ".join(lost[:20]).decode())
    for i in twice[:20]:
        print("  duplicated%s: %s, to %s" % (" at a daemon kill" if i in at_kill else "",
                                             i.decode(), ", ".join(where[i])))
    if len(at_kill) > args.consumers * daemon_kills:
        problems.append("more duplicates at daemon kills than consumers reading then")
    for p in problems:
        print("  problem: " + p)
    if problems:
        return 1
    # The kernel's window (a reply reaching a reader already killed) is
    # measured, not failed; anything else lost or repeated is a defect.
    if (len(lost) > len(lost_kernel) or duplicated) and not args.report_only:
        return 1
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "producer":
        path, k, items, pace, acked, limit = sys.argv[2:]
        return producer(path, int(k), int(items), float(pace), acked, float(limit))
    if len(sys.argv) > 1 and sys.argv[1] == "consumer":
        path, out, sealed, limit = sys.argv[2:]
        return consumer(path, out, sealed, float(limit))

    ap = argparse.ArgumentParser(description="loss and duplication of queue items under kills")
    ap.add_argument("--rwfs", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--name", default="eo")
    ap.add_argument("--sync")
    ap.add_argument("--producers", type=int, default=7)
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--consumers", type=int, default=3)
    ap.add_argument("--reader-kills", type=int, default=40)
    ap.add_argument("--daemon-kills", type=int, default=3)
    ap.add_argument("--duration", type=float, default=4, help="seconds the production is paced over")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    args.rwfs = os.path.abspath(args.rwfs)
    args.tmp = os.path.abspath(args.tmp)
    # SIGTERM (timeout, run.sh) still cleans up the children and the mount.
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    try:
        return run(args)
    except RuntimeError as e:
        print("exactly_once: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
