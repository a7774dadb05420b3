#!/usr/bin/env bash
# The state directory's failures: a full disk fails writes with ENOSPC and
# changes nothing, reads go on, writes work again once there is room, and
# nothing acknowledged is lost.  A second daemon on the same state, a
# missing and a read-only state directory are one-line errors.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/small
mkdir "$state"
mount -t tmpfs -o size=64k tmpfs "$state" || fail "cannot mount a small tmpfs"
at_exit "umount -l '$state'"
start_rwfs d --state="$state"

# 900 instructions a batch: about 7 KiB a record.
batch=$(for i in $(seq 900); do echo 'ADD A 1'; done)
ok=0
for i in $(seq 40); do
	status=$(printf '%s\n' "$batch" | "$PYTHON" "$FSIO" write "$TEST_TMP/d/ctl" --stdin)
	[[ "$status" == OK ]] && ok=$((ok + 1)) && continue
	assert_eq ENOSPC "$status" "errno of a write to a full disk"
	break
done
((ok > 0 && ok < 40)) || fail "the disk never filled ($ok batches went in)"
# Then single instructions until not even those fit.
small=0
while ((small < 5000)); do
	status=$("$PYTHON" "$FSIO" write "$TEST_TMP/d/ctl" 'ADD A 1')
	[[ "$status" == OK ]] || break
	small=$((small + 1))
done
assert_eq ENOSPC "$status" "errno of a small write to a full disk"
total=$((ok * 900 + small))
assert_eq $total "$(value "$TEST_TMP/d/A")" "A after ENOSPC"
expect_errno ENOSPC "$TEST_TMP/d/B" 5
assert_eq 0 "$(value "$TEST_TMP/d/B")" "B after a refused write"
assert_contains "$(timeout 10 cat "$TEST_TMP/d/registers")" "A $total" "registers read"

mount -o remount,size=4m "$state" || fail "cannot grow the tmpfs"
expect_errno OK "$TEST_TMP/d/B" 5
stop_rwfs d || fail "clean exit"
start_rwfs d --state="$state"
assert_eq $total "$(value "$TEST_TMP/d/A")" "A after restart"
assert_eq 5 "$(value "$TEST_TMP/d/B")" "B after restart"

# A second daemon on the same state directory.
mkdir "$TEST_TMP/other"
out=$(timeout 10 "$RWFS" -f --state="$state" "$TEST_TMP/other" 2>&1)
assert_eq 1 $? "exit status of a second daemon"
assert_contains "$out" "in use by another rwfs (pid $DAEMON_PID)" "second daemon message"
is_mounted "$TEST_TMP/other" && fail "second daemon mounted"
stop_rwfs d || fail "clean exit"

# A missing state directory is made, mode 0700; a missing parent is an error.
out=$(timeout 10 "$RWFS" -f --state="$TEST_TMP/no/such" "$TEST_TMP/other" 2>&1)
assert_eq 1 $? "exit status with a state directory whose parent is missing"
assert_eq "rwfs: cannot make state directory '$TEST_TMP/no/such': No such file or directory" \
	"$out" "message"
start_rwfs fresh --state="$TEST_TMP/made"
assert_eq 700 "$(stat -c %a "$TEST_TMP/made")" "mode of the state directory rwfs made"
stop_rwfs fresh || fail "clean exit of the daemon on a new state directory"

ro=$TEST_TMP/ro
mkdir "$ro"
mount -t tmpfs -o ro,size=64k tmpfs "$ro" || fail "cannot mount a read-only tmpfs"
at_exit "umount -l '$ro'"
out=$(timeout 10 "$RWFS" -f --state="$ro" "$TEST_TMP/other" 2>&1)
assert_eq 1 $? "exit status with a read-only state directory"
assert_eq "rwfs: state directory '$ro' is read-only" "$out" "message"
