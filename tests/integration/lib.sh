# lib.sh - helpers shared by run.sh and every test_*.sh (sourced, not run).
#
# run.sh mounts a fresh rwfs for each test and exports:
#   ROOT      the repository root        RWFS      the daemon binary (absolute)
#   MNT       the test's mount point     TEST_TMP  the test's scratch directory
#   RWFS_LOG  the daemon's stdout (event log)     RWFS_ERR  its stderr
#   RWFS_PID  the daemon's pid           PYTHON    a python3 interpreter
# Assertions print what they expected and what they got, then exit 1.

set -u

FSIO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fsio.py
# The tests' Python parts import their helpers (shopio) from here.
export PYTHONPATH=${FSIO%/*}${PYTHONPATH:+:$PYTHONPATH}
: "${PYTHON:=python3}"

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
	[[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

# assert_match ERE ACTUAL WHAT
assert_match() {
	[[ "$2" =~ $1 ]] || fail "$3: '$2' does not match /$1/"
}

# assert_contains TEXT PIECE WHAT
assert_contains() {
	[[ "$1" == *"$2"* ]] || fail "$3: '$2' not found in:
$1"
}

# assert_not_contains TEXT PIECE WHAT
assert_not_contains() {
	[[ "$1" != *"$2"* ]] || fail "$3: '$2' unexpectedly found in:
$1"
}

# assert_bytes PATH EXPECTED: one open and read to EOF gives exactly these
# bytes (use $'42\n').  A mismatch shows both as Python reprs.
assert_bytes() {
	local got want
	timeout 10 cmp -s "$1" <(printf '%s' "$2") && return 0
	got=$(timeout 10 "$PYTHON" "$FSIO" cat "$1" 2>&1)
	want=$("$PYTHON" -c 'import sys; print(repr(sys.argv[1].encode()))' "$2")
	fail "content of $1: expected $want, got $got"
}

# value PATH: the text of a register or cell without its newline.
value() {
	local v
	v=$(timeout 10 cat "$1") || fail "cannot read $1"
	printf '%s' "$v"
}

# expect_errno ERRNO PATH DATA [--trunc]: opens PATH for writing and sends
# DATA in ONE write(); ERRNO is OK or an errno name (EINVAL, ERANGE...).
# DATA "--stdin" means standard input.
expect_errno() {
	local got
	got=$(timeout 10 "$PYTHON" "$FSIO" write "$2" "$3" "${@:4}") || fail "write helper failed on $2: $got"
	[[ "$got" == "$1" ]] || fail "write $(printf '%q' "$3") to $2: expected $1, got $got"
}

# ctl_call BATCH: sends BATCH to mnt/ctl in one write() and reads the reply
# on the same open file.  Sets CTL_STATUS (OK or an errno name) and
# CTL_REPLY (the reply without its final newline).  BATCH "--stdin": stdin.
ctl_call() {
	local out
	out=$(timeout 10 "$PYTHON" "$FSIO" ctl "$MNT/ctl" "$1") || fail "ctl helper failed: $out"
	CTL_STATUS=${out%%$'\n'*}
	CTL_REPLY=${out#*$'\n'}
	[[ "$out" == *$'\n'* ]] || CTL_REPLY=
}

# stat_value NAME: the value of NAME in mnt/stats.
stat_value() {
	local v
	v=$(timeout 10 awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' "$MNT/stats") ||
		fail "no '$1' line in mnt/stats"
	printf '%s' "$v"
}

# stat_is NAME VALUE: mnt/stats shows NAME at VALUE (for wait_until).
stat_is() {
	[[ "$(stat_value "$1")" == "$2" ]]
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s; fails with 1
# when it has not succeeded in time.
wait_until() {
	local tries=$(($1 * 10))
	shift
	while ((tries-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# is_mounted DIR: DIR is a mount point (asks /proc, never touches DIR).
is_mounted() {
	awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/self/mounts
}

# is_running PID: the process exists and is not a zombie.
is_running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ "${stat:0:1}" != Z ]]
}

# wait_mounted DIR PID: waits up to 10 s until DIR is an rwfs mount
# answering requests; fails early when PID (the daemon) is gone.
wait_mounted() {
	local tries=100
	while ((tries-- > 0)); do
		is_running "$2" || return 1
		if is_mounted "$1" && timeout 2 test -e "$1/A"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# unmount DIR: fusermount3 -u, then a lazy unmount when it is busy.
unmount() {
	is_mounted "$1" || return 0
	timeout 5 fusermount3 -u "$1" 2>/dev/null && ! is_mounted "$1" && return 0
	timeout 5 fusermount3 -u -z "$1" 2>/dev/null || timeout 5 umount -l "$1" 2>/dev/null
	! is_mounted "$1"
}

# stop_process PID SECONDS: waits for PID to exit, then SIGTERM, then
# SIGKILL.  Returns its exit status (when it is our child) or 137.
stop_process() {
	local pid=$1 secs=$2
	if ! wait_until "$secs" eval "! is_running $pid"; then
		kill -TERM "$pid" 2>/dev/null
		if ! wait_until 5 eval "! is_running $pid"; then
			kill -KILL "$pid" 2>/dev/null
			wait_until 5 eval "! is_running $pid"
			wait "$pid" 2>/dev/null
			return 137
		fi
	fi
	wait "$pid" 2>/dev/null
}

# start_rwfs NAME [OPTION...]: a second daemon in the foreground on
# $TEST_TMP/NAME, with its own working directory (so its own default state
# file), stdout in $TEST_TMP/NAME.log and stderr in $TEST_TMP/NAME.err.
# Sets DAEMON_PID.  Stopped at exit if the test does not stop it.
start_rwfs() {
	local name=$1 dir=$TEST_TMP/$1
	shift
	mkdir -p "$dir" "$TEST_TMP/work-$name"
	(cd "$TEST_TMP/work-$name" && exec env -u TEST_TMP "$RWFS" -f "$@" "$dir") \
		>"$TEST_TMP/$name.log" 2>"$TEST_TMP/$name.err" &
	DAEMON_PID=$!
	echo "$DAEMON_PID $dir" >>"$TEST_TMP/daemons"
	wait_mounted "$dir" "$DAEMON_PID" ||
		fail "rwfs -f $* $dir did not mount; stderr: $(cat "$TEST_TMP/$name.err")"
}

# stop_rwfs NAME: unmounts $TEST_TMP/NAME and returns the daemon's exit
# status (it must exit by itself within 10 s of the unmount).
stop_rwfs() {
	local dir=$TEST_TMP/$1 pid
	pid=$(awk -v d="$dir" '$2 == d { p = $1 } END { print p }' "$TEST_TMP/daemons")
	unmount "$dir" || fail "cannot unmount $dir"
	stop_process "$pid" 10
}

# at_exit COMMAND: runs COMMAND (eval'd) when the test exits, before the
# helper daemons are stopped.  Tests use this instead of trap ... EXIT.
AT_EXIT=()
at_exit() {
	AT_EXIT+=("$1")
}

_lib_exit() {
	local _status=$? _cmd _pid _dir
	for _cmd in "${AT_EXIT[@]}"; do
		eval "$_cmd"
	done
	if [[ -n "${TEST_TMP:-}" && -f "$TEST_TMP/daemons" ]]; then
		while read -r _pid _dir; do
			unmount "$_dir"
			is_running "$_pid" && stop_process "$_pid" 5
		done <"$TEST_TMP/daemons"
	fi
	return "$_status"
}

# Only the tests install the exit hook; run.sh does its own cleanup.
if [[ -n "${MNT:-}" && "${0##*/}" == test_*.sh ]]; then
	trap _lib_exit EXIT
fi

# Event log lines: "12:00:01.204 pid 4242 (cat) read A -> 42".
EVENT_RE='^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} pid [0-9]+ \([^)]*\) [^ ].* -> .+$'
