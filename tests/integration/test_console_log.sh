#!/usr/bin/env bash
# In -f mode the daemon prints one event line per operation on stdout:
# "HH:MM:SS.mmm pid N (comm) OPERATION OBJECT -> OUTCOME".
. "$(dirname "$0")/lib.sh"

# log_line ERE: the first line of the console log matching ERE, waiting up
# to 5 s for it to be written.
log_line() {
	wait_until 5 grep -qE -- "$1" "$RWFS_LOG" || fail "no console log line matching /$1/; log:
$(tail -n 20 "$RWFS_LOG")"
	grep -m1 -E -- "$1" "$RWFS_LOG"
}

echo 5 >"$MNT/C"
line=$(log_line ' write C "5" -> ok$') || exit 1
assert_match "$EVENT_RE" "$line" "format of the write line"

cat "$MNT/C" >/dev/null
line=$(log_line ' \(cat\) read C -> 5$') || exit 1
assert_match "$EVENT_RE" "$line" "format of the read line"

# A refused register write says why, and the value is left as it was.
echo abc >"$MNT/C" 2>/dev/null && fail "echo abc > C succeeded"
line=$(log_line ' write C "abc" -> error: Invalid argument$') || exit 1
assert_match "$EVENT_RE" "$line" "format of a refused write's line"
assert_bytes "$MNT/C" $'5\n'

echo 'DIV A Z' >"$MNT/ctl" 2>/dev/null
line=$(log_line ' ctl "DIV A Z" -> error line 1: division by zero$') || exit 1
assert_match "$EVENT_RE" "$line" "format of the ctl line"

# The pid is the client's.
"$PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"77\n")
os.close(fd)
print(os.getpid())' "$MNT/D" >"$TEST_TMP/pid" || fail "python write to mnt/D failed"
log_line "pid $(cat "$TEST_TMP/pid") \([^)]*\) write D \"77\" -> ok\$" >/dev/null || exit 1

# Every line has the format, whatever was read.
for f in registers stats mem/3 ctl; do
	cat "$MNT/$f" >/dev/null || fail "cat mnt/$f failed"
done
ls "$MNT" >/dev/null
while IFS= read -r line; do
	assert_match "$EVENT_RE" "$line" "console log line"
done <"$RWFS_LOG"

# The console is written behind the requests, many lines at a time; a clean
# stop (an unmount, or SIGTERM) still writes every line, to stdout or to
# --log=FILE.
# burst DIR COUNT: COUNT writes of "1" to DIR/A, as fast as they go.
burst() {
	"$PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for _ in range(int(sys.argv[2])):
    os.pwrite(fd, b"1\n", 0)
os.close(fd)' "$1/A" "$2" || fail "the writes to $1/A failed"
}
count=20000
start_rwfs unmounted
burst "$TEST_TMP/unmounted" "$count"
stop_rwfs unmounted || fail "rwfs did not stop cleanly after the unmount"
assert_eq "$count" "$(grep -c ' write A "1" -> ok$' "$TEST_TMP/unmounted.log")" \
	"write lines on stdout after an unmount"

start_rwfs termed --log="$TEST_TMP/termed.file"
burst "$TEST_TMP/termed" "$count"
kill -TERM "$DAEMON_PID"
stop_process "$DAEMON_PID" 10 || fail "rwfs did not stop cleanly on SIGTERM"
assert_eq "$count" "$(grep -c ' write A "1" -> ok$' "$TEST_TMP/termed.file")" \
	"write lines in --log=FILE after SIGTERM"
while IFS= read -r line; do
	assert_match "$EVENT_RE" "$line" "--log=FILE line"
done < <(tail -n 3 "$TEST_TMP/termed.file")
