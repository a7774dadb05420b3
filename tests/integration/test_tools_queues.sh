#!/usr/bin/env bash
# tools/producer and tools/consumer: the course's scenario 1 (producers and
# consumers on one queue, every item delivered exactly once), scenario 3 (a
# CSV streamed slowly into a consumer started first, as text and as
# records), an output that goes away (no item lost), and the error cases:
# a sealed or removed queue, no queue, no mount, bad usage, a failed output.
. "$(dirname "$0")/lib.sh"

# The tools under test: $TOOLS (the Makefile points it at a sanitizer
# build), else the repository's tools/.
tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools
producer=$tools/producer
consumer=$tools/consumer
records=$tools/records
for tool in "$producer" "$consumer" "$records"; do
	[[ -x "$tool" ]] || fail "$tool is not built"
done
# Our files in a directory of their own: run.sh reads $TEST_TMP/*.err as
# the daemons' stderr.
mkdir "$TEST_TMP/t" && cd "$TEST_TMP/t" || fail "cannot make $TEST_TMP/t"

# --help, bad usage.
for tool in "$producer" "$consumer" "$records"; do
	out=$(timeout 10 "$tool" --help) || fail "$tool --help failed"
	assert_match '^usage: ' "$out" "$tool --help"
	timeout 10 "$tool" --bogus >/dev/null 2>&1
	assert_eq 2 "$?" "exit status of $tool --bogus"
	err=$(timeout 10 "$tool" 2>&1 >/dev/null)
	assert_eq 2 "$?" "exit status of $tool without arguments"
	assert_match "^${tool##*/}: no [A-Z]+ given; see ${tool##*/} --help\$" "$err" "$tool without arguments"
done
for args in "--count x q" "--interval 3-1 q" "--interval abc q" "--records --csv f q" "a/ b c" "bad:name"; do
	# shellcheck disable=SC2086
	timeout 10 "$producer" --mount "$MNT" $args >/dev/null 2>&1
	assert_eq 2 "$?" "exit status of producer $args"
done
timeout 10 "$consumer" --mount "$MNT" --timeout -1 q >/dev/null 2>&1
assert_eq 2 "$?" "exit status of consumer --timeout -1"

# Scenario 1: two producers, two consumers, one queue (capacity 100).  The
# producer creates the queue; every item comes out exactly once.
timeout 20 "$producer" --mount "$MNT" --id 1 --count 300 --verbose jobs >p1.out 2>p1.err &
p1=$!
timeout 20 "$producer" --mount "$MNT" --id 2 --count 300 --verbose jobs >p2.out 2>p2.err &
p2=$!
wait_until 5 test -e "$MNT/queues/jobs" || fail "the producer did not create the queue"
timeout 20 "$consumer" --mount "$MNT" --id 1 --timeout 2 jobs >c1.out 2>c1.err &
c1=$!
timeout 20 "$consumer" --mount "$MNT" --id 2 --timeout 2 jobs >c2.out 2>c2.err &
c2=$!
wait "$p1" || fail "producer 1 failed: $(cat p1.err)"
wait "$p2" || fail "producer 2 failed: $(cat p2.err)"
wait "$c1" || fail "consumer 1 failed: $(cat c1.err)"
wait "$c2" || fail "consumer 2 failed: $(cat c2.err)"
assert_eq "" "$(cat p1.err p2.err)" "producers' stderr in a pipe"
assert_eq 600 "$(cat p?.out | wc -l)" "items sent"
grep -Evq '^producer [12]: [a-z0-9]{4,10}$' p1.out p2.out && fail "bad producer line: $(grep -Ev '^producer [12]: [a-z0-9]{4,10}$' p?.out | head -3)"
grep -Evq '^consumer [12]: [a-z0-9]{4,10}$' c1.out c2.out && fail "bad consumer line: $(grep -Ev '^consumer [12]: [a-z0-9]{4,10}$' c?.out | head -3)"
sent=$(cut -d' ' -f3 p1.out p2.out | sort)
got=$(cut -d' ' -f3 c1.out c2.out | sort)
[[ "$sent" == "$got" ]] || fail "items sent and taken differ: $(diff <(echo "$sent") <(echo "$got") | head)"
assert_contains "$(cat c1.err)" "consumer 1: nothing for 2 s, stopping" "consumer 1's note"
assert_eq 0 "$(stat_value queue.jobs.depth)" "depth of jobs afterwards"

# The default: 100 random strings; the mount from $RWFS_MOUNT, then ./mnt;
# a QUEUE with a slash is a path.
RWFS_MOUNT=$MNT timeout 10 "$producer" q1 || fail "producer with \$RWFS_MOUNT failed"
out=$(cd "$TEST_TMP" && timeout 10 "$consumer" --id 7 --timeout 0.5 q1 2>/dev/null) || fail "consumer with ./mnt failed"
assert_eq 100 "$(wc -l <<<"$out")" "items of a default producer"
timeout 10 "$producer" --count 3 "$MNT/queues/by-path" || fail "producer with a path failed"
out=$(timeout 10 "$consumer" --count 2 "$MNT/queues/by-path") || fail "consumer --count 2 failed"
assert_eq 2 "$(wc -l <<<"$out")" "items taken by consumer --count 2"
assert_eq 1 "$(stat_value queue.by-path.depth)" "items left after consumer --count 2"

