#!/usr/bin/env bash
# Neither side starves: a steady stream of readers does not hold off a
# writer, and a steady stream of writers does not hold off a reader.
. "$(dirname "$0")/lib.sh"

cat >"$TEST_TMP/hammer.py" <<'PY'
import os, sys
path, done, mode = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(done):
    if mode == "read":
        fd = os.open(path, os.O_RDONLY)
        while os.read(fd, 4096):
            pass
    else:
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"ADD B 1\n")
    os.close(fd)
PY
cat >"$TEST_TMP/timed.py" <<'PY'
import os, sys, time
path, mode = sys.argv[1], sys.argv[2]
worst = 0.0
start = time.monotonic()
for i in range(100):
    t = time.monotonic()
    if mode == "write":
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b"%d\n" % i)
    else:
        fd = os.open(path, os.O_RDONLY)
        os.read(fd, 100)
    os.close(fd)
    worst = max(worst, time.monotonic() - t)
total = time.monotonic() - start
print("100 %ss in %.2f s, worst %.3f s" % (mode, total, worst))
if worst > 2 or total > 15:
    sys.exit("starved")
PY

# hammer MODE PATH COUNT: starts COUNT busy loops, sets HAMMERS.
hammer() {
	local i
	HAMMERS=()
	rm -f "$TEST_TMP/stop"
	for ((i = 0; i < $3; i++)); do
		timeout 60 "$PYTHON" "$TEST_TMP/hammer.py" "$2" "$TEST_TMP/stop" "$1" &
		HAMMERS+=($!)
	done
	sleep 0.5
}
stop_hammers() {
	local pid
	touch "$TEST_TMP/stop"
	for pid in "${HAMMERS[@]}"; do
		wait "$pid" || fail "a busy loop failed"
	done
}

hammer read "$MNT/registers" 6
out=$(timeout 30 "$PYTHON" "$TEST_TMP/timed.py" "$MNT/A" write) || fail "writer among readers: $out"
stop_hammers
assert_bytes "$MNT/A" $'99\n'

hammer write "$MNT/ctl" 6
out=$(timeout 30 "$PYTHON" "$TEST_TMP/timed.py" "$MNT/A" read) || fail "reader among writers: $out"
stop_hammers
