#!/usr/bin/env bash
# The reply of mnt/ctl is a stream per open file: read it after the write
# on the same descriptor, whatever the offset; a new write replaces it;
# another open (or a fresh one) has nothing to read.
. "$(dirname "$0")/lib.sh"

exec 3<>"$MNT/ctl" || fail "cannot open mnt/ctl read-write"
if echo 'DIV A Z' >&3 2>/dev/null; then
	fail "echo 'DIV A Z' >&3 succeeded"
fi
assert_eq "error line 1: DIV A Z: division by zero" "$(timeout 5 cat <&3)" "cat <&3 after DIV A Z"
assert_eq "" "$(timeout 5 cat <&3)" "second cat <&3 (reply already read)"

echo 'ADD A 1' >&3 || fail "echo 'ADD A 1' >&3 failed"
assert_eq "ok ADD A 1 -> A=1" "$(timeout 5 cat <&3)" "cat <&3 after ADD A 1"

# A new write replaces the pending reply.
echo 'SET B 1' >&3
echo 'SET C 2' >&3
assert_eq "ok SET C 2 -> C=2" "$(timeout 5 cat <&3)" "reply after two writes"

# Replies belong to their open file.
exec 4<>"$MNT/ctl" || fail "cannot open mnt/ctl a second time"
echo 'SET D 4' >&3
assert_eq "" "$(timeout 5 cat <&4)" "another open file's reply"
assert_eq "" "$(timeout 5 cat "$MNT/ctl")" "a fresh open of mnt/ctl"
assert_eq "ok SET D 4 -> D=4" "$(timeout 5 cat <&3)" "own reply after others read"
exec 3>&- 4>&-

# Exact bytes, read a few at a time: each line ends with a newline.
got=$(timeout 10 "$PYTHON" - "$MNT/ctl" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b"SET E 1\nSET F 2\n")
reply = b""
while True:
    chunk = os.read(fd, 5)
    if not chunk:
        break
    reply += chunk
print(repr(reply))
PY
)
assert_eq "b'ok SET E 1 -> E=1\\nok SET F 2 -> F=2\\n'" "$got" "reply read 5 bytes at a time"
