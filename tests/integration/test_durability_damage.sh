#!/usr/bin/env bash
# A journal cut in its last record recovers with a notice; a journal
# damaged in the middle (a record's bytes, a record's length, any header
# field) is refused (path, offset, exit 1, file untouched); --recover keeps
# a copy, says what it dropped and starts.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"

# refused WHAT OFFSET: the daemon refuses the state, names the journal and
# the offset in one line, exits 1, mounts nothing and writes nothing.
refused() {
	local before out status
	before=$(md5sum <"$state/journal")
	out=$(cd "$TEST_TMP" && timeout 10 "$RWFS" -f --state="$state" "$TEST_TMP/d" 2>&1)
	status=$?
	assert_eq 1 "$status" "exit status on $1"
	assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "one line for $1: $out"
	assert_contains "$out" "$state/journal" "message on $1 names the file"
	assert_contains "$out" "offset $2" "message on $1 names the offset"
	assert_eq "$before" "$(md5sum <"$state/journal")" "journal untouched after $1"
	is_mounted "$TEST_TMP/d" && fail "mounted over $1"
	return 0
}

# poke OFFSET BYTE: overwrites one byte of the journal (BYTE as printf takes it).
poke() {
	printf "$2" | dd of="$state/journal" bs=1 seek="$1" conv=notrunc status=none
}

start_rwfs d --state="$state"
# The journal starts with the header, the session and the shop's first stock.
base=$(MNT=$TEST_TMP/d stat_value log_journal_bytes) # the file may run ahead
for v in 1 2 3 4; do
	echo "SET A $v" >"$TEST_TMP/d/ctl" || fail "SET A $v"
done
stop_rwfs d || fail "clean exit"

# Four records of one size each: cut the last one short.
size=$(stat -c %s "$state/journal")
rec=$(((size - base) / 4))
assert_eq "$size" $((base + 4 * rec)) "four records of one size"
truncate -s $((size - 4)) "$state/journal"
start_rwfs d --state="$state"
assert_eq 3 "$(value "$TEST_TMP/d/A")" "A after a torn last record"
assert_contains "$(cat "$TEST_TMP/d.err")" "torn final record at offset $((base + 3 * rec))" "notice"
echo 'SET B 7' >"$TEST_TMP/d/ctl" || fail "write after recovery"
stop_rwfs d || fail "clean exit"
good=$(md5sum <"$state/journal")

# One byte of the header's base position (the generation of old): damage,
# never a journal to skip and overwrite.
cp "$state/journal" "$TEST_TMP/journal.good"
poke 16 '\x01'
refused "a damaged header" 32
cp "$TEST_TMP/journal.good" "$state/journal"
poke 8 '\x00'
poke 9 '\x07'
refused "a damaged header version" 32
cp "$TEST_TMP/journal.good" "$state/journal"

# A length no record can have, in a record with more after it: damage, not
# a torn tail to drop.
poke $((base + rec + 3)) '\x80'
refused "a damaged length" $((base + rec))
cp "$TEST_TMP/journal.good" "$state/journal"
assert_eq "$good" "$(md5sum <"$state/journal")" "journal put back"

# Damage the bytes of the second SET record.
poke $((base + rec + 20)) 'X'
before=$(md5sum <"$state/journal")
refused "a damaged record" $((base + rec))
out=$(cd "$TEST_TMP" && timeout 10 "$RWFS" -f --state="$state" "$TEST_TMP/d" 2>&1)
assert_contains "$out" "--recover" "message names the way out"

start_rwfs d --state="$state" --recover
assert_eq 1 "$(value "$TEST_TMP/d/A")" "A after --recover"
assert_eq 0 "$(value "$TEST_TMP/d/B")" "B after --recover"
# after it: SET A 3, the second run's session and the end of the first,
# SET B 7
assert_contains "$(cat "$TEST_TMP/d.err")" "dropped it and 4 records after it" "recover notice"
copies=("$state"/journal.damaged-*)
[[ -f "${copies[0]}" ]] || fail "no copy of the damaged journal"
assert_eq "$before" "$(md5sum <"${copies[0]}")" "the copy is the damaged journal"
stop_rwfs d || fail "clean exit after --recover"
