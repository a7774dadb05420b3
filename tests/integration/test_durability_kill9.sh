#!/usr/bin/env bash
# kill -9 of the daemon in the middle of a load of concurrent writers: after
# a restart every acknowledged update is there.  Each writer adds to its own
# register and counts the write()s that returned success; the daemon may
# have journaled the one write in flight when it died without the client
# seeing the reply, so a register holds its count or its count + 1.
. "$(dirname "$0")/lib.sh"

state=$TEST_TMP/state
mkdir "$state"
start_rwfs d --state="$state"

writer() { # REGISTER: ADD REGISTER 1 until the mount dies; prints the acks
	"$PYTHON" - "$TEST_TMP/d/ctl" "$1" <<'PY'
import os, sys
path, reg = sys.argv[1], sys.argv[2]
acked = 0
try:
    fd = os.open(path, os.O_RDWR)
    while acked < 1000000:
        os.write(fd, ("ADD %s 1\n" % reg).encode())
        acked += 1
except OSError:
    pass
print(acked)
PY
}

for r in A B C D; do
	writer $r >"$TEST_TMP/acked.$r" &
done
sleep 1.5
kill -KILL "$DAEMON_PID"
wait
unmount "$TEST_TMP/d" || fail "cannot unmount the dead mount"

start_rwfs d --state="$state"
for r in A B C D; do
	acked=$(cat "$TEST_TMP/acked.$r")
	got=$(value "$TEST_TMP/d/$r")
	((acked > 100)) || fail "writer $r got only $acked writes in before the kill"
	((got == acked || got == acked + 1)) ||
		fail "register $r: $acked acknowledged, $got restored"
done
