#!/usr/bin/env bash
# Queues as files: creating them (touch, mkfifo, an O_CREAT open) and
# removing them, their names, the rest of the namespace staying fixed, one
# item per line in and one item per read() out, the size and capacity
# errors with nothing entering, O_NONBLOCK, the user.capacity attribute,
# ls -l, and the event log lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# Queues get the mode their maker asks, less its umask.
umask 022

# --- creating and removing --------------------------------------------------

touch "$Q/jobs" || fail "touch mnt/queues/jobs"
mkfifo "$Q/fifo" || fail "mkfifo mnt/queues/fifo"
echo x >"$Q/made" || fail "echo x > mnt/queues/made"
assert_match '^regular' "$(stat -c %F "$Q/fifo")" "type of a queue made by mkfifo"
[[ -f "$Q/jobs" && ! -p "$Q/fifo" ]] || fail "queues are not regular files"
assert_eq $'fifo\njobs\nmade' "$(ls "$Q")" "ls mnt/queues"
assert_eq "-rw-r--r-- 1048576" "$(stat -c '%A %s' "$Q/jobs")" "mode and size of an empty queue"
assert_eq 0 "$(qbytes "$Q/jobs")" "user.bytes of an empty queue"
assert_eq 2 "$(qbytes "$Q/made")" "user.bytes of a queue holding x"
assert_eq "b'x\n'" "$(qio r "$Q/made" --nb)" "the item of echo x > made"
# touch of an existing queue changes nothing; an exclusive create fails.
touch "$Q/jobs" || fail "touch of an existing queue"
assert_eq OK "$(qio create "$Q/jobs")" "O_CREAT open of an existing queue"
assert_eq EEXIST "$("$PYTHON" -c 'import os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL); print("OK")
except FileExistsError:
    print("EEXIST")' "$Q/jobs")" "O_EXCL create of an existing queue"

# Names: 1-64 of [A-Za-z0-9._-].
name64=$(printf 'n%.0s' {1..64})
for name in "$name64" a Z9 "x.y_z-1" ... .hidden -; do
	assert_eq OK "$(qio create "$Q/$name")" "create queue '$name'"
	[[ -f "$Q/$name" ]] || fail "queue '$name' not there after its creation"
done
for name in "${name64}x" "a b" "a:b" 'a*' "caf$(printf '\xc3\xa9')" 'a\b' "tab$(printf '\t')" \
	$'nl\n12:00:00.000 pid 1 (fake) line'; do
	assert_eq EINVAL "$(qio create "$Q/$name")" "create queue '$name'"
	[[ ! -e "$Q/$name" ]] || fail "queue '$name' exists after EINVAL"
done
touch "$Q/a b" 2>/dev/null && fail "touch 'mnt/queues/a b' succeeded"
mkfifo "$Q/${name64}x" 2>/dev/null && fail "mkfifo of a 65-character name succeeded"
# "." and ".." are the directories, never queues.
assert_eq EISDIR "$(qio create "$Q/.")" "O_CREAT open of mnt/queues/."
touch "$Q/." "$Q/.." 2>/dev/null
grep -Eq '^queue\.\.{1,2}\.depth ' "$MNT/stats" && fail "a queue named . or .. in mnt/stats"
assert_not_contains "$(ls -a "$Q" | grep -vx '\.\.\?')" $'\n.\n' "ls -a mnt/queues"

# The rest of the namespace is fixed.
assert_eq EPERM "$(qio create "$MNT/newfile")" "create a file at the root"
assert_eq EPERM "$(qio create "$MNT/mem/x")" "create a file in mem/"
touch "$MNT/newfile" 2>/dev/null && fail "touch mnt/newfile succeeded"
mkfifo "$MNT/mem/f" 2>/dev/null && fail "mkfifo mnt/mem/f succeeded"
mkdir "$Q/dir" 2>/dev/null && fail "mkdir mnt/queues/dir succeeded"
assert_eq EPERM "$("$PYTHON" -c 'import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2]); print("OK")
except OSError as e:
    import errno; print(errno.errorcode[e.errno])' "$Q/jobs" "$Q/jobs2")" "rename of a queue"
rm "$MNT/A" 2>/dev/null && fail "rm mnt/A succeeded"
rmdir "$Q" 2>/dev/null && fail "rmdir mnt/queues succeeded"
[[ -e "$Q/jobs" && ! -e "$Q/jobs2" ]] || fail "the failed rename changed something"

