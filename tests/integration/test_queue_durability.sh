#!/usr/bin/env bash
# Queues survive a clean unmount and a kill -9 of the daemon: every
# acknowledged item is still queued, in order, no popped item comes back;
# the capacity, the seal and removals survive too; --dump shows the
# QUEUE_CREATE, QUEUE_PUSH, QUEUE_POP and QUEUE_ACK records.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/queue_lib.sh"

# Queues get the mode their maker asks, less its umask.
umask 022

state=$TEST_TMP/state
mkdir "$state"
D=$TEST_TMP/d
Q=$D/queues

# kill9: kill -9 the daemon and clear its dead mount.
kill9() {
	kill -KILL "$DAEMON_PID"
	wait_until 5 eval "! is_running $DAEMON_PID" || fail "the daemon survived kill -9"
	unmount "$D" || fail "cannot unmount the dead mount"
}

start_rwfs d --state="$state"
touch "$Q/jobs" "$Q/s" "$Q/gone" || fail "touch"
assert_eq OK "$(qio w "$Q/jobs" 'b"one\ntwo words\n\n  padded  \nfive"')" "push five items"
echo six >>"$Q/jobs" || fail "echo six"
assert_eq "b'one\n'" "$(qio r "$Q/jobs")" "pop one"
setfattr -n user.capacity -v 7 "$Q/jobs" || fail "setfattr jobs 7"
assert_eq OK "$(qio w "$Q/s" 'b"s1\ns2"')" "push to s"
chmod a-w "$Q/s" || fail "chmod a-w s"
assert_eq OK "$(qio w "$Q/gone" 'b"g1"')" "push to gone"
rm "$Q/gone" || fail "rm gone"
stop_rwfs d || fail "the daemon's exit status after fusermount3 -u"

dump=$("$RWFS" --dump --state="$state") || fail "--dump failed"
# Items keep their bytes, the empty one too (\n\n), one record a write;
# chmod a-w is a QUEUE_SETATTR of the mode (1: QUEUES_SET_MODE).
for record in 'QUEUE_CREATE "jobs" 100' 'QUEUE_PUSH "jobs" "one\ntwo words\n\n  padded  \nfive"' \
	'QUEUE_PUSH "jobs" "six\n"' 'QUEUE_POP "jobs"' 'QUEUE_ACK "jobs"' 'QUEUE_CAPACITY "jobs" 7' \
	'QUEUE_CREATE "s" 100' 'QUEUE_PUSH "s" "s1\ns2"' 'QUEUE_SETATTR "s" 1 mode 0444' 'QUEUE_DELETE "gone"'; do
	grep -qF -- "$record" <<<"$dump" || fail "no '$record' in --dump:
$dump"
done

# After a clean restart.
start_rwfs d --state="$state"
assert_eq $'jobs\ns' "$(ls "$Q")" "queues after the restart"
assert_eq 7 "$(qio getx "$Q/jobs" user.capacity)" "capacity of jobs after the restart"
assert_eq "-r--r--r--" "$(stat -c %A "$Q/s")" "ls -l of the sealed queue after the restart"
assert_eq 6 "$(qbytes "$Q/s")" "user.bytes of the sealed queue after the restart"
assert_eq 5 "$(timeout 5 awk '$1 == "queue.jobs.depth" { print $2 }' "$D/stats")" "depth of jobs after the restart"
assert_eq 1 "$(timeout 5 awk '$1 == "queue.s.sealed" { print $2 }' "$D/stats")" "queue.s.sealed after the restart"
out=$(qio w "$Q/s" 'b"s3"')
write_refused "$out" || fail "write to the sealed queue after the restart: $out"
assert_eq "b'two words\n'" "$(qio r "$Q/jobs")" "first item after the restart"
assert_eq "b'\n'" "$(qio r "$Q/jobs")" "second item after the restart"
assert_eq OK "$(qio w "$Q/jobs" 'b"seven\neight"')" "push after the restart"
assert_eq EFBIG "$(qio w "$Q/jobs" 'b"1\n2\n3\n4\n5\n6\n7\n8"')" "8 items into capacity 7 after the restart"

# After kill -9: what was acknowledged is there, what was popped is not.
kill9
start_rwfs d --state="$state"
assert_eq $'b\'  padded  \\n\'\nb\'five\\n\'\nb\'six\\n\'\nb\'seven\\n\'\nb\'eight\\n\'\nEAGAIN' \
	"$(qio drain "$Q/jobs")" "jobs after kill -9"
assert_eq $'b\'s1\\n\'\nb\'s2\\n\'\nEOF' "$(qio drain "$Q/s")" "the sealed queue drains to end of file after kill -9"
chmod u+w "$Q/s" || fail "chmod u+w s"
setfattr -n user.capacity -v 3 "$Q/s" || fail "setfattr s 3"
assert_eq OK "$(qio w "$Q/s" 'b"u1\nu2"')" "push to the unsealed queue"
touch "$Q/late" && echo late >"$Q/late" || fail "a queue made after the restart"
kill9

start_rwfs d --state="$state"
assert_eq EAGAIN "$(qio drain "$Q/jobs")" "jobs, drained before the kill, stays empty"
assert_eq "-rw-r--r--" "$(stat -c %A "$Q/s")" "the unseal survived"
assert_eq 3 "$(qio getx "$Q/s" user.capacity)" "capacity of s"
assert_eq $'b\'u1\\n\'\nb\'u2\\n\'\nEAGAIN' "$(qio drain "$Q/s")" "s after the second kill -9"
assert_eq $'b\'late\\n\'\nEAGAIN' "$(qio drain "$Q/late")" "late after the second kill -9"
assert_eq $'jobs\nlate\ns' "$(ls "$Q")" "queues after the second kill -9"
stop_rwfs d || fail "the daemon's last exit status"
