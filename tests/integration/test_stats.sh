#!/usr/bin/env bash
# mnt/stats: "name value" lines, counting reads, batches, instructions by
# kind, lock use and event listeners.
. "$(dirname "$0")/lib.sh"

names=(uptime_seconds reads batches batch_errors insn_mov insn_add insn_sub
	insn_mul insn_div insn_set insn_read insn_write lock_shared lock_exclusive
	lock_readers lock_waiting_writers lock_longest_wait_us events_listeners)

stats=$(timeout 10 cat "$MNT/stats") || fail "cannot read mnt/stats"
while IFS= read -r line; do
	assert_match '^[a-z0-9_.-]+ (-?[0-9]+|[0-9a-f]{64}|[a-z]+)$' "$line" "mnt/stats line"
done <<<"$stats"
for n in "${names[@]}"; do
	assert_eq 1 "$(grep -c "^$n [0-9][0-9]* *\$" <<<"$stats")" "'$n' lines in mnt/stats"
done
assert_eq 0 "$(stat_value events_listeners)" "events_listeners with no listener"
assert_eq 0 "$(stat_value batch_errors)" "batch_errors at start"

# snap: stores every counter as before_NAME.
snap() {
	local n
	for n in "${names[@]}"; do
		printf -v "before_$n" '%s' "$(stat_value "$n")"
	done
}
# delta NAME: how much NAME grew since snap.
delta() {
	local b=before_$1
	echo $(($(stat_value "$1") - ${!b}))
}

snap
echo 5 >"$MNT/A"
assert_eq 1 "$(delta batches)" "batches after echo 5 > mnt/A"
assert_eq 1 "$(delta insn_set)" "insn_set after echo 5 > mnt/A"
assert_eq 0 "$(delta insn_add)" "insn_add after echo 5 > mnt/A"
(($(delta lock_exclusive) >= 1)) || fail "lock_exclusive did not grow after a register write"

snap
cat "$MNT/A" >/dev/null
(($(delta reads) >= 1)) || fail "reads did not grow after cat mnt/A"
(($(delta lock_shared) >= 1)) || fail "lock_shared did not grow after cat mnt/A"
assert_eq 0 "$(delta batches)" "batches after cat mnt/A"

snap
ctl_call $'MOV A B\nADD B 1\nSUB B 2\nMUL B 3\nDIV B 4\nSET C 1\nWRITE C 5\nREAD D 5\nADD D 1'
assert_eq OK "$CTL_STATUS" "a batch of every kind"
assert_eq 1 "$(delta batches)" "batches after one batch"
for kind in mov sub mul div set write read; do
	assert_eq 1 "$(delta insn_$kind)" "insn_$kind after one batch"
done
assert_eq 2 "$(delta insn_add)" "insn_add after one batch"
assert_eq 0 "$(delta batch_errors)" "batch_errors after a good batch"

snap
ctl_call 'DIV A Z'
assert_eq EDOM "$CTL_STATUS" "DIV A Z"
assert_eq 1 "$(delta batch_errors)" "batch_errors after a division by zero"
ctl_call 'FOO'
assert_eq EINVAL "$CTL_STATUS" "FOO"
assert_eq 2 "$(delta batch_errors)" "batch_errors after a parse error"

# Listeners: one open mnt/events counts while it is open.
exec 5<"$MNT/events" || fail "cannot open mnt/events"
assert_eq 1 "$(stat_value events_listeners)" "events_listeners with one open"
exec 5<&-
wait_until 5 stat_is events_listeners 0 || fail "events_listeners did not go back to 0"

# Nobody holds or waits for the lock now.
assert_eq 0 "$(stat_value lock_readers)" "lock_readers when idle"
assert_eq 0 "$(stat_value lock_waiting_writers)" "lock_waiting_writers when idle"

sleep 1.1
(($(stat_value uptime_seconds) >= 1)) || fail "uptime_seconds did not reach 1"
