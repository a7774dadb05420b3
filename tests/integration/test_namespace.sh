#!/usr/bin/env bash
# The mount shows the registers A..Z, registers, mem/0..255, ctl, stats and
# events; mem/256 does not exist.
. "$(dirname "$0")/lib.sh"

listing=$(timeout 10 ls "$MNT") || fail "ls $MNT failed"
for name in {A..Z} registers mem ctl stats events; do
	grep -qx "$name" <<<"$listing" || fail "ls mnt does not list '$name':
$listing"
done

for name in {A..Z} registers ctl stats events; do
	[[ -f "$MNT/$name" ]] || fail "mnt/$name is not a regular file"
done
[[ -d "$MNT/mem" ]] || fail "mnt/mem is not a directory"

cells=$(timeout 10 ls "$MNT/mem" | sort -n | tr '\n' ' ')
assert_eq "$(seq 0 255 | tr '\n' ' ')" "$cells" "ls mnt/mem"
[[ -f "$MNT/mem/0" && -f "$MNT/mem/255" ]] || fail "mem/0 or mem/255 missing"

for missing in mem/256 mem/1000 mem/-1 AA nosuchfile; do
	err=$(timeout 10 "$PYTHON" -c '
import os, sys
try:
    os.stat(sys.argv[1])
    print("exists")
except OSError as e:
    import errno
    print(errno.errorcode[e.errno])' "$MNT/$missing")
	assert_eq ENOENT "$err" "stat mnt/$missing"
done

# Nothing is linked in: symlink(2) and link(2) fail with EPERM, symlink's
# errno for a filesystem that does not support symbolic links (PROTOCOL).
for dir in "" queues/ files/; do
	for call in symlink link; do
		err=$(timeout 10 "$PYTHON" -c '
import errno, os, sys
try:
    getattr(os, sys.argv[1])(sys.argv[2], sys.argv[3])
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$call" "$MNT/A" "$MNT/${dir}link")
		assert_eq EPERM "$err" "$call in mnt/$dir"
	done
done
