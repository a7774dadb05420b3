#!/usr/bin/env bash
# A failing batch fails its write() with a distinct errno, replies
# "error line N: ...", and leaves every register and cell as it was,
# including what earlier lines of the same batch did.
. "$(dirname "$0")/lib.sh"

ctl_call $'SET A 5\nSET B 7\nSET C 1\nWRITE 9 100\nWRITE 3 255'
assert_eq OK "$CTL_STATUS" "setting up"
snapshot=$(timeout 10 cat "$MNT/registers")

check_unchanged() { # WHAT
	assert_eq "$snapshot" "$(timeout 10 cat "$MNT/registers")" "registers after $1"
	assert_bytes "$MNT/mem/100" $'9\n'
	assert_bytes "$MNT/mem/255" $'3\n'
	assert_bytes "$MNT/mem/0" $'0\n'
}

# Four lines that would succeed, then the failure (so it is line 5 or 6).
prefix=$'SET A 99\nADD B 1\nWRITE A 100\nWRITE A 0\n'

# errno, failing lines, then the expected reply (a regular expression).
cases=(
	EDOM   'DIV A Z'   '^error line 5: DIV A Z: division by zero$'
	EDOM   'DIV B 0'   '^error line 5: DIV B 0: division by zero$'
	EDOM   $'SET D 0\nDIV C D'  '^error line 6: DIV C D: division by zero$'
	ERANGE $'SET D 9223372036854775807\nADD D 1'   '^error line 6: ADD D 1: .+'
	ERANGE $'SET D -9223372036854775808\nSUB D 1'  '^error line 6: SUB D 1: .+'
	ERANGE $'SET D 4611686018427387904\nMUL D 2'   '^error line 6: MUL D 2: .+'
	ERANGE $'SET D -9223372036854775808\nDIV D -1' '^error line 6: DIV D -1: .+'
	ERANGE $'SET D -9223372036854775808\nMUL D -1' '^error line 6: MUL D -1: .+'
	ERANGE 'ADD D 9223372036854775808'   '^error line 5: .+'
	ERANGE 'SET D -9223372036854775809'  '^error line 5: .+'
	ENXIO  'READ D 256'                  '^error line 5: READ D 256: .+'
	ENXIO  'WRITE A 256'                 '^error line 5: WRITE A 256: .+'
	ENXIO  'READ D 1000000000000'        '^error line 5: READ D 1000000000000: .+'
	EINVAL 'FOO A B'        '^error line 5: .+'
	EINVAL 'ADD A'          '^error line 5: .+'
	EINVAL 'ADD A B C'      '^error line 5: .+'
	EINVAL 'ADD 1 2'        '^error line 5: .+'
	EINVAL 'ADD A1 B'       '^error line 5: .+'
	EINVAL 'ADDA 1'         '^error line 5: .+'
	EINVAL 'ADD A 0x10'     '^error line 5: .+'
	EINVAL 'ADD A 1.5'      '^error line 5: .+'
	EINVAL 'READ A B'       '^error line 5: .+'
	EINVAL 'WRITE A B'      '^error line 5: .+'
	EINVAL $'# comment\n\nFOO'  '^error line 7: .+'
)
for ((i = 0; i < ${#cases[@]}; i += 3)); do
	batch="$prefix${cases[i + 1]}"
	what="batch $(printf '%q' "$batch")"
	ctl_call "$batch"
	assert_eq "${cases[i]}" "$CTL_STATUS" "errno of $what"
	assert_match "${cases[i + 2]}" "$CTL_REPLY" "reply to $what"
	check_unchanged "$what"
done

# A parse error on line 1 while line 2 would divide by zero: nothing runs,
# and the parse error is what is reported.
ctl_call $'FOO\nDIV A Z'
assert_eq EINVAL "$CTL_STATUS" "parse error before a division by zero"
check_unchanged "FOO then DIV A Z"

# The shell sees the failure too.
if (echo 'DIV A Z' >"$MNT/ctl") 2>/dev/null; then
	fail "echo 'DIV A Z' > mnt/ctl succeeded"
fi
check_unchanged "echo 'DIV A Z' > mnt/ctl"

# Size bounds: over 65536 bytes is EFBIG, over 1000 instructions E2BIG;
# nothing runs.  The bounds themselves are accepted.
big_comment() { # BYTES: a comment line of exactly BYTES bytes
	printf '#%*s\n' "$(($1 - 2))" ''
}
{ printf 'SET A 99\n'; big_comment 65528; } >"$TEST_TMP/batch"
assert_eq 65537 "$(stat -c %s "$TEST_TMP/batch")" "size of the EFBIG batch"
ctl_call --stdin <"$TEST_TMP/batch"
assert_eq EFBIG "$CTL_STATUS" "errno of a 65537-byte batch"
check_unchanged "a 65537-byte batch"

for ((i = 0; i < 1001; i++)); do echo 'ADD A 1'; done >"$TEST_TMP/batch"
ctl_call --stdin <"$TEST_TMP/batch"
assert_eq E2BIG "$CTL_STATUS" "errno of 1001 instructions"
check_unchanged "1001 instructions"

{ printf 'ADD A 1\n'; big_comment 65528; } >"$TEST_TMP/batch"
assert_eq 65536 "$(stat -c %s "$TEST_TMP/batch")" "size of the largest batch"
ctl_call --stdin <"$TEST_TMP/batch"
assert_eq OK "$CTL_STATUS" "errno of a 65536-byte batch"
assert_eq "ok ADD A 1 -> A=6" "$CTL_REPLY" "reply to a 65536-byte batch"

{
	echo '# a thousand instructions; comments and blank lines do not count'
	for ((i = 0; i < 1000; i++)); do echo 'ADD A 1'; done
	echo
	echo '# end'
} >"$TEST_TMP/batch"
ctl_call --stdin <"$TEST_TMP/batch"
assert_eq OK "$CTL_STATUS" "errno of 1000 instructions"
assert_eq 1000 "$(grep -c '^ok ADD A 1 -> A=' <<<"$CTL_REPLY")" "reply lines for 1000 instructions"
assert_eq "ok ADD A 1 -> A=1006" "$(tail -n 1 <<<"$CTL_REPLY")" "last reply line"
assert_bytes "$MNT/A" $'1006\n'
