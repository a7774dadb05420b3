#!/usr/bin/env bash
# Readers blocked on mnt/events hold no daemon worker: with 30 processes
# waiting, reads and writes still complete promptly, and then every
# blocked reader receives the event lines.
. "$(dirname "$0")/lib.sh"

readers=30
for ((i = 0; i < readers; i++)); do
	timeout 30 "$PYTHON" - "$MNT" "$TEST_TMP/ready.$i" >"$TEST_TMP/reader.$i" 2>&1 <<'PY' &
import os, sys
mnt, ready = sys.argv[1], sys.argv[2]
fd = os.open(os.path.join(mnt, "events"), os.O_RDONLY)
open(ready, "w").close()
data = b""
while b' write B "1" -> ok\n' not in data:
    chunk = os.read(fd, 65536)
    if not chunk:
        sys.exit("EOF on mnt/events")
    data += chunk
sys.stdout.write(data.decode())
PY
	pids[i]=$!
done

all_open() {
	local ready=("$TEST_TMP"/ready.*)
	[[ -e "${ready[0]}" ]] && ((${#ready[@]} == readers))
}
wait_until 15 all_open || fail "the readers did not all open mnt/events"
wait_until 5 stat_is events_listeners "$readers" ||
	fail "events_listeners is $(stat_value events_listeners), not $readers"
sleep 1 # let them all reach read()

start=$(date +%s%N)
got=$(timeout 5 cat "$MNT/A") || fail "cat mnt/A did not complete with $readers readers blocked on events"
assert_eq 0 "$got" "cat mnt/A"
timeout 5 bash -c 'echo 1 >"$1/B"' _ "$MNT" ||
	fail "echo 1 > mnt/B did not complete with $readers readers blocked on events"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
((elapsed_ms < 3000)) || fail "cat and echo took $elapsed_ms ms with blocked readers"
assert_bytes "$MNT/B" $'1\n'

for ((i = 0; i < readers; i++)); do
	wait "${pids[i]}" || fail "blocked reader $i failed (status $?): $(cat "$TEST_TMP/reader.$i")"
	out=$(cat "$TEST_TMP/reader.$i")
	assert_match ' read A -> 0'$'\n' "$out" "reader $i's events"
	assert_match ' write B "1" -> ok'$'\n' "$out"$'\n' "reader $i's events"
done
wait_until 5 stat_is events_listeners 0 || fail "events_listeners did not go back to 0"
