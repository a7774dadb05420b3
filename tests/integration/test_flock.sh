#!/usr/bin/env bash
# Cooperating scripts serialise read-modify-write of a register with
# `flock mnt/A`: two of them, 150 increments each, end at exactly 300.
. "$(dirname "$0")/lib.sh"

cat >"$TEST_TMP/increment.sh" <<'SH'
v=$(cat "$1") || exit 1
echo $((v + 1)) >"$1"
SH

for s in 1 2; do
	timeout 60 bash -c '
		for ((i = 0; i < 150; i++)); do
			flock "$1" sh "$2" "$1" || exit 1
		done' _ "$MNT/A" "$TEST_TMP/increment.sh" &
	pids[s]=$!
done
for s in 1 2; do
	wait "${pids[s]}" || fail "script $s failed or timed out"
done
assert_bytes "$MNT/A" $'300\n'
