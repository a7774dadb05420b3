#!/usr/bin/env bash
# rm of a queue: its items are gone, blocked readers wake with end of file,
# and files still open on it read end of file and fail writes with EPIPE,
# also after a new queue of the same name is made (which they never
# reach).  With a writer parked on a full queue, rm waits in the kernel
# until that writer gets in (a reader makes room), then removes the queue
# and the item.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# Blocked readers wake with end of file.
touch "$Q/r"
park_readers r 3
timeout 5 rm "$Q/r" || fail "rm of a queue with blocked readers failed or hung (status $?)"
readers_got rm EOF EOF EOF
wait_until 5 grep -qE ' \(rm\) rm queues/r -> ok$' "$RWFS_LOG" || fail "no rm line in the event log"
assert_not_contains "$(cat "$MNT/stats")" "queue.r." "mnt/stats after rm"

# Open files outlive the queue: reads end, writes fail; a new queue of the
# same name is another queue.
touch "$Q/o"
assert_eq OK "$(qio w "$Q/o" 'b"old1\nold2"')" "items of the old queue"
timeout 20 "$PYTHON" - "$Q/o" "$MNT/stats" >"$TEST_TMP/handles" 2>&1 <<'PY' &
import errno, os, sys, time
path, stats = sys.argv[1], sys.argv[2]
r = os.open(path, os.O_RDONLY)
rn = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
w = os.open(path, os.O_WRONLY)
wn = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
print("opened", flush=True)
while os.path.exists(path):
    time.sleep(0.05)
def res(fn):
    try:
        v = fn()
        return "EOF" if v == b"" else repr(v)
    except OSError as e:
        return errno.errorcode[e.errno]
# Before and after a new queue of the same name appears.
for phase in ("gone", "new"):
    if phase == "new":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        os.write(fd, b"fresh\n")
        os.close(fd)
    print(phase, res(lambda: os.read(r, 100)), res(lambda: os.read(rn, 100)),
          res(lambda: os.write(w, b"x\n")), res(lambda: os.write(wn, b"x\n")))
PY
handles=$!
wait_until 10 grep -q opened "$TEST_TMP/handles" || fail "the handles were not opened: $(cat "$TEST_TMP/handles")"
rm "$Q/o" || fail "rm o"
wait "$handles" || fail "handles script: $(cat "$TEST_TMP/handles")"
assert_eq $'opened\ngone EOF EOF EPIPE EPIPE\nnew EOF EOF EPIPE EPIPE' "$(cat "$TEST_TMP/handles")" "old handles of a removed queue"
assert_eq $'b\'fresh\\n\'\nEAGAIN' "$(qio drain "$Q/o")" "the new queue holds only its own item"
assert_eq 1 "$(stat_value queue.o.in)" "queue.o.in of the new queue"

# The queue's items went with it.
touch "$Q/items"
assert_eq OK "$(qio w "$Q/items" 'b"i1\ni2\ni3"')" "items"
rm "$Q/items" || fail "rm items"
touch "$Q/items"
assert_eq EAGAIN "$(qio r "$Q/items" --nb)" "a new queue of an old name is empty"
rm "$Q/items" "$Q/o" || fail "rm"
rm "$Q/nosuch" 2>/dev/null && fail "rm of a queue that does not exist succeeded"
assert_eq "" "$(ls -A "$Q")" "mnt/queues after the rms"

# A writer parked on a full queue holds the file in the kernel: rm waits
# behind it, uninterruptibly, until a reader makes room.  The writer's item
# enters, then the queue goes, with it; a file opened before reads end of
# file.
touch "$Q/w"
timeout 30 "$PYTHON" - "$Q/w" "$TEST_TMP/go" >"$TEST_TMP/old" 2>&1 <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("opened", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
print("EOF" if os.read(fd, 100) == b"" else "an item")
PY
old=$!
QUEUE_BG+=("$old")
wait_until 10 grep -q opened "$TEST_TMP/old" || fail "the old file was not opened: $(cat "$TEST_TMP/old")"
park_writer w 'b"blocked"'
start_behind rm rm "$Q/w"
assert_eq 1 "$(stat_value queue.w.depth)" "queue.w.depth while rm waits"
release_writer w
finish_behind rm
[[ ! -e "$Q/w" ]] || fail "mnt/queues/w still there"
assert_not_contains "$(cat "$MNT/stats")" "queue.w." "mnt/stats after the delayed rm"
logged_in_order 'write queues/w "blocked" -> ok' 'rm queues/w -> ok'
touch "$TEST_TMP/go"
wait_until 5 eval "! is_running $old" || fail "a read of the old file still blocked 5 s after rm"
assert_eq $'opened\nEOF' "$(cat "$TEST_TMP/old")" "a read of a file opened before the delayed rm"
assert_eq open:ENOENT "$(qio w "$Q/w" 'b"late"')" "a write to the removed queue's name"