rm "$Q/made" || fail "rm mnt/queues/made"
[[ ! -e "$Q/made" ]] || fail "mnt/queues/made still there after rm"
rm "$Q/made" 2>/dev/null && fail "a second rm of mnt/queues/made succeeded"
assert_eq open:ENOENT "$(qio r "$Q/made" --nb)" "open of a removed queue"
for name in "$name64" a Z9 "x.y_z-1" ... .hidden - fifo; do
	rm -- "$Q/$name" || fail "rm queue '$name'"
done
assert_eq jobs "$(ls -A "$Q")" "ls -A mnt/queues after the rms"

# --- items in and out ---------------------------------------------------------

assert_eq OK "$(qio w "$Q/jobs" 'b"a\nb\n\nc"')" "a write of four lines"
assert_eq 4 "$(stat_value queue.jobs.depth)" "depth after a write of four lines"
assert_eq 7 "$(qbytes "$Q/jobs")" "user.bytes: bytes waiting"
assert_eq 7 "$(stat_value queue.jobs.bytes)" "queue.jobs.bytes"
assert_eq "b'a\n'" "$(qio r "$Q/jobs")" "first read"
assert_eq "b'b\n'" "$(qio r "$Q/jobs")" "second read"
assert_eq "b'\n'" "$(qio r "$Q/jobs")" "an empty line read back"
assert_eq "b'c\n'" "$(qio r "$Q/jobs")" "a final fragment read back with its newline"
assert_eq EAGAIN "$(qio r "$Q/jobs" --nb)" "O_NONBLOCK read of an empty queue"
assert_eq 0 "$(qbytes "$Q/jobs")" "user.bytes of an emptied queue"
# The bytes of an item are kept as they are.
assert_eq OK "$(qio w "$Q/jobs" 'b"  two  spaces \t\r\n\xff\x00end\n"')" "odd bytes"
assert_eq "b'  two  spaces \t\r\n'" "$(qio r "$Q/jobs")" "an item with blanks and CR"
assert_eq "b'\xff\x00end\n'" "$(qio r "$Q/jobs")" "an item with binary bytes"
# One item per read(), even with a big buffer and many items waiting.
assert_eq OK "$(qio w "$Q/jobs" 'b"".join(b"item%d\n" % i for i in range(50))')" "50 items"
out=$(qio drain "$Q/jobs")
assert_eq "$(for i in $(seq 0 49); do echo "b'item$i\n'"; done; echo EAGAIN)" "$out" "50 reads of 50 items"
# Line-by-line writers (bash's echo) also work.
printf 'p1\np2\n' >"$Q/jobs" || fail "printf > queue"
echo p3 >>"$Q/jobs" || fail "echo >> queue"
assert_eq $'b\'p1\\n\'\nb\'p2\\n\'\nb\'p3\\n\'\nEAGAIN' "$(qio drain "$Q/jobs")" "items of printf and echo"

# A buffer too small: EMSGSIZE, the item stays for a later, bigger read.
assert_eq OK "$(qio w "$Q/jobs" 'b"hello world\nnext"')" "two items"
assert_eq EMSGSIZE "$(qio r "$Q/jobs" 5)" "read(5) of 'hello world'"
assert_eq EMSGSIZE "$(qio r "$Q/jobs" 11)" "read(11) of 'hello world' (no room for its newline)"
assert_eq 2 "$(stat_value queue.jobs.depth)" "depth after EMSGSIZE reads"
assert_eq "b'hello world\n'" "$(qio r "$Q/jobs" 12)" "read(12) of 'hello world'"
assert_eq "b'next\n'" "$(qio r "$Q/jobs" 5)" "read(5) of 'next'"
dd if="$Q/jobs" bs=1 count=1 iflag=nonblock of=/dev/null status=none 2>/dev/null
assert_eq 0 "$(stat_value queue.jobs.depth)" "depth after a non-blocking dd of an empty queue"

