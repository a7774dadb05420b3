#!/usr/bin/env bash
# Sealing with chmod a-w: writers get EPIPE (or EACCES at open), readers
# drain what is left and then get end of file, blocked readers wake with
# end of file; chmod u+w reopens the queue; ls -l shows the seal.  With a
# writer parked on a full queue, chmod waits in the kernel until that
# writer gets in (a reader makes room), then seals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# Queues get the mode their maker asks, less its umask.
umask 022

touch "$Q/s" "$Q/other"
assert_eq OK "$(qio w "$Q/s" 'b"x\ny"')" "two items"
chmod a-w "$Q/s" || fail "chmod a-w"
assert_eq "-r--r--r--" "$(stat -c %A "$Q/s")" "ls -l of a sealed queue"
assert_eq 4 "$(qbytes "$Q/s")" "user.bytes of a sealed queue"
assert_eq 1 "$(stat_value queue.s.sealed)" "queue.s.sealed"
assert_eq 0 "$(stat_value queue.other.sealed)" "the other queue is not sealed"
wait_until 5 grep -qE ' \(chmod\) seal queues/s -> ok$' "$RWFS_LOG" || fail "no seal line in the event log"

out=$(qio w "$Q/s" 'b"z"')
write_refused "$out" || fail "write to a sealed queue: expected EPIPE or open:EACCES, got $out"
out=$(qio w "$Q/s" 'b"z"' --nb)
write_refused "$out" || fail "O_NONBLOCK write to a sealed queue: got $out"
echo z >"$Q/s" 2>/dev/null && fail "echo z > a sealed queue succeeded"
assert_eq 2 "$(stat_value queue.s.depth)" "depth after refused writes"
assert_eq 2 "$(stat_value queue.s.in)" "queue.s.in after refused writes"

# Readers drain, then end of file, again and again (O_NONBLOCK too).
out=$(timeout 5 cat "$Q/s") || fail "cat of a sealed queue did not end with EOF (status $?)"
assert_eq $'x\ny' "$out" "cat of a sealed queue"
assert_eq EOF "$(qio r "$Q/s")" "read of a sealed empty queue"
assert_eq EOF "$(qio r "$Q/s" --nb)" "O_NONBLOCK read of a sealed empty queue"
assert_eq $'EOF' "$(qio drain "$Q/s")" "drain of a sealed empty queue"
assert_eq "-r--r--r--" "$(stat -c %A "$Q/s")" "ls -l of a sealed empty queue"
assert_eq 0 "$(qbytes "$Q/s")" "user.bytes of a sealed empty queue"

# Unsealed: writable again, an empty queue blocks again.
chmod u+w "$Q/s" || fail "chmod u+w"
assert_eq "-rw-r--r--" "$(stat -c %A "$Q/s")" "mode after chmod u+w"
assert_eq 0 "$(stat_value queue.s.sealed)" "queue.s.sealed after chmod u+w"
wait_until 5 grep -qE ' \(chmod\) unseal queues/s -> ok$' "$RWFS_LOG" || fail "no unseal line in the event log"
assert_eq EAGAIN "$(qio r "$Q/s" --nb)" "O_NONBLOCK read of an unsealed empty queue"
assert_eq OK "$(qio w "$Q/s" 'b"again"')" "write after the unseal"
assert_eq "b'again\n'" "$(qio r "$Q/s")" "read after the unseal"

# Any mode without a write bit seals; any with one unseals.  The other
# bits are kept and shown.
for mode in 0444 0555 0000 0400; do
	chmod "$mode" "$Q/s" || fail "chmod $mode"
	assert_eq 1 "$(stat_value queue.s.sealed)" "sealed after chmod $mode"
	assert_eq "$(printf %o $((8#$mode)))" "$(stat -c %a "$Q/s")" "mode shown after chmod $mode"
	chmod 0666 "$Q/s" || fail "chmod 0666"
done
for mode in 0644 0200 0020 0002; do
	chmod a-w "$Q/s" || fail "chmod a-w"
	chmod "$mode" "$Q/s" || fail "chmod $mode"
	assert_eq 0 "$(stat_value queue.s.sealed)" "unsealed after chmod $mode"
	assert_eq "$(printf %o $((8#$mode)))" "$(stat -c %a "$Q/s")" "mode shown after chmod $mode"
done
# An unseal by name gives back the write bits the queue had.
chmod 0620 "$Q/s" || fail "chmod 0620"
chmod a-w "$Q/s" || fail "chmod a-w before user.unseal"
assert_eq 400 "$(stat -c %a "$Q/s")" "mode of the sealed queue"
setfattr -n user.unseal -v s "$Q" || fail "setfattr user.unseal"
assert_eq 620 "$(stat -c %a "$Q/s")" "mode after user.unseal"
chmod 0644 "$Q/s" || fail "chmod 0644"

# Blocked readers of an empty queue wake with end of file at the seal.
park_readers s 3
chmod a-w "$Q/s" || fail "chmod a-w with blocked readers"
readers_got "the seal" EOF EOF EOF
waiting_is s 0 0 || fail "readers still counted as waiting after the seal"
chmod u+w "$Q/s" || fail "chmod u+w"

# A writer parked on a full queue holds the file in the kernel: chmod a-w
# waits behind it, uninterruptibly, until a reader makes room.  The writer's
# item enters, then the seal comes.  Other queues are not held.
park_writer s 'b"blocked"'
start_behind "chmod a-w" chmod a-w "$Q/s"
assert_eq 0 "$(stat_value queue.s.sealed)" "queue.s.sealed while chmod a-w waits"
assert_eq OK "$(qio w "$Q/other" 'b"o"')" "a write to another queue while chmod a-w waits"
release_writer s
finish_behind "chmod a-w"
assert_eq 1 "$(stat_value queue.s.sealed)" "queue.s.sealed after chmod a-w"
assert_eq "-r--r--r--" "$(stat -c %A "$Q/s")" "mode after the delayed chmod a-w"
out=$(qio w "$Q/s" 'b"late"')
write_refused "$out" || fail "a write after the delayed seal: expected EPIPE or open:EACCES, got $out"
logged_in_order 'write queues/s "blocked" -> ok' 'seal queues/s -> ok'
assert_eq $'b\'blocked\\n\'\nEOF' "$(qio drain "$Q/s")" "drain after the delayed seal"
