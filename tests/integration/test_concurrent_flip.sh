#!/usr/bin/env bash
# A writer flips A between 111 and 222 with `echo` (open O_TRUNC + write)
# while readers read it whole, byte by byte, and with cat: they only ever
# see "111\n" or "222\n", never 0, an empty file or a mix.
. "$(dirname "$0")/lib.sh"

echo 111 >"$MNT/A"
done_flag=$TEST_TMP/writer.done

cat >"$TEST_TMP/reader.py" <<'PY'
import os, sys
path, done, mode = sys.argv[1], sys.argv[2], sys.argv[3]
reads = 0
while not os.path.exists(done) or reads < 20:
    fd = os.open(path, os.O_RDONLY)
    data = b""
    while True:
        chunk = os.read(fd, 1 if mode == "bytes" else 4096)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    if data not in (b"111\n", b"222\n"):
        sys.exit("reader (%s) saw %r after %d good reads" % (mode, data, reads))
    reads += 1
print(reads)
PY

timeout 60 "$PYTHON" "$TEST_TMP/reader.py" "$MNT/A" "$done_flag" whole >"$TEST_TMP/r1" 2>&1 &
r1=$!
timeout 60 "$PYTHON" "$TEST_TMP/reader.py" "$MNT/A" "$done_flag" bytes >"$TEST_TMP/r2" 2>&1 &
r2=$!
timeout 60 bash -c '
	reads=0
	while [[ ! -e "$2" ]] || ((reads < 20)); do
		v=$(cat "$1")
		case $v in
		111 | 222) ;;
		*) echo "cat saw \"$v\" after $reads good reads"; exit 1 ;;
		esac
		reads=$((reads + 1))
	done' _ "$MNT/A" "$done_flag" >"$TEST_TMP/r3" 2>&1 &
r3=$!

timeout 60 bash -c '
	for ((i = 0; i < 400; i++)); do
		echo 222 >"$1" && echo 111 >"$1" || exit 1
	done' _ "$MNT/A" || fail "the writer failed"
touch "$done_flag"

for r in r1 r2 r3; do
	wait "${!r}" || fail "reader $r: $(cat "$TEST_TMP/$r")"
done
assert_bytes "$MNT/A" $'111\n'
