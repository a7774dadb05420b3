#!/usr/bin/env bash
# The README's tour, as written there, runs twice in a row on one mount:
# its first lines put back what it changed, so the second run shows what
# the first one did (registers as the README says, the queue writable
# again after its seal, rows.txt with the same two rows).  What blocks
# waits a second instead, and the demo scripts run shorter.
. "$(dirname "$0")/lib.sh"

tools=${TOOLS:-$ROOT/tools}
[[ "$tools" == /* ]] || tools=$ROOT/$tools

# A directory laid out like the repository root: mnt, tools/.
tour=$TEST_TMP/tour
mkdir -p "$tour/tools"
ln -s "$MNT" "$tour/mnt"
for t in producer consumer records shop groups; do
	ln -s "$tools/$t" "$tour/tools/$t"
done
for t in common.sh reader.sh writer.sh; do
	ln -s "$ROOT/tools/$t" "$tour/tools/$t"
done

# The tour's commands, from its heading up to the shop.
script=$(awk '/^## A tour/ { on = 1; next } on && /^The shop/ { exit } on && /^    / { print substr($0, 5) }' "$ROOT/README.md")
assert_contains "$script" "rm -f mnt/queues/jobs" "the tour's reset"
assert_contains "$script" "echo 'first job' > mnt/queues/jobs" "the tour's queue"
script=$(sed -e 's|^cat mnt/events .*||' \
	-e 's|^cat mnt/queues/jobs |timeout 1 cat mnt/queues/jobs |' \
	-e 's|tools/consumer --id 1 jobs|tools/consumer --id 1 --timeout 1 jobs|' \
	-e 's#tools/\(reader\|writer\)\.sh#& --count 4 --delay 0.02 --hold 0.02#g' <<<"$script")

# The outputs beside the tour: run.sh reads $TEST_TMP/*.err as the
# daemons' stderr.
for run in 1 2; do
	(cd "$tour" && timeout 25 bash -c "$script"$'\nwait') >"$tour/run$run.out" 2>"$tour/run$run.err"
	out=$(cat "$tour/run$run.out")
	err=$(cat "$tour/run$run.err")
	assert_not_contains "$err" "Broken pipe" "stderr of tour $run"
	assert_not_contains "$err" "No such file" "stderr of tour $run"
	# The snapshot the README shows: A 50, B 0, ..., N 27, ..., Z 0.
	snapshot=$(grep -E '^[A-Z] -?[0-9]+$' <<<"$out" | head -n 26)
	assert_eq 26 "$(wc -l <<<"$snapshot")" "registers in tour $run"
	want=$(for r in {A..Z}; do
		case $r in A) echo "A 50" ;; N) echo "N 27" ;; *) echo "$r 0" ;; esac
	done)
	assert_eq "$want" "$snapshot" "cat mnt/registers in tour $run"
	assert_contains "$out" "first job" "the item read back in tour $run"
	assert_eq $'1,a\n2,b' "$(cat "$tour/rows.txt")" "rows.txt after tour $run"
	assert_match 'reader 1: 4 reads, 0 wrong' "$out" "the readers under tickets in tour $run"
	assert_eq 1 "$(stat_value queue.jobs.sealed)" "jobs sealed at the end of tour $run"
done
exit 0
