#!/usr/bin/env bash
# Registers and cells survive a clean unmount, SIGTERM and SIGINT of the
# daemon, in every sync mode; the journal can be read with --dump.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"

for sync in always everysec no; do
	start_rwfs d --state="$state" --sync=$sync
	echo 5 >"$TEST_TMP/d/A" || fail "write A ($sync)"
	echo 'ADD A 2' >"$TEST_TMP/d/ctl" || fail "ctl ($sync)"
	echo 9 >"$TEST_TMP/d/mem/3" || fail "write mem/3 ($sync)"
	stop_rwfs d || fail "daemon exit status after fusermount3 -u ($sync)"

	start_rwfs d --state="$state" --sync=$sync
	assert_eq 7 "$(value "$TEST_TMP/d/A")" "A after a clean unmount ($sync)"
	assert_eq 9 "$(value "$TEST_TMP/d/mem/3")" "mem/3 after a clean unmount ($sync)"
	echo 0 >"$TEST_TMP/d/A" && echo 0 >"$TEST_TMP/d/mem/3" || fail "reset ($sync)"
	stop_rwfs d || fail "second exit ($sync)"
done

for sig in TERM INT; do
	start_rwfs d --state="$state"
	echo "$sig" | wc -c >"$TEST_TMP/d/B" || fail "write B"
	kill -$sig "$DAEMON_PID"
	wait_until 10 eval "! is_mounted $TEST_TMP/d" || fail "SIG$sig did not unmount"
	stop_process "$DAEMON_PID" 10 || fail "exit status after SIG$sig"
	start_rwfs d --state="$state"
	assert_eq "$(echo "$sig" | wc -c)" "$(value "$TEST_TMP/d/B")" "B after SIG$sig"
	stop_rwfs d || fail "exit after SIG$sig restart"
done

dump=$("$RWFS" --dump --state="$state") || fail "--dump failed"
assert_contains "$dump" "BATCH SET A 5" "--dump output"
assert_contains "$dump" "BATCH ADD A 2" "--dump output"
assert_contains "$dump" "BATCH WRITE 9 3" "--dump output"

# The journal keeps what users wrote: readable by its owner only.
for f in "$state"/*; do
	assert_eq 600 "$(stat -c %a "$f")" "mode of $(basename "$f")"
done
