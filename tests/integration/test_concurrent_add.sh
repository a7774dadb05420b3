#!/usr/bin/env bash
# 4 processes x 500 `ADD A 1`, each through its own open of mnt/ctl, end
# at exactly 2000: no update is lost.
. "$(dirname "$0")/lib.sh"

for w in 1 2 3 4; do
	timeout 60 bash -c '
		failures=0
		for ((i = 0; i < 500; i++)); do
			echo "ADD A 1" >"$1/ctl" || failures=$((failures + 1))
		done
		exit $((failures > 0))' _ "$MNT" &
	pids[w]=$!
done
for w in 1 2 3 4; do
	wait "${pids[w]}" || fail "adder $w had failed writes or timed out"
done
assert_bytes "$MNT/A" $'2000\n'
