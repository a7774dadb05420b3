"""etcd_fault_queue.py - the queue clients of the mount kill test.

    etcd_fault_queue.py produce QUEUE NAME STOPFILE   pushes NAME-0, NAME-1,
        ... (one write each, retried while the queue is full) until STOPFILE
        appears; prints how many were acknowledged
    etcd_fault_queue.py consume QUEUE OUT   blocking reads until an error or
        end of file; every item received goes to OUT at once
    etcd_fault_queue.py drain QUEUE OUT     non-blocking reads until the
        queue is empty; the items go to OUT
    etcd_fault_queue.py check DIR           with DIR/acked.NAME (one per
        producer), DIR/received.* (one per consumer) and DIR/drained:
        every acknowledged item is received or drained, none twice but a
        consumer's last one (delivered as its mount died, before the cluster
        heard of it), at most one unacknowledged item more per producer (its
        write's answer lost), each producer's items in order; prints the
        counts
"""
import collections
import glob
import os
import re
import sys
import time


def produce(path, name, stop):
    acked = 0
    try:
        # Not waiting for room: when the consumers' mount dies with the
        # queue full, the producer still ends at the stop file.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        while not os.path.exists(stop):
            try:
                os.write(fd, b"%s-%d\n" % (name.encode(), acked))
            except BlockingIOError:
                time.sleep(0.01)
                continue
            acked += 1
            time.sleep(0.001)
    except OSError:
        pass
    print(acked)


def consume(path, out):
    with open(out, "wb", buffering=0) as f:
        try:
            fd = os.open(path, os.O_RDONLY)
            while True:
                item = os.read(fd, 100)
                if not item:
                    break
                f.write(item)
        except OSError:
            pass


def drain(path, out):
    with open(out, "wb") as f:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        while True:
            try:
                item = os.read(fd, 100)
            except BlockingIOError:
                break
            if not item:
                break
            f.write(item)


def items(path):
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines[-1] != b"":
        sys.exit("%s: not whole lines: %r" % (path, lines[-1][:40]))
    out = []
    for line in lines[:-1]:
        m = re.fullmatch(rb"(\w+)-(\d+)", line)
        if not m:
            sys.exit("%s: bad item %r" % (path, line))
        out.append((m.group(1).decode(), int(m.group(2))))
    return out


def in_order(seq, what):
    last = {}
    for p, n in seq:
        if n <= last.get(p, -1):
            sys.exit("%s: %s-%d after %s-%d" % (what, p, n, p, last[p]))
        last[p] = n


def check(tmp):
    acked = {f.rsplit(".", 1)[1]: int(open(f).read())
             for f in glob.glob(os.path.join(tmp, "acked.*"))}
    received = [items(f) for f in sorted(glob.glob(os.path.join(tmp, "received.*")))]
    drained = items(os.path.join(tmp, "drained"))
    everything = [i for r in received for i in r] + drained
    count = collections.Counter(everything)
    lasts = {r[-1] for r in received if r}
    again = [i for i, n in count.items() if n == 2 and i in lasts and i in drained]
    twice = [i for i, n in count.items() if n > 1 and i not in again]
    if twice:
        sys.exit("delivered twice: %r" % twice[:10])
    for r in received:
        in_order(r, "a consumer")
    in_order([i for i in drained if i not in again], "the drain")
    lost = extra = 0
    for p, n_acked in acked.items():
        present = {n for q, n in everything if q == p}
        missing = [n for n in range(n_acked) if n not in present]
        if missing:
            print("%s: acknowledged but gone: %r" % (p, missing[:20]))
        lost += len(missing)
        beyond = sorted(n for n in present if n >= n_acked)
        if beyond and beyond != [n_acked]:
            sys.exit("%s: %d acknowledged, but items %r are there" % (p, n_acked, beyond))
        extra += len(beyond)
    if lost:
        sys.exit("%d acknowledged items lost" % lost)
    n_received = sum(len(r) for r in received)
    if sum(acked.values()) < 50 or n_received < 20:
        sys.exit("too little traffic: %d acknowledged, %d received"
                 % (sum(acked.values()), n_received))
    print("acknowledged %d, received on the killed mount %d, drained %d, lost 0, "
          "received and given back %d, unacknowledged but kept %d"
          % (sum(acked.values()), n_received, len(drained), len(again), extra))


def main():
    mode = sys.argv[1]
    if mode == "produce":
        produce(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "consume":
        consume(sys.argv[2], sys.argv[3])
    elif mode == "drain":
        drain(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[2])


main()
