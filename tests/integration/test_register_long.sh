#!/usr/bin/env bash
# A value write longer than 4096 bytes fails whole with EFBIG and changes
# nothing: the kernel would split a long write() and hand its first piece
# over as if it were the whole value.
. "$(dirname "$0")/lib.sh"

echo 42 >"$MNT/B" || fail "echo 42 > mnt/B failed"
echo 7 >"$MNT/mem/3" || fail "echo 7 > mnt/mem/3 failed"

# 2 MiB of "5" and spaces in one write(): over the kernel's 1 MiB pieces.
"$PYTHON" -c 'import sys; sys.stdout.write("5" + " " * (2 * 1024 * 1024 - 1))' >"$TEST_TMP/long"
for f in B mem/3; do
	expect_errno EFBIG "$MNT/$f" --stdin <"$TEST_TMP/long"
	expect_errno EFBIG "$MNT/$f" --stdin --trunc <"$TEST_TMP/long"
done
assert_bytes "$MNT/B" $'42\n'
assert_bytes "$MNT/mem/3" $'7\n'

# The bound itself: 4096 bytes are one value, 4097 are refused.
"$PYTHON" -c 'import sys; sys.stdout.write("5" + " " * 4095)' >"$TEST_TMP/max"
expect_errno OK "$MNT/B" --stdin <"$TEST_TMP/max"
assert_bytes "$MNT/B" $'5\n'
"$PYTHON" -c 'import sys; sys.stdout.write("6" + " " * 4096)' >"$TEST_TMP/over"
expect_errno EFBIG "$MNT/B" --stdin <"$TEST_TMP/over"
assert_bytes "$MNT/B" $'5\n'
