#!/usr/bin/env bash
# Memory cells mem/N: same format and rules as registers, shared with the
# READ and WRITE instructions.
. "$(dirname "$0")/lib.sh"

assert_bytes "$MNT/mem/0" $'0\n'
assert_bytes "$MNT/mem/255" $'0\n'

echo 5 >"$MNT/mem/7" || fail "echo 5 > mnt/mem/7 failed"
assert_bytes "$MNT/mem/7" $'5\n'
assert_eq 2 "$(stat -c %s "$MNT/mem/7")" "size of mem/7"
printf ' -31 ' >"$MNT/mem/7" || fail "printf ' -31 ' > mnt/mem/7 failed"
assert_bytes "$MNT/mem/7" $'-31\n'
assert_eq 4 "$(stat -c %s "$MNT/mem/7")" "size of mem/7"

for bad in abc "1 2" 0x 1.5 $'\n'; do
	expect_errno EINVAL "$MNT/mem/7" "$bad" --trunc
done
expect_errno ERANGE "$MNT/mem/7" 9223372036854775808 --trunc
assert_bytes "$MNT/mem/7" $'-31\n'
: >"$MNT/mem/7"
assert_bytes "$MNT/mem/7" $'-31\n'

# Cells and instructions see the same memory.
ctl_call 'WRITE 9 8'
assert_eq OK "$CTL_STATUS" "WRITE 9 8"
assert_bytes "$MNT/mem/8" $'9\n'
echo 11 >"$MNT/mem/255"
ctl_call 'READ A 255'
assert_eq "ok READ A 255 -> A=11" "$CTL_REPLY" "READ A 255"
assert_bytes "$MNT/A" $'11\n'
assert_bytes "$MNT/mem/6" $'0\n'

# --memory=N changes the number of cells.
start_rwfs small --memory=16
small=$TEST_TMP/small
assert_eq "$(seq 0 15 | tr '\n' ' ')" "$(ls "$small/mem" | sort -n | tr '\n' ' ')" "ls mem with --memory=16"
[[ -e "$small/mem/15" ]] || fail "mem/15 missing with --memory=16"
[[ ! -e "$small/mem/16" ]] || fail "mem/16 exists with --memory=16"
echo 4 >"$small/mem/15" || fail "echo 4 > mem/15 failed"
assert_bytes "$small/mem/15" $'4\n'
got=$(timeout 10 "$PYTHON" "$FSIO" write "$small/ctl" 'READ A 16')
assert_eq ENXIO "$got" "READ A 16 with --memory=16"
stop_rwfs small
assert_eq 0 "$?" "exit status of the --memory=16 daemon"