# Item size: 4096 bytes at most (newline not counted); nothing enters on error.
assert_eq OK "$(qio w "$Q/jobs" 'b"m" * 4096')" "an item of 4096 bytes"
assert_eq OK "$(qio w "$Q/jobs" 'b"n" * 4096 + b"\n"')" "an item of 4096 bytes and its newline"
assert_eq EMSGSIZE "$(qio w "$Q/jobs" 'b"o" * 4097')" "an item of 4097 bytes"
assert_eq EMSGSIZE "$(qio w "$Q/jobs" 'b"ok1\nok2\n" + b"o" * 4097 + b"\nok3\n"')" "good items around one of 4097 bytes"
assert_eq 2 "$(stat_value queue.jobs.depth)" "depth after the EMSGSIZE writes"
assert_eq EMSGSIZE "$(qio r "$Q/jobs" 4096)" "read(4096) of a 4096-byte item"
out=$(qio r "$Q/jobs" 4097)
assert_eq "b'$(printf 'm%.0s' {1..4096})\n'" "$out" "read(4097) of a 4096-byte item"
out=$(qio r "$Q/jobs" 100000)
assert_eq "b'$(printf 'n%.0s' {1..4096})\n'" "$out" "the second 4096-byte item"

# --- capacity ------------------------------------------------------------------

assert_eq 100 "$(getfattr --absolute-names --only-values -n user.capacity "$Q/jobs")" "default capacity"
assert_eq "user.capacity user.bytes" "$("$PYTHON" -c 'import os, sys; print(" ".join(os.listxattr(sys.argv[1])))' "$Q/jobs")" "listxattr"
setfattr -n user.capacity -v 3 "$Q/jobs" || fail "setfattr user.capacity 3"
assert_eq 3 "$(getfattr --absolute-names --only-values -n user.capacity "$Q/jobs")" "capacity after setfattr"
assert_eq 3 "$(stat_value queue.jobs.capacity)" "queue.jobs.capacity"
for bad in 0 100001 abc -1 "" 3x 99999999999999999999; do
	assert_eq EINVAL "$(qio setx "$Q/jobs" user.capacity "$bad")" "user.capacity '$bad'"
done
assert_eq 3 "$(getfattr --absolute-names --only-values -n user.capacity "$Q/jobs")" "capacity after bad values"
assert_eq ENOTSUP "$(qio setx "$Q/jobs" user.other 5)" "setxattr of another name"
assert_eq ENOTSUP "$(qio setx "$Q/jobs" trusted.capacity 5)" "setxattr trusted.capacity"
assert_eq ENODATA "$(qio getx "$Q/jobs" user.other)" "getxattr of another name"
assert_eq ENOTSUP "$(qio setx "$MNT/A" user.capacity 5)" "setxattr on a register"
assert_eq ENODATA "$(qio getx "$MNT/A" user.capacity)" "getxattr on a register"
# Still refused after the errors (the kernel must not give up on xattrs).
setfattr -n user.capacity -v 100000 "$Q/jobs" || fail "setfattr 100000"
assert_eq 100000 "$(qio getx "$Q/jobs" user.capacity)" "capacity 100000"
assert_eq OK "$(qio setx "$Q/jobs" user.capacity 1)" "capacity 1"
assert_eq OK "$(qio setx "$Q/jobs" user.capacity $'3\n')" "capacity with a newline (echo's)"
assert_eq 3 "$(qio getx "$Q/jobs" user.capacity)" "capacity after '3\\n'"

