#!/usr/bin/env bash
# A bad register write fails the write() with EINVAL (or ERANGE out of the
# int64 range) and leaves the value as it was.
. "$(dirname "$0")/lib.sh"

echo 42 >"$MNT/A" || fail "echo 42 > mnt/A failed"

# errno, then the text sent in one write().
rejected=(
	EINVAL $'\n'
	EINVAL "   "
	EINVAL abc
	EINVAL "1 2"
	EINVAL 0x
	EINVAL 0x10
	EINVAL 1.5
	EINVAL +
	EINVAL -
	EINVAL --1
	EINVAL 12abc
	EINVAL $'1\n2\n'
	ERANGE 9223372036854775808
	ERANGE -9223372036854775809
	ERANGE 99999999999999999999999
)
for ((i = 0; i < ${#rejected[@]}; i += 2)); do
	for flags in --trunc ""; do
		expect_errno "${rejected[i]}" "$MNT/A" "${rejected[i + 1]}" $flags
		assert_bytes "$MNT/A" $'42\n'
	done
done

# An open with O_TRUNC and no write at all changes nothing either.
: >"$MNT/A" || fail ": > mnt/A failed"
assert_bytes "$MNT/A" $'42\n'

# The shell's view of a failure.
if (echo abc >"$MNT/A") 2>/dev/null; then
	fail "echo abc > mnt/A succeeded"
fi
assert_bytes "$MNT/A" $'42\n'
assert_eq 3 "$(stat -c %s "$MNT/A")" "size after failed writes"
