#!/usr/bin/env bash
# run.sh - runs the integration tests, each against its own fresh mount.
#
#   tests/integration/run.sh [TEST...]     TEST: test_ctl, test_ctl.sh or ctl
#
# RWFS names the daemon (default: ./rwfs at the repository root), so the same
# tests run against a sanitizer build; TEST_TIMEOUT bounds each test (seconds,
# default 60); TEST_LANES=1 runs every test one after the other, the etcd
# ones too, not in a lane of their own beside the rest.  A test fails when
# its script exits non-zero, when a daemon's stderr holds a sanitizer report,
# when the test's own daemon writes anything to stderr, or when it does not
# exit 0 after the unmount.  Mounts and daemons are cleaned up even on
# failure or Ctrl-C.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

skip() {
	echo "SKIPPED: integration tests: $*"
	exit 1
}

[[ -c /dev/fuse ]] || skip "/dev/fuse is missing"
command -v fusermount3 >/dev/null || skip "fusermount3 is missing"
command -v python3 >/dev/null || skip "python3 is missing"

RWFS=${RWFS:-$ROOT/rwfs}
[[ "$RWFS" == /* ]] || RWFS=$PWD/$RWFS
if [[ ! -x "$RWFS" ]]; then
	echo "ERROR: integration tests: no daemon at $RWFS (run make, or set RWFS)"
	exit 1
fi
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
TEST_TIMEOUT=${TEST_TIMEOUT:-60}
TEST_LANES=${TEST_LANES:-2}
export ROOT RWFS PYTHON

tests=()
if (($# == 0)); then
	tests=("$here"/test_*.sh)
fi
for t in "$@"; do
	case $t in
	*/*) f=$t ;;
	test_*) f=$here/${t%.sh}.sh ;;
	*) f=$here/test_${t%.sh}.sh ;;
	esac
	[[ -f "$f" ]] || { echo "run.sh: no such test: $t" >&2; exit 2; }
	tests+=("$f")
done

SANITIZER_RE='AddressSanitizer|runtime error:|LeakSanitizer|ThreadSanitizer'
passed=0
failed=0
TEST_TMP=
test_pid=
problems=

indent() {
	sed 's/^/    /' "$@"
}

