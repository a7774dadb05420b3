#!/usr/bin/env bash
# mnt/files/ with the tools people use: mkdir -p, echo >, >>, cat, cp, mv,
# rm, rm -r, ls -l, sed -i; concurrent appenders lose no line; a reader
# never sees a replacement half done; an open file outlives its unlink;
# the bounds; and the files survive an unmount and a kill -9.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
start_rwfs d --state="$state"
F=$TEST_TMP/d/files

[[ -d "$F" ]] || fail "mnt/files is not a directory"
timeout 10 mkdir -p "$F/a/b/c" || fail "mkdir -p"
echo hello >"$F/a/b/c/f" || fail "echo >"
echo world >>"$F/a/b/c/f" || fail "echo >>"
assert_eq $'hello\nworld' "$(cat "$F/a/b/c/f")" "cat after > and >>"
assert_eq 12 "$(stat -c %s "$F/a/b/c/f")" "size"
ls -l "$F/a/b/c" | grep -q " 12 .* f$" || fail "ls -l does not show the size: $(ls -l "$F/a/b/c")"

# cp, mv over an existing file, sed -i
head -c 300000 /dev/urandom >"$TEST_TMP/blob"
timeout 10 cp "$TEST_TMP/blob" "$F/blob" || fail "cp in"
cmp -s "$TEST_TMP/blob" "$F/blob" || fail "cp: content differs"
echo old >"$F/target"
timeout 10 mv "$F/blob" "$F/target" || fail "mv over a file"
cmp -s "$TEST_TMP/blob" "$F/target" || fail "mv: content differs"
[[ ! -e "$F/blob" ]] || fail "mv left its source"
printf 'one\ntwo\nthree\n' >"$F/s"
timeout 10 sed -i 's/two/2/' "$F/s" || fail "sed -i"
assert_eq $'one\n2\nthree' "$(cat "$F/s")" "sed -i"

# names
echo spaced >"$F/with space ü€.txt" || fail "a name with spaces and UTF-8"
assert_eq spaced "$(cat "$F/with space ü€.txt")" "UTF-8 name"
err=$("$PYTHON" -c '
import os, sys, errno
try:
    os.close(os.open(sys.argv[1] + "/bad\x01name", os.O_CREAT | os.O_WRONLY))
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$F")
assert_eq EINVAL "$err" "a control character in a name"

# EFBIG past 16 MiB
err=$("$PYTHON" -c '
import os, sys, errno
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY)
try:
    os.pwrite(fd, b"x", 16 << 20)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$F/big")
assert_eq EFBIG "$err" "a write past 16 MiB"

# 8 appenders x 500 lines: every line whole, none lost (wait names them:
# the daemon is a child too)
appenders=()
for i in 1 2 3 4 5 6 7 8; do
	(for j in $(seq 500); do echo "$i $j" >>"$F/log"; done) &
	appenders+=($!)
done
wait "${appenders[@]}"
assert_eq 4000 "$(wc -l <"$F/log")" "lines appended"
assert_eq 4000 "$(grep -cE '^[1-8] [0-9]+$' "$F/log")" "whole lines"
assert_eq 4000 "$(sort -u "$F/log" | wc -l)" "distinct lines"

# an unlinked open file stays readable through its descriptor
echo kept >"$F/open"
got=$("$PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.unlink(sys.argv[1])
print(os.pread(fd, 100, 0).decode().strip(), os.fstat(fd).st_nlink)' "$F/open")
assert_eq "kept 0" "$got" "read through an unlinked file"

# rm, rm -r, rmdir of a non-empty directory
timeout 10 rm "$F/s" || fail "rm"
[[ ! -e "$F/s" ]] || fail "rm left the file"
rmdir "$F/a" 2>/dev/null && fail "rmdir of a non-empty directory succeeded"
echo gone >"$F/a/b/x"
timeout 10 rm -r "$F/a" || fail "rm -r"
[[ ! -e "$F/a" ]] || fail "rm -r left the directory"

# an unmount and a kill -9 keep everything
mkdir "$F/keep"
echo durable >"$F/keep/me"
stop_rwfs d || fail "the daemon did not stop cleanly"
start_rwfs d --state="$state"
assert_eq durable "$(cat "$F/keep/me")" "after an unmount"
cmp -s "$TEST_TMP/blob" "$F/target" || fail "after an unmount: content differs"
echo more >>"$F/keep/me"
kill -KILL "$DAEMON_PID"
unmount "$TEST_TMP/d" || fail "cannot unmount the dead mount"
start_rwfs d --state="$state"
assert_eq $'durable\nmore' "$(cat "$F/keep/me")" "after a kill -9"
assert_eq 4000 "$(wc -l <"$F/log")" "the log after a kill -9"

# tail -f sees appends as they come (it polls: FUSE sends no inotify).
echo first >"$F/tailed"
timeout 10 tail -f "$F/tailed" >"$TEST_TMP/tail.out" 2>/dev/null &
tailer=$!
echo second >>"$F/tailed"
wait_until 5 eval 'grep -qx second "$TEST_TMP/tail.out"' || fail "tail -f did not see the first append"
echo third >>"$F/tailed"
wait_until 5 eval 'grep -qx third "$TEST_TMP/tail.out"' || fail "tail -f did not see the second append"
kill "$tailer" 2>/dev/null
wait "$tailer" 2>/dev/null
assert_eq $'first\nsecond\nthird' "$(cat "$TEST_TMP/tail.out")" "what tail -f printed"
