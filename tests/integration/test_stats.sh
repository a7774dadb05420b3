#!/usr/bin/env bash
# mnt/stats: "name value" lines, counting reads, batches, instructions by
# kind, lock use and event listeners; the daemon's version, pid, state
# directory and journal; the shop's logins and purchases.
. "$(dirname "$0")/lib.sh"

names=(uptime_seconds reads batches batch_errors insn_mov insn_add insn_sub
	insn_mul insn_div insn_set insn_read insn_write lock_shared lock_exclusive
	lock_readers lock_waiting_writers lock_longest_wait_us events_listeners)

stats=$(timeout 10 cat "$MNT/stats") || fail "cannot read mnt/stats"
while IFS= read -r line; do
	case $line in
	"version "* | "state_dir "*) continue ;;
	esac
	assert_match '^[a-z0-9_.-]+ (-?[0-9]+|[0-9a-f]{64}|[a-z]+)$' "$line" "mnt/stats line"
done <<<"$stats"

# What an operator looks for first: which daemon, where its state is, how
# it syncs, how far behind the disk is.
assert_match '^version [0-9]+\.[0-9]+\.[0-9]+$' "$(head -n 1 <<<"$stats")" "the first line"
assert_eq "$RWFS_PID" "$(stat_value pid)" "pid"
dir=$(sed -n 's/^state_dir //p' <<<"$stats")
[[ "$dir" == /* ]] || dir=$TEST_TMP/work/$dir
[[ -f "$dir/journal" ]] || fail "state_dir '$dir' holds no journal"
assert_eq everysec "$(stat_value log_sync)" "log_sync by default"
for n in log_journal_bytes log_journal_records shop_logins shop_logins_failed \
	shop_logins_throttled shop_purchases shop_purchases_refused; do
	assert_eq 1 "$(grep -c "^$n [0-9][0-9]*\$" <<<"$stats")" "'$n' lines in mnt/stats"
done
records=$(stat_value log_journal_records)
echo 1 >"$MNT/B"
assert_eq $((records + 1)) "$(stat_value log_journal_records)" "log_journal_records after a write"
wait_until 5 eval '[[ "$(stat_value log_last_fsync_ms_ago)" =~ ^[0-9]+$ ]]' ||
	fail "log_last_fsync_ms_ago: '$(stat_value log_last_fsync_ms_ago)' a few seconds after a write"
(($(stat_value log_last_fsync_ms_ago) < 5000)) || fail "log_last_fsync_ms_ago is over 5 s"

# The shop's counters follow its requests.
shop() { # REQUEST: one request on mnt/shop; prints the reply's first line
	local out
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$MNT/shop" "$1"$'\n') || fail "shop helper failed: $out"
	out=${out#*$'\n'}
	printf '%s' "${out%%$'\n'*}"
}
assert_eq "error wrong user or password" "$(shop "login alice guess")" "a wrong password"
token=$(shop "login alice wonderland")
token=${token#ok }
assert_match '^[0-9a-f]{32}$' "$token" "a login's token"
shop "buy $token 1001 1" >/dev/null
shop "buy $token 1001 1000" >/dev/null
for i in 1 2 3 4; do shop "login mallory x" >/dev/null; done
assert_match '^error too many failed logins' "$(shop "login mallory x")" "mallory locked out"
assert_eq 1 "$(stat_value shop_logins)" "shop_logins"
assert_eq 5 "$(stat_value shop_logins_failed)" "shop_logins_failed"
assert_eq 1 "$(stat_value shop_logins_throttled)" "shop_logins_throttled"
assert_eq 1 "$(stat_value shop_purchases)" "shop_purchases"
assert_eq 1 "$(stat_value shop_purchases_refused)" "shop_purchases_refused"
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