# Unmounts everything under $TEST_TMP, deepest and newest first.
unmount_all() {
	local pass dirs dir
	for pass in 1 2 3 4 5; do
		mapfile -t dirs < <(awk -v t="$TEST_TMP/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | tac)
		((${#dirs[@]})) || return 0
		for dir in "${dirs[@]}"; do
			unmount "$dir"
		done
	done
	return 1
}

# Ends the current test: kills what its script left running (the process
# group that timeout made), unmounts, stops the daemon, removes the files.
# Adds the reasons for failure to $problems, one per line.
finish_test() {
	local status pid
	if [[ -n "$test_pid" ]]; then
		kill -KILL -- "-$test_pid" 2>/dev/null
		wait "$test_pid" 2>/dev/null
	fi
	test_pid=
	# What the test started under its own `timeout` has another process
	# group; its environment still names this test's directory.
	for pid in $(grep -lzxF "TEST_TMP=$TEST_TMP" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[[ "$pid" != "$RWFS_PID" ]] && kill -KILL "$pid" 2>/dev/null
	done
	unmount_all || problems+="cannot unmount everything under $TEST_TMP"$'\n'
	# Daemons a test started and left running end with their mounts.
	if [[ -f "$TEST_TMP/daemons" ]]; then
		while read -r pid _; do
			is_running "$pid" && stop_process "$pid" 5
		done <"$TEST_TMP/daemons"
	fi
	stop_process "$RWFS_PID" 10
	status=$?
	if ((status == 137)); then
		problems+="daemon did not exit within 10 s of the unmount (killed)"$'\n'
	elif ((status != 0)); then
		problems+="daemon exited with status $status after the unmount"$'\n'
	fi
	if grep -qE "$SANITIZER_RE" "$TEST_TMP"/*.err 2>/dev/null; then
		problems+="sanitizer report on the daemon's stderr"$'\n'
	elif [[ -s "$RWFS_ERR" ]]; then
		problems+="unexpected output on the daemon's stderr"$'\n'
	fi
}

remove_tmp() {
	if awk -v t="$TEST_TMP/" 'index($2, t) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		echo "left $TEST_TMP in place: something is still mounted there"
	else
		rm -rf --one-file-system "$TEST_TMP"
	fi
	TEST_TMP=
}

lane_pid=
on_signal() {
	echo
	echo "interrupted; cleaning up"
	if [[ -n "$lane_pid" ]]; then
		kill -TERM "$lane_pid" 2>/dev/null
		wait "$lane_pid"
	fi
	if [[ -n "$TEST_TMP" ]]; then
		finish_test
		remove_tmp
	fi
	exit 130
}
trap on_signal INT TERM

run_one() {
	local file=$1 name status problems err started took
	name=$(basename "$file" .sh)
	started=$(date +%s%N)
	TEST_TMP=$(mktemp -d)
	MNT=$TEST_TMP/mnt
	RWFS_LOG=$TEST_TMP/rwfs.log
	RWFS_ERR=$TEST_TMP/rwfs.err
	export TEST_TMP MNT RWFS_LOG RWFS_ERR
	mkdir "$MNT" "$TEST_TMP/work"
	# Without TEST_TMP in its environment, so that finish_test tells the
	# daemon (even behind a wrapper script) from the test's stragglers.
	(cd "$TEST_TMP/work" && exec env -u TEST_TMP "$RWFS" -f "$MNT") >"$RWFS_LOG" 2>"$RWFS_ERR" &
	RWFS_PID=$!
	export RWFS_PID

	problems=
	if wait_mounted "$MNT" "$RWFS_PID"; then
		timeout -k 5 "$TEST_TIMEOUT" bash "$file" >"$TEST_TMP/out" 2>&1 </dev/null &
		test_pid=$!
		wait "$test_pid"
		status=$?
		if ((status == 124 || status == 137)); then
			problems="test timed out after $TEST_TIMEOUT s"$'\n'
		elif ((status != 0)); then
			problems="test exited with status $status"$'\n'
		fi
	else
		problems="the daemon did not mount $MNT within 10 s"$'\n'
		: >"$TEST_TMP/out"
	fi
	finish_test
	took=$((($(date +%s%N) - started) / 100000000))
	took="($((took / 10)).$((took % 10)) s)"

	if [[ -z "$problems" ]]; then
		echo "PASS $name $took"
		passed=$((passed + 1))
	else
		echo "FAIL $name $took"
		printf '%s\n' "$problems" | sed '/^$/d' | indent
		if [[ -s "$TEST_TMP/out" ]]; then
			echo "  --- output"
			indent "$TEST_TMP/out"
		fi
		for err in "$TEST_TMP"/*.err; do
			[[ -s "$err" ]] || continue
			echo "  --- daemon stderr (${err##*/})"
			indent "$err"
		done
		if [[ -s "$RWFS_LOG" ]]; then
			echo "  --- last lines of the event log"
			tail -n 15 "$RWFS_LOG" | indent
		fi
		failed=$((failed + 1))
	fi
	remove_tmp
}

run_lane() {
	local file
	for file in "$@"; do
		run_one "$file"
	done
}

# The etcd tests spend most of their time waiting on elections and on
# etcd's fsyncs, so they run in a second lane beside the others; its report
# follows theirs.  Each test keeps its own directory, mounts and ports.
etcd_tests=()
other_tests=()
for file in "${tests[@]}"; do
	case $(basename "$file") in
	test_etcd_*) etcd_tests+=("$file") ;;
	*) other_tests+=("$file") ;;
	esac
done
if ((TEST_LANES > 1 && ${#etcd_tests[@]} && ${#other_tests[@]})); then
	lane_out=$(mktemp)
	(
		trap on_signal INT TERM
		run_lane "${etcd_tests[@]}"
		echo "$passed $failed" >"$lane_out.counts"
	) >"$lane_out" 2>&1 &
	lane_pid=$!
	run_lane "${other_tests[@]}"
	wait "$lane_pid"
	lane_pid=
	cat "$lane_out"
	read -r lane_passed lane_failed <"$lane_out.counts" || lane_failed=1
	passed=$((passed + ${lane_passed:-0}))
	failed=$((failed + lane_failed))
	rm -f "$lane_out" "$lane_out.counts"
else
	run_lane "${tests[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
