#!/usr/bin/env bash
# Registers: "0\n" at start, decimal int64 writes with optional sign and
# blanks, `stat` size follows the text, nothing cached by the kernel.
. "$(dirname "$0")/lib.sh"

for r in A M Z; do
	assert_bytes "$MNT/$r" $'0\n'
done
assert_eq 2 "$(stat -c %s "$MNT/A")" "size of '0\\n'"

echo 42 >"$MNT/A" || fail "echo 42 > mnt/A failed"
assert_bytes "$MNT/A" $'42\n'
assert_eq 3 "$(stat -c %s "$MNT/A")" "size of '42\\n'"
assert_eq 42 "$(cat "$MNT/A")" "cat mnt/A"

# No attribute or data caching: the next stat and read see the new text.
echo -12345 >"$MNT/A"
assert_eq 7 "$(stat -c %s "$MNT/A")" "size of '-12345\\n'"
assert_bytes "$MNT/A" $'-12345\n'
assert_eq 7 "$(wc -c <"$MNT/A")" "wc -c mnt/A"

printf 7 >"$MNT/B" || fail "printf 7 > mnt/B failed"
assert_bytes "$MNT/B" $'7\n'

# Accepted spellings, each sent in one write(): text, then the value.
accepted=(
	"5" 5
	"+5" 5
	"-5" -5
	"  17  " 17
	$'\t-3\t' -3
	$'99\n' 99
	$'  8 \n' 8
	"0007" 7
	"-0" 0
	"9223372036854775807" 9223372036854775807
	"-9223372036854775808" -9223372036854775808
)
for ((i = 0; i < ${#accepted[@]}; i += 2)); do
	expect_errno OK "$MNT/C" "${accepted[i]}" --trunc
	assert_bytes "$MNT/C" "${accepted[i + 1]}"$'\n'
done
assert_eq 21 "$(stat -c %s "$MNT/C")" "size of INT64_MIN"

# Other registers are untouched.
assert_bytes "$MNT/A" $'-12345\n'
assert_bytes "$MNT/D" $'0\n'
