#!/usr/bin/env bash
# Registers with ordinary tools: dd byte by byte sees one snapshot per open
# file, dd writes, truncate does not zero the value.
. "$(dirname "$0")/lib.sh"

echo 42 >"$MNT/A"
got=$(timeout 10 dd if="$MNT/A" bs=1 2>/dev/null | od -An -c | tr -s ' ')
assert_eq " 4 2 \n" "$got" "dd if=mnt/A bs=1"

echo 9 | timeout 10 dd of="$MNT/A" 2>/dev/null || fail "echo 9 | dd of=mnt/A failed"
assert_bytes "$MNT/A" $'9\n'

echo 9 | timeout 10 dd of="$MNT/A" conv=notrunc 2>/dev/null || fail "dd conv=notrunc failed"
assert_bytes "$MNT/A" $'9\n'

timeout 10 truncate -s 0 "$MNT/A"
assert_bytes "$MNT/A" $'9\n'
assert_eq 2 "$(stat -c %s "$MNT/A")" "size after truncate -s 0"

# One snapshot per open file: a handle that read "1" of "123\n" keeps
# reading "23\n" even after the register changed under it.
echo 123 >"$MNT/B"
got=$(timeout 10 "$PYTHON" - "$MNT/B" <<'PY'
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
first = os.read(fd, 1)
w = os.open(path, os.O_WRONLY | os.O_TRUNC)
os.write(w, b"98765\n")
os.close(w)
rest = b""
while True:
    chunk = os.read(fd, 1)
    if not chunk:
        break
    rest += chunk
os.close(fd)
print(repr(first + rest))
PY
)
assert_eq "b'123\\n'" "$got" "bytes of one handle across a concurrent write"
assert_bytes "$MNT/B" $'98765\n'

# head, tail and wc work on the text.
assert_eq 98765 "$(tail -n 1 "$MNT/B")" "tail mnt/B"
assert_eq 6 "$(wc -c <"$MNT/B")" "wc -c mnt/B"