# Scenario 3: a CSV of three rows (and a header) streamed with pauses into
# a consumer started first, before the queue exists: it waits for the
# queue, and --out writes the rows into a text file, one per line, as they
# were; --records writes binary records that records shows.
printf 'sensor,time,value\n7,2026-11-22T10:00:00Z,21.5\n8,2026-11-22T10:00:01Z,19.25\n\n9,2026-11-22T10:00:02Z,-3\n' >readings.csv
rows=$'7,2026-11-22T10:00:00Z,21.5\n8,2026-11-22T10:00:01Z,19.25\n9,2026-11-22T10:00:02Z,-3'
timeout 20 "$consumer" --mount "$MNT" --id 9 --timeout 4 --out out9.txt csv 2>c9.err &
c9=$!
wait_until 5 grep -q "waiting" c9.err || fail "the consumer does not say it waits for the queue: $(cat c9.err)"
assert_eq "consumer 9: no queue 'csv' in '$MNT' yet: waiting for it (a producer makes it)" "$(cat c9.err)" "consumer started before the queue"
is_running "$c9" || fail "the consumer did not wait for the queue"
start=$SECONDS
timeout 20 "$producer" --mount "$MNT" --csv readings.csv --interval 1-2 csv || fail "producer --csv failed"
((SECONDS - start >= 2)) || fail "producer --interval 1-2 sent 3 items in less than 2 s"
wait "$c9" || fail "consumer --out failed: $(cat c9.err)"
assert_eq "$rows" "$(cat out9.txt)" "the text file of consumer --out"
assert_eq 3 "$(wc -l <out9.txt)" "lines of out9.txt"
timeout 10 "$producer" --mount "$MNT" --csv readings.csv csv || fail "producer --csv failed"
timeout 10 "$consumer" --mount "$MNT" --timeout 0.5 --records out9.rec csv 2>/dev/null || fail "consumer --records failed"
out=$(timeout 10 "$records" out9.rec 2>records.err) || fail "records out9.rec failed: $(cat records.err)"
assert_eq "$rows" "$out" "records of out9.rec"
assert_contains "$(cat records.err)" "out9.rec: 3 records read, 0 damaged" "records summary"
timeout 10 "$consumer" --mount "$MNT" --out a --records b csv >/dev/null 2>&1
assert_eq 2 "$?" "exit status of consumer --out with --records"
# --no-header sends the first line too.
timeout 10 "$producer" --mount "$MNT" --csv readings.csv --no-header csv2 || fail "producer --no-header failed"
assert_eq 4 "$(stat_value queue.csv2.depth)" "rows sent with --no-header"

# Sealing: writers get "sealed", readers drain and then stop at EOF.
timeout 10 "$producer" --mount "$MNT" --count 5 sealed || fail "producer failed"
chmod a-w "$MNT/queues/sealed"
err=$(timeout 10 "$producer" --mount "$MNT" --count 1 sealed 2>&1)
assert_eq 1 "$?" "exit status of a producer on a sealed queue"
assert_eq "producer: queue 'sealed' is sealed" "$err" "producer on a sealed queue"
out=$(timeout 10 "$consumer" --mount "$MNT" --id 3 --timeout 0 sealed 2>c3.err)
assert_eq 0 "$?" "exit status of a consumer draining a sealed queue"
assert_eq 5 "$(wc -l <<<"$out")" "items drained from a sealed queue"
assert_contains "$(cat c3.err)" "is sealed and empty" "consumer's note at EOF"

# Removal wakes a waiting consumer, which stops with status 0.
touch "$MNT/queues/doomed"
timeout 10 "$consumer" --mount "$MNT" --timeout 0 doomed >/dev/null 2>c4.err &
c4=$!
wait_until 5 stat_is queue.doomed.readers_waiting 1 || fail "the consumer is not waiting"
rm "$MNT/queues/doomed"
wait "$c4" || fail "consumer on a removed queue: status $?: $(cat c4.err)"

# --timeout with nothing to take: stops after about that long, status 0.
touch "$MNT/queues/idle"
start=$(date +%s%N)
err=$(timeout 10 "$consumer" --mount "$MNT" --id 5 --timeout 0.5 idle 2>&1)
assert_eq 0 "$?" "exit status of an idle consumer"
assert_eq "consumer 5: nothing for 0.5 s, stopping" "$err" "idle consumer's note"
elapsed=$((($(date +%s%N) - start) / 1000000))
((elapsed >= 450 && elapsed < 3000)) || fail "--timeout 0.5 stopped after $elapsed ms"

# A queue that never comes: the consumer waits for it until --timeout.
err=$(timeout 10 "$consumer" --mount "$MNT" --id 6 --timeout 0.5 nope 2>&1)
assert_eq 0 "$?" "exit status of consumer on a queue that never comes"
assert_eq "consumer 6: no queue 'nope' in '$MNT' yet: waiting for it (a producer makes it)
consumer 6: no queue 'nope' for 0.5 s, stopping" "$err" "consumer on a queue that never comes"

