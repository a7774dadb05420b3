#!/usr/bin/env bash
# tools/writer.sh and tools/reader.sh: three of each side by side exit 0 and
# print "writer ID: INSN -> OUTCOME" and "reader ID: A=1 B=2" lines; the
# mount comes from --mount, $RWFS_MOUNT or ./mnt; a directory that is not
# an rwfs mount is a clear error.
. "$(dirname "$0")/lib.sh"

writer=$ROOT/tools/writer.sh
reader=$ROOT/tools/reader.sh

for tool in "$writer" "$reader"; do
	out=$(timeout 10 "$tool" --help) || fail "$tool --help failed"
	assert_match '^usage: ' "$out" "$tool --help"
	assert_contains "$out" "--mount" "$tool --help"
	timeout 10 "$tool" --bogus >/dev/null 2>&1
	assert_eq 2 "$?" "exit status of $tool --bogus"
done

for i in 1 2 3; do
	timeout 30 "$writer" --mount "$MNT" --id "$i" --count 10 --delay 0.05 >"$TEST_TMP/w$i" 2>&1 &
	writers[i]=$!
done
timeout 30 "$reader" --mount "$MNT" --id 1 --count 10 --delay 0.05 >"$TEST_TMP/r1" 2>&1 &
readers[1]=$!
timeout 30 "$reader" --mount "$MNT" --id 2 --count 10 --delay 0.05 A b Z >"$TEST_TMP/r2" 2>&1 &
readers[2]=$!
(cd "$TEST_TMP" && RWFS_MOUNT=$MNT timeout 30 "$reader" --id 3 --count 10 --delay 0.05 Q) >"$TEST_TMP/r3" 2>&1 &
readers[3]=$!

insn='(ADD|SUB|MUL|DIV|SET|MOV|READ|WRITE) [A-Z0-9]+ [A-Z0-9]+'
outcome='(ok [A-Z]+ [A-Z0-9-]+ [A-Z0-9-]+ -> ([A-Z]|mem/[0-9]+)=-?[0-9]+|error line 1: .+)'
for i in 1 2 3; do
	wait "${writers[i]}" || fail "writer $i failed: $(cat "$TEST_TMP/w$i")"
	assert_eq 10 "$(wc -l <"$TEST_TMP/w$i")" "lines of writer $i"
	while IFS= read -r line; do
		assert_match "^writer $i: $insn -> $outcome\$" "$line" "writer $i line"
	done <"$TEST_TMP/w$i"
done
grep -q ' -> ok ' "$TEST_TMP"/w? || fail "no writer succeeded once"

for i in 1 2 3; do
	wait "${readers[i]}" || fail "reader $i failed: $(cat "$TEST_TMP/r$i")"
	assert_eq 10 "$(wc -l <"$TEST_TMP/r$i")" "lines of reader $i"
done
while IFS= read -r line; do
	assert_match '^reader 1: [A-Z]=-?[0-9]+ [A-Z]=-?[0-9]+ [A-Z]=-?[0-9]+$' "$line" "reader 1 line"
done <"$TEST_TMP/r1"
while IFS= read -r line; do
	assert_match '^reader 2: A=-?[0-9]+ B=-?[0-9]+ Z=-?[0-9]+$' "$line" "reader 2 line"
done <"$TEST_TMP/r2"
while IFS= read -r line; do
	assert_match '^reader 3: Q=-?[0-9]+$' "$line" "reader 3 line"
done <"$TEST_TMP/r3"

# The default mount is ./mnt (TEST_TMP/mnt is the test's mount point).
ctl_call 'SET Q 42'
out=$(cd "$TEST_TMP" && timeout 10 "$reader" --count 1 --id 9 Q) || fail "reader with the default ./mnt failed"
assert_eq "reader 9: Q=42" "$out" "reader with the default ./mnt"

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
