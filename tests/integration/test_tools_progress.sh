#!/usr/bin/env bash
# SPEC 6: a long run shows its progress on a terminal and stays quiet in a
# pipe.  The producer runs for about 1.5 s, once with its stderr on a
# pseudo-terminal (script(1)) and once with it in a file.
. "$(dirname "$0")/lib.sh"

tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools
command -v script >/dev/null || fail "script(1) is missing (util-linux)"
touch "$MNT/queues/prog" || fail "cannot make the queue"
producer="$tools/producer --mount $MNT --count 40 --interval 0.04 prog"

timeout 20 script -q -e -c "$producer" "$TEST_TMP/terminal" >/dev/null ||
	fail "the producer on a terminal failed"
assert_match $'\rproducer [0-9]+: [0-9]+/40 items, [0-9]+/s' "$(cat "$TEST_TMP/terminal")" \
	"a progress line on the terminal"

timeout 20 $producer >"$TEST_TMP/out" 2>"$TEST_TMP/err" || fail "the producer in a pipe failed"
assert_eq "" "$(cat "$TEST_TMP/err")" "stderr of the producer in a pipe"
assert_eq 80 "$(awk '$1 == "queue.prog.in" { print $2 }' "$MNT/stats")" "items pushed by both runs"