# A consumer whose output goes away loses no item: `| head -1` takes one,
# and the rest stay queued; a reader that leaves without reading its line
# gets it put back.
timeout 10 "$producer" --mount "$MNT" --count 5 pipe || fail "producer failed"
timeout 10 "$consumer" --mount "$MNT" --id 8 --timeout 1 pipe 2>pipe.err | head -1 >head.out
assert_eq "0 0" "${PIPESTATUS[*]}" "exit statuses of consumer | head -1"
assert_match '^consumer 8: [a-z0-9]{4,10}$' "$(cat head.out)" "the line head read"
assert_contains "$(cat pipe.err)" "consumer 8: the output was closed, stopping" "consumer's note when head leaves"
assert_eq 4 "$(stat_value queue.pipe.depth)" "items left after consumer | head -1"
timeout 10 "$consumer" --mount "$MNT" --id 8 --timeout 1 pipe 2>pipe.err | sleep 0.5
assert_match "^consumer: the output was closed before the last item was read; item put back into queue 'pipe', at its tail: [a-z0-9]{4,10}"$'\n'"consumer 8: the output was closed, stopping\$" "$(cat pipe.err)" "consumer's note when its reader leaves without reading"
assert_eq 4 "$(stat_value queue.pipe.depth)" "items left after consumer | sleep"
timeout 10 "$consumer" --mount "$MNT" --count 1 pipe 2>pipe.err | sleep 0.5
assert_contains "$(cat pipe.err)" "item put back into queue 'pipe'" "consumer --count 1 | sleep"
assert_eq 4 "$(stat_value queue.pipe.depth)" "items left after consumer --count 1 | sleep"
out=$(timeout 10 "$consumer" --mount "$MNT" --timeout 0.5 pipe 2>/dev/null | cat)
assert_eq 4 "$(wc -l <<<"$out")" "items through a pipe that reads them all"

# Errors: no mount, a line too long, an output that fails.
mkdir plain
for tool in "$producer" "$consumer"; do
	err=$(timeout 10 "$tool" --mount plain jobs 2>&1)
	assert_eq 1 "$?" "exit status of $tool on a plain directory"
	assert_eq "${tool##*/}: 'plain' is not an rwfs mount (no ctl file there)" "$err" "$tool on a plain directory"
	err=$(cd plain && timeout 10 "$tool" jobs 2>&1)
	assert_eq "${tool##*/}: './mnt' is not an rwfs mount (no ctl file there)" "$err" "$tool without ./mnt"
done
head -c 5000 /dev/zero | tr '\0' x >long.csv
err=$(timeout 10 "$producer" --mount "$MNT" --csv long.csv --no-header long 2>&1)
assert_eq 1 "$?" "exit status of producer with a 5000-byte row"
assert_contains "$err" "over 4096 bytes" "producer with a 5000-byte row"
timeout 10 "$producer" --mount "$MNT" --count 1 full || fail "producer failed"
err=$(timeout 10 "$consumer" --mount "$MNT" --timeout 1 full 2>&1 >/dev/full)
assert_eq 1 "$?" "exit status of consumer writing to /dev/full"
assert_match "^consumer: cannot write the output: No space left on device; item put back into queue 'full', at its tail: [a-z0-9]{4,10}\$" "$err" "consumer writing to /dev/full"
assert_eq 1 "$(stat_value queue.full.depth)" "items of 'full' after the failed output"
ln -s /dev/full full.txt
err=$(timeout 10 "$consumer" --mount "$MNT" --timeout 1 --out full.txt full 2>&1)
assert_eq 1 "$?" "exit status of consumer --out to /dev/full"
assert_contains "$err" "cannot write to 'full.txt': No space left on device; item put back" "consumer --out to /dev/full"
chmod a-w "$MNT/queues/full"
err=$(timeout 10 "$consumer" --mount "$MNT" --timeout 1 full 2>&1 >/dev/full)
assert_eq 1 "$?" "exit status of consumer writing to /dev/full from a sealed queue"
assert_match "cannot be put back into queue 'full' \(Broken pipe\), so here it is: [a-z0-9]{4,10}\$" "$err" "the item that cannot go back"
err=$(timeout 10 "$producer" --mount "$MNT" --count 1 --verbose v 2>&1 >/dev/full)
assert_eq 1 "$?" "exit status of producer --verbose writing to /dev/full"

# A blocked producer waits for room (capacity 100) and finishes once a
# consumer makes some.
timeout 20 "$producer" --mount "$MNT" --count 150 slow 2>slow.err &
p=$!
wait_until 5 stat_is queue.slow.depth 100 || fail "the queue did not fill up"
is_running "$p" || fail "the producer did not wait for room"
out=$(timeout 10 "$consumer" --mount "$MNT" --count 150 slow) || fail "consumer failed"
wait "$p" || fail "the producer failed: $(cat slow.err)"
assert_eq 150 "$(wc -l <<<"$out")" "items through a full queue"
exit 0