# More items in one write than the capacity: EFBIG, whatever the depth.
assert_eq EFBIG "$(qio w "$Q/jobs" 'b"1\n2\n3\n4\n"')" "4 items into capacity 3"
assert_eq EFBIG "$(qio w "$Q/jobs" 'b"1\n2\n3\n4"' --nb)" "4 items into capacity 3 (O_NONBLOCK)"
assert_eq 0 "$(stat_value queue.jobs.depth)" "depth after EFBIG"
assert_eq OK "$(qio w "$Q/jobs" 'b"a\nb"')" "2 items into capacity 3"
# Not enough room for all the items of a write: EAGAIN, nothing enters.
assert_eq EAGAIN "$(qio w "$Q/jobs" 'b"c\nd\n"' --nb)" "2 more items, room for 1 (O_NONBLOCK)"
assert_eq 2 "$(stat_value queue.jobs.depth)" "depth after EAGAIN"
assert_eq OK "$(qio w "$Q/jobs" 'b"c"' --nb)" "1 more item, room for 1 (O_NONBLOCK)"
assert_eq EAGAIN "$(qio w "$Q/jobs" 'b"d"' --nb)" "a full queue (O_NONBLOCK)"
assert_eq EAGAIN "$(qio w "$Q/jobs" 'b"\n"' --nb)" "an empty item into a full queue"
assert_eq EFBIG "$(qio w "$Q/jobs" 'b"1\n2\n3\n4"' --nb)" "4 items into a full queue of 3"
# A capacity below the depth keeps the items and refuses new ones.
setfattr -n user.capacity -v 1 "$Q/jobs" || fail "setfattr 1"
assert_eq 3 "$(stat_value queue.jobs.depth)" "depth after lowering the capacity"
assert_eq "b'a\n'" "$(qio r "$Q/jobs" --nb)" "first item after lowering the capacity"
assert_eq EAGAIN "$(qio w "$Q/jobs" 'b"d"' --nb)" "2 of capacity 1"
assert_eq "b'b\n'" "$(qio r "$Q/jobs" --nb)" "second item"
assert_eq "b'c\n'" "$(qio r "$Q/jobs" --nb)" "third item"
assert_eq OK "$(qio w "$Q/jobs" 'b"d"' --nb)" "room again"
assert_eq "b'd\n'" "$(qio r "$Q/jobs" --nb)" "the item written after the room came back"

# A truncate takes nothing: neither the O_TRUNC of `echo x >` nor truncate(1).
setfattr -n user.capacity -v 10 "$Q/jobs" || fail "setfattr 10"
assert_eq OK "$(qio w "$Q/jobs" 'b"t1\nt2"')" "two items"
echo t3 >"$Q/jobs" || fail "echo t3 > jobs"
truncate -s 0 "$Q/jobs" || fail "truncate -s 0 jobs"
assert_eq $'b\'t1\\n\'\nb\'t2\\n\'\nb\'t3\\n\'\nEAGAIN' "$(qio drain "$Q/jobs")" "items after O_TRUNC and truncate"

# A queue removed and made again is a new, empty queue with the default capacity.
rm "$Q/jobs" || fail "rm jobs"
touch "$Q/jobs" || fail "touch jobs again"
assert_eq 100 "$(qio getx "$Q/jobs" user.capacity)" "capacity of a new queue of an old name"
assert_eq 0 "$(stat_value queue.jobs.in)" "queue.jobs.in of a new queue of an old name"

# --- the event log -----------------------------------------------------------

echo 'a' >"$Q/logged" || fail "echo a > logged"
assert_eq OK "$(qio w "$Q/logged" 'b"b\nc"')" "write b, c"
assert_eq "b'a\n'" "$(qio r "$Q/logged")" "read a"
chmod a-w "$Q/logged" || fail "chmod a-w"
rm "$Q/logged" || fail "rm logged"
wait_until 5 grep -q ' rm queues/logged -> ok$' "$RWFS_LOG" || fail "no rm line in the event log"
log=$(cat "$RWFS_LOG")
for line in 'create queues/jobs -> ok' 'create queues/fifo -> ok' 'create queues/logged -> ok' \
	'write queues/logged "a" -> ok' 'write queues/logged "b\nc" -> ok' \
	'read queues/logged -> "a"' 'read queues/jobs -> ""' 'seal queues/logged -> ok' \
	'rm queues/logged -> ok' 'rm queues/made -> ok'; do
	grep -qE "^[0-9:.]+ pid [0-9]+ \([^)]*\) $(sed 's/[][\.*^$"()]/\\&/g' <<<"$line")\$" <<<"$log" ||
		fail "no event line '$line' in:
$(grep queues/ <<<"$log" | tail -20)"
done
grep -E '^[0-9:.]+ pid [0-9]+ \(touch\) create queues/jobs -> ok$' <<<"$log" >/dev/null ||
	fail "the create line does not name touch"
grep -E ' write queues/jobs .* -> ' <<<"$log" | grep -q 'File too large' ||
	fail "no event line for the EFBIG write"
# Names are the client's bytes: one with a newline must not forge a line.
grep -q '^12:00:00.000 pid 1 (fake) line' <<<"$log" &&
	fail "a queue name with a newline forged an event line:
$(grep -B1 '^12:00:00.000 pid 1 (fake)' <<<"$log")"
bad=$(grep -vE "$EVENT_RE" <<<"$log") && fail "event lines not in the format: $bad"
true
