#!/usr/bin/env bash
# mnt/registers: "A 0\n" .. "Z 0\n", reflecting every register.
. "$(dirname "$0")/lib.sh"

want=$(for r in {A..Z}; do echo "$r 0"; done)
assert_eq "$want" "$(timeout 10 cat "$MNT/registers")" "initial mnt/registers"
assert_bytes "$MNT/registers" "$want"$'\n'

echo 42 >"$MNT/A"
echo -7 >"$MNT/M"
echo 9223372036854775807 >"$MNT/Z"
want=$(for r in {A..Z}; do
	case $r in
	A) echo "A 42" ;;
	M) echo "M -7" ;;
	Z) echo "Z 9223372036854775807" ;;
	*) echo "$r 0" ;;
	esac
done)
assert_eq "$want" "$(timeout 10 cat "$MNT/registers")" "mnt/registers after writes"
assert_eq "${#want}" "$(($(stat -c %s "$MNT/registers") - 1))" "stat size of mnt/registers"
