#!/usr/bin/env bash
# tools/writer.sh and tools/reader.sh, the readers-writers demo: writers
# move amounts between A and B in two steps under an exclusive ticket,
# readers read A and B one at a time under a shared one.  With the tickets
# every reader sees A+B at 100 and the event log shows who waited; with
# --no-lock a reader sees transfers half done.  The mount comes from
# --mount, $RWFS_MOUNT or ./mnt; a directory that is not an rwfs mount is
# a clear error.
. "$(dirname "$0")/lib.sh"

writer=$ROOT/tools/writer.sh
reader=$ROOT/tools/reader.sh

for tool in "$writer" "$reader"; do
	out=$(timeout 10 "$tool" --help) || fail "$tool --help failed"
	assert_match '^usage: ' "$out" "$tool --help"
	assert_contains "$out" "--no-lock" "$tool --help"
	timeout 10 "$tool" --bogus >/dev/null 2>&1
	assert_eq 2 "$?" "exit status of $tool --bogus"
	timeout 10 "$tool" --mount "$MNT" A >/dev/null 2>&1
	assert_eq 2 "$?" "exit status of $tool with one register"
done

# With tickets: two writers, three readers, all on A and B.
ctl_call 'SET A 50'
ctl_call 'SET B 50'
for i in 1 2; do
	timeout 40 "$writer" --mount "$MNT" --id "$i" --count 10 --delay 0.02 --hold 0.05 >"$TEST_TMP/w$i" 2>&1 &
	writers[i]=$!
done
for i in 1 2; do
	timeout 40 "$reader" --mount "$MNT" --id "$i" --count 10 --delay 0.02 --hold 0.05 >"$TEST_TMP/r$i" 2>&1 &
	readers[i]=$!
done
(cd "$TEST_TMP" && RWFS_MOUNT=$MNT timeout 40 "$reader" --id 3 --count 10 --delay 0.02 --hold 0.05 --total 100 a b) >"$TEST_TMP/r3" 2>&1 &
readers[3]=$!

for i in 1 2; do
	wait "${writers[i]}" || fail "writer $i failed: $(cat "$TEST_TMP/w$i")"
	assert_eq 10 "$(wc -l <"$TEST_TMP/w$i")" "lines of writer $i"
	while IFS= read -r line; do
		assert_match "^writer $i: move [1-9] from ([AB]) to ([AB]) -> [AB]=-?[0-9]+ [AB]=-?[0-9]+\$" "$line" "writer $i line"
	done <"$TEST_TMP/w$i"
done
for i in 1 2 3; do
	wait "${readers[i]}" || fail "reader $i saw a wrong sum or failed: $(cat "$TEST_TMP/r$i")"
	assert_eq 11 "$(wc -l <"$TEST_TMP/r$i")" "lines of reader $i"
	assert_eq "reader $i: 10 reads, 0 wrong" "$(tail -n 1 "$TEST_TMP/r$i")" "reader $i's summary"
	head -n 10 "$TEST_TMP/r$i" | while IFS= read -r line; do
		assert_match "^reader $i: A=-?[0-9]+ B=-?[0-9]+ sum=100 ok\$" "$line" "reader $i line"
	done || exit 1
done
assert_eq 100 "$(($(value "$MNT/A") + $(value "$MNT/B")))" "A+B after the transfers"
# The event log shows the tickets, and that readers and writers waited
# (written a moment later).
wait_until 5 grep -q "flock A shared -> granted after" "$RWFS_LOG"
log=$(cat "$RWFS_LOG")
assert_match 'pid [0-9]+ \(flock\) flock A exclusive -> granted after [0-9.]+ ms' "$log" "a writer's wait in the event log"
assert_match 'pid [0-9]+ \(flock\) flock A shared -> granted after [0-9.]+ ms' "$log" "a reader's wait in the event log"
assert_contains "$log" "flock A shared -> waiting" "a reader waiting in the event log"

# Without tickets the readers see transfers half done.
timeout 40 "$writer" --mount "$MNT" --id 4 --count 12 --delay 0.01 --hold 0.1 --no-lock >"$TEST_TMP/w4" 2>&1 &
w4=$!
out=$(timeout 40 "$reader" --mount "$MNT" --id 4 --count 10 --delay 0.02 --hold 0.05 --total 100 --no-lock)
assert_eq 1 "$?" "exit status of a reader that saw a wrong sum"
assert_match 'sum=-?[0-9]+ WRONG, not 100' "$out" "a reader without tickets"
assert_match $'\nreader 4: 10 reads, [1-9][0-9]* wrong$' "$out" "summary of a reader without tickets"
wait "$w4" || fail "writer 4 failed: $(cat "$TEST_TMP/w4")"

# The default mount is ./mnt (TEST_TMP/mnt is the test's mount point).
ctl_call 'SET Q 42'
ctl_call 'SET R 8'
out=$(cd "$TEST_TMP" && timeout 10 "$reader" --count 1 --id 9 Q R) || fail "reader with the default ./mnt failed"
assert_eq $'reader 9: Q=42 R=8 sum=50 ok\nreader 9: 1 reads, 0 wrong' "$out" "reader with the default ./mnt"

# Not an rwfs mount.
mkdir "$TEST_TMP/plain"
for tool in "$writer" "$reader"; do
	out=$(timeout 10 "$tool" --mount "$TEST_TMP/plain" --count 1 2>&1 >/dev/null)
	assert_eq 1 "$?" "exit status of $tool on a plain directory"
	assert_contains "$out" "$TEST_TMP/plain" "error of $tool on a plain directory"
	out=$(cd "$TEST_TMP/plain" && timeout 10 "$tool" --count 1 2>&1 >/dev/null)
	assert_eq 1 "$?" "exit status of $tool without a ./mnt"
	assert_contains "$out" "./mnt" "error of $tool without a ./mnt"
done
exit 0
