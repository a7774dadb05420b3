#!/usr/bin/env bash
# A journal cut in its last record recovers with a notice; a journal
# damaged in the middle is refused (path, offset, exit 1, file untouched);
# --recover keeps a copy, says what it dropped and starts.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
start_rwfs d --state="$state"
# The journal starts with the header and the shop's first stock.
base=$(stat -c %s "$state/journal")
for v in 1 2 3 4; do
	echo "SET A $v" >"$TEST_TMP/d/ctl" || fail "SET A $v"
done
stop_rwfs d || fail "clean exit"

# Each SET record is 8 + 8 bytes: cut the last in half.
size=$(stat -c %s "$state/journal")
assert_eq $((base + 64)) "$size" "journal size"
truncate -s $((base + 60)) "$state/journal"
start_rwfs d --state="$state"
assert_eq 3 "$(value "$TEST_TMP/d/A")" "A after a torn last record"
assert_contains "$(cat "$TEST_TMP/d.err")" "torn final record at offset $((base + 48))" "notice"
echo 'SET B 7' >"$TEST_TMP/d/ctl" || fail "write after recovery"
stop_rwfs d || fail "clean exit"

# Damage the payload of the second SET record.
printf 'X' | dd of="$state/journal" bs=1 seek=$((base + 26)) conv=notrunc status=none
before=$(md5sum <"$state/journal")
out=$(cd "$TEST_TMP" && timeout 10 "$RWFS" -f --state="$state" "$TEST_TMP/d" 2>&1)
status=$?
assert_eq 1 "$status" "exit status on a damaged journal"
assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "one line: $out"
assert_contains "$out" "$state/journal" "message names the file"
assert_contains "$out" "offset $((base + 16))" "message names the offset"
assert_contains "$out" "--recover" "message names the way out"
assert_eq "$before" "$(md5sum <"$state/journal")" "journal untouched"
is_mounted "$TEST_TMP/d" && fail "mounted over a damaged journal"

start_rwfs d --state="$state" --recover
assert_eq 1 "$(value "$TEST_TMP/d/A")" "A after --recover"
assert_contains "$(cat "$TEST_TMP/d.err")" "dropped it and 2 records after it" "recover notice"
copies=("$state"/journal.damaged-*)
[[ -f "${copies[0]}" ]] || fail "no copy of the damaged journal"
assert_eq "$before" "$(md5sum <"${copies[0]}")" "the copy is the damaged journal"
stop_rwfs d || fail "clean exit after --recover"
