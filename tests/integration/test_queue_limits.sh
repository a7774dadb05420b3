#!/usr/bin/env bash
# The limits that protect the daemon: at most 1024 queues (ENOSPC beyond,
# room again after an rm) and 64 MiB in all queues together (ENOSPC, with
# nothing entering, room again after a pop).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# --- 1024 queues ---------------------------------------------------------------

out=$(timeout 40 "$PYTHON" - "$Q" <<'PY'
import errno, os, sys
q = sys.argv[1]
for i in range(1024):
    os.close(os.open(os.path.join(q, "q%04d" % i), os.O_WRONLY | os.O_CREAT))
for name in ("q1024", "another"):
    try:
        os.close(os.open(os.path.join(q, name), os.O_WRONLY | os.O_CREAT))
        print("created", name)
    except OSError as e:
        print(name, errno.errorcode[e.errno])
try:
    os.mknod(os.path.join(q, "fifo"), 0o666 | 0o010000)
    print("created fifo")
except OSError as e:
    print("fifo", errno.errorcode[e.errno])
PY
) || fail "creating 1024 queues failed: $out"
assert_eq $'q1024 ENOSPC\nanother ENOSPC\nfifo ENOSPC' "$out" "queue 1025"
assert_eq 1024 "$(ls "$Q" | wc -l)" "queues listed"
assert_eq 1024 "$(grep -c '^queue\..*\.depth ' "$MNT/stats")" "queues in mnt/stats"
[[ -e "$Q/q1024" ]] && fail "q1024 exists"
echo x >"$Q/q0000" || fail "a write to queue 1"
echo x >"$Q/q1023" || fail "a write to queue 1024"
rm "$Q/q0500" || fail "rm q0500"
touch "$Q/q1024" || fail "a queue after an rm"
touch "$Q/q1025" 2>/dev/null && fail "queue 1025 after one rm and one create"
for i in $(seq -f '%04g' 0 1024); do
	[[ "$i" == 0500 ]] || printf '%s\0' "$Q/q$i"
done | xargs -0 rm -- || fail "removing the queues"
assert_eq "" "$(ls "$Q")" "mnt/queues after removing them all"

# --- 64 MiB in all queues ------------------------------------------------------

touch "$Q/big" "$Q/small"
setfattr -n user.capacity -v 100000 "$Q/big" || fail "setfattr big"
out=$(timeout 40 "$PYTHON" - "$Q/big" "$Q/small" <<'PY'
import errno, os, sys
big, small = sys.argv[1], sys.argv[2]
LIMIT = 64 << 20
item = b"i" * 4096 + b"\n"
fd = os.open(big, os.O_WRONLY | os.O_NONBLOCK)
held = 0
# Writes of 200 items (800 KiB) while they fit, then single items.
for batch in (200, 1):
    while True:
        try:
            os.write(fd, item * batch)
            held += len(item) * batch
        except OSError as e:
            if e.errno != errno.ENOSPC:
                sys.exit("write of %d items at %d bytes: %s" % (batch, held, e))
            break
if held > LIMIT or held + len(item) <= LIMIT:
    sys.exit("refused at %d bytes, limit %d" % (held, LIMIT))
room = LIMIT - held
# Another queue is refused too, once what it would add does not fit.
s = os.open(small, os.O_WRONLY | os.O_NONBLOCK)
try:
    os.write(s, b"x" * (room + 1))
    sys.exit("a write of %d bytes with %d bytes left succeeded" % (room + 1, room))
except OSError as e:
    if e.errno != errno.ENOSPC:
        sys.exit("a write past the limit to another queue: %s, not ENOSPC" % e)
print(held)
PY
) || fail "filling 64 MiB: $out"
held=$out
assert_eq "$held" "$(($(stat_value queue.big.bytes) + $(stat_value queue.small.bytes)))" "bytes held"
assert_eq 0 "$(stat_value queue.small.depth)" "nothing entered the other queue"
assert_eq "$held" "$(qbytes "$Q/big")" "user.bytes of the big queue"
before=$(stat_value queue.big.in)
assert_eq ENOSPC "$(qio w "$Q/big" 'b"one more item\n" * 3' --nb)" "one write more"
assert_eq ENOSPC "$(qio w "$Q/big" 'b"x" * 4096')" "a blocking write past the limit fails, it does not wait"
assert_eq "$before" "$(stat_value queue.big.in)" "queue.big.in after ENOSPC"
# A pop makes room.
assert_eq "b'$(printf 'i%.0s' {1..4096})\n'" "$(qio r "$Q/big" 5000)" "pop a big item"
assert_eq OK "$(qio w "$Q/small" 'b"fits now"')" "a write after a pop"
assert_eq "b'fits now\n'" "$(qio r "$Q/small" --nb)" "the item that fitted"
# The space comes back with rm.
rm "$Q/big" || fail "rm big"
assert_eq OK "$(qio w "$Q/small" 'b"s" * 4096')" "a big item after the rm"
assert_eq 4097 "$(stat_value queue.small.bytes)" "queue.small.bytes"
