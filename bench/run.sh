#!/usr/bin/env bash
# bench/run.sh - rwfs measured against a minimal FUSE filesystem and tmpfs.
#
# Mounts ./rwfs and bench/minfuse on private temporary mount points, uses a
# private tmpfs as the third reference, runs bench/bench against all three,
# prints a table, the writer's latency under readers, rwfs's lock against
# glibc's, the daemon's memory, and PASS/MISS for each target.  A missed
# target is a result, not a failure: the exit status is non-zero only when
# something could not run.  Always unmounts what it mounted.
#
#     make bench                    # or: bench/run.sh
#     BENCH_SECONDS=5 bench/run.sh  # seconds per figure (default 2)
#     BENCH_ROUNDS=4 bench/run.sh   # turns each figure is split into (default 8)
#     BENCH_OPS=pwrite BENCH_THREADS=2 bench/run.sh   # only some rows
#
# Each ops/s figure is the median of BENCH_ROUNDS short runs, rwfs and
# minfuse taking turns, because on a small machine the scheduler's
# placement of client and daemon threads moves a single run by +-30%.

set -u

root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$root" || exit 1

secs=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-8}
ops=${BENCH_OPS:-pread cat pwrite ctl}
thread_counts=${BENCH_THREADS:-1 2 4}
cflags="-std=gnu11 -O2 -Wall -Wextra -Werror"

# Targets.
target_pread_pct=90    # register pread, % of minfuse
target_pwrite_pct=85   # register pwrite, % of minfuse
target_wait_us=5000    # writer's longest write() under 4 readers
target_rss_kib=16384   # daemon's VmRSS after the run

die() {
	echo "bench: $*" >&2
	exit 1
}

# True when $1 is missing or older than any of the other files.
stale() {
	local target=$1 src
	shift
	[ -e "$target" ] || return 0
	for src in "$@"; do
		[ "$src" -nt "$target" ] && return 0
	done
	return 1
}

case $secs in
'' | . | *[!0-9.]* | *.*.*) die "BENCH_SECONDS must be a number of seconds, not '$secs'" ;;
esac
for op in $ops; do
	case $op in
	pread | cat | pwrite | ctl) ;;
	*) die "BENCH_OPS: unknown operation '$op' (pread cat pwrite ctl)" ;;
	esac
done
for t in $thread_counts; do
	case $t in
	'' | 0 | *[!0-9]*) die "BENCH_THREADS: bad thread count '$t'" ;;
	esac
done
case $rounds in
'' | 0 | *[!0-9]*) die "BENCH_ROUNDS must be a whole number above 0, not '$rounds'" ;;
esac
round_secs=$(awk -v s="$secs" -v r="$rounds" 'BEGIN { printf "%.3f", s / r }')

# ---- build ---------------------------------------------------------------

[ -x ./rwfs ] || die "./rwfs not found: run make first"
if stale bench/minfuse bench/minfuse.c; then
	# shellcheck disable=SC2046,SC2086
	cc $cflags $(pkg-config --cflags fuse3) bench/minfuse.c \
		$(pkg-config --libs fuse3) -lpthread -o bench/minfuse ||
		die "cannot build bench/minfuse"
fi
if stale bench/bench bench/bench.c fs/engine/rwlock.c fs/engine/rwlock.h; then
	# shellcheck disable=SC2086
	cc $cflags -Ifs/engine bench/bench.c fs/engine/rwlock.c -lpthread \
		-o bench/bench || die "cannot build bench/bench"
fi

# ---- mounts, and their cleanup -------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rwfs-bench.XXXXXX") || die "mktemp failed"
mnt_rwfs=$tmp/rwfs
mnt_min=$tmp/minfuse
ref=$tmp/tmpfs
ref_mounted=0
ref_shm=0
rwfs_pid=
min_pid=

# Waits up to $2 tenths of a second for process $1 to end, then reaps it.
reap() {
	local pid=$1 tenths=$2
	while [ "$tenths" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		tenths=$((tenths - 1))
	done
	kill -0 "$pid" 2>/dev/null && return 1
	wait "$pid" 2>/dev/null
	return 0
}

stop_daemon() {
	local pid=$1
	[ -n "$pid" ] || return 0
	reap "$pid" 50 && return 0
	kill -TERM "$pid" 2>/dev/null
	reap "$pid" 30 && return 0
	echo "bench: pid $pid ignored SIGTERM; killing it" >&2
	kill -KILL "$pid" 2>/dev/null
	reap "$pid" 30
}

# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local m busy=0
	trap - EXIT INT TERM
	for m in "$mnt_rwfs" "$mnt_min"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null ||
				umount -l "$m" 2>/dev/null
		fi
	done
	# Unmounting ends the daemons' session loops; rwfs saves its state.
	stop_daemon "$rwfs_pid"
	stop_daemon "$min_pid"
	if [ "$ref_mounted" = 1 ]; then
		umount "$ref" 2>/dev/null || umount -l "$ref" 2>/dev/null
	fi
	[ "$ref_shm" = 1 ] && rm -rf "$ref"
	for m in "$mnt_rwfs" "$mnt_min" "$ref"; do
		if mountpoint -q "$m" 2>/dev/null; then
			echo "bench: could not unmount $m" >&2
			busy=1
		fi
	done
	# Never rm -r through a live mount.
	[ "$busy" = 0 ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$mnt_rwfs" "$mnt_min" "$ref" "$tmp/work" || die "cannot make mount points"

# Waits for $1 to become a mount point while process $2 lives.
wait_mount() {
	local m=$1 pid=$2 tenths=100
	while [ "$tenths" -gt 0 ]; do
		mountpoint -q "$m" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		tenths=$((tenths - 1))
	done
	return 1
}

# rwfs runs in a scratch directory so its default state file lands there,
# never in the repository.
start_rwfs() {
	local out=$1
	shift
	(cd "$tmp/work" && exec "$root/rwfs" -f "$@" "$mnt_rwfs") \
		>"$out" 2>"$tmp/rwfs.err" &
	rwfs_pid=$!
	wait_mount "$mnt_rwfs" "$rwfs_pid"
}

if ! start_rwfs "$tmp/rwfs.out" --quiet; then
	stop_daemon "$rwfs_pid"
	# Not accepting --quiet yet: keep the event log off the measurement's
	# console instead.
	start_rwfs /dev/null ||
		die "rwfs did not mount: $(head -c 2000 "$tmp/rwfs.err")"
	rwfs_note="(rwfs started without --quiet; event log sent to /dev/null)"
else
	rwfs_note=
fi

bench/minfuse -f "$mnt_min" >"$tmp/minfuse.out" 2>&1 &
min_pid=$!
wait_mount "$mnt_min" "$min_pid" ||
	die "bench/minfuse did not mount: $(head -c 2000 "$tmp/minfuse.out")"

if mount -t tmpfs -o size=16m,mode=0700 rwfs-bench "$ref" 2>/dev/null; then
	ref_mounted=1
	ref_desc="tmpfs mounted at a private directory"
else
	ref=$(mktemp -d /dev/shm/rwfs-bench.XXXXXX) || die "no tmpfs available"
	ref_shm=1
	ref_desc="/dev/shm (could not mount a private tmpfs)"
fi
# The ctl reference must not be named ctl: bench then uses pwrite at 0.
for f in A B R; do
	printf '0\n' >"$ref/$f" || die "cannot write $ref/$f"
done
for f in A B ctl; do
	[ -e "$mnt_rwfs/$f" ] || die "rwfs has no $f"
done

# ---- measurements --------------------------------------------------------

# Runs bench/bench with the arguments; prints its result line.
run_bench() {
	local out
	out=$(bench/bench "$@") || die "bench/bench $* failed"
	printf '%s\n' "$out"
}

# The value following key $1 in line $2.
field() {
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$2"
}

# The median of the arguments (numbers).
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			if (m == int(m)) printf "%d\n", m; else printf "%.1f\n", m }'
}

# "Q1-Q3%" of the arguments (percentages): the middle half of them.
quartiles() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { q1 = int(NR / 4) + 1; q3 = NR + 1 - q1; printf "%.0f-%.0f%%\n", v[q1], v[q3] }'
}

pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "nan" }'
}

# "yes" when $1 >= $2, or $1 < $2 (as numbers).
at_least() {
	awk -v a="$1" -v b="$2" 'BEGIN { r = "no"; if (a + 0 >= b + 0) r = "yes"; print r }'
}
below() {
	awk -v a="$1" -v b="$2" 'BEGIN { r = "no"; if (a + 0 < b + 0) r = "yes"; print r }'
}

# Percent of all CPUs busy over half a second, from /proc/stat.
cpu_busy_pct() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 0.5
	b=$(head -n 1 /proc/stat)
	printf '%s\n%s\n' "$a" "$b" | awk '{ idle[NR] = $5 + $6; tot[NR] = 0
		for (i = 2; i <= NF; i++) tot[NR] += $i }
		END { d = tot[2] - tot[1]; busy = 0
			if (d > 0) busy = 100 - 100 * (idle[2] - idle[1]) / d
			printf "%.0f\n", busy }'
}

busy=$(cpu_busy_pct)
echo "rwfs benchmark: $(nproc) CPUs, Linux $(uname -r), ${busy}% busy before the start"
if [ "$busy" -ge 20 ]; then
	echo "warning: other work is using the CPUs; expect noisy figures"
fi
echo "each ops/s figure: median of $rounds runs of $round_secs s, rwfs and minfuse" \
	"taking turns (BENCH_SECONDS=$secs, BENCH_ROUNDS=$rounds);"
echo "run spread: the middle half of the rwfs/minfuse ratios of back-to-back runs"
echo "references: bench/minfuse (same FUSE transport, no work) and $ref_desc"
echo "rwfs state (journal): a scratch directory on $(stat -f -c %T "$tmp/work")"
[ -n "$rwfs_note" ] && echo "$rwfs_note"
echo

printf '%-10s %7s %13s %13s %13s %12s %12s\n' operation threads "rwfs ops/s" \
	"minfuse ops/s" "tmpfs ops/s" "rwfs/minfuse" "run spread"

min_pread_pct=
min_pwrite_pct=
pread_ratios=()
pwrite_ratios=()
for op in $ops; do
	case $op in
	ctl) f_rwfs=$mnt_rwfs/ctl f_ref=$ref/R ;;
	*) f_rwfs=$mnt_rwfs/A f_ref=$ref/A ;;
	esac
	for t in $thread_counts; do
		rs=() ms=() ss=() ps=()
		# A FUSE run that directly follows a CPU-bound one (the tmpfs
		# runs) can settle into a slow scheduling mode: with two writer
		# threads, at a quarter of the usual rate, whichever filesystem
		# it is.  So the tmpfs runs come after the FUSE ones, a short
		# discarded run settles things first, and rwfs and minfuse take
		# the first turn in alternate rounds.
		run_bench "$op" "$mnt_min/f" "$t" 0.1 >/dev/null || exit 1
		for ((i = 0; i < rounds; i++)); do
			if ((i % 2 == 0)); then
				out=$(run_bench "$op" "$f_rwfs" "$t" "$round_secs") || exit 1
				rs+=("$(field ops_per_sec "$out")")
			fi
			out=$(run_bench "$op" "$mnt_min/f" "$t" "$round_secs") || exit 1
			ms+=("$(field ops_per_sec "$out")")
			if ((i % 2 == 1)); then
				out=$(run_bench "$op" "$f_rwfs" "$t" "$round_secs") || exit 1
				rs+=("$(field ops_per_sec "$out")")
			fi
			ps+=("$(pct "${rs[i]}" "${ms[i]}")")
		done
		for ((i = 0; i < rounds; i++)); do
			out=$(run_bench "$op" "$f_ref" "$t" "$round_secs") || exit 1
			ss+=("$(field ops_per_sec "$out")")
		done
		r=$(median "${rs[@]}") m=$(median "${ms[@]}") s=$(median "${ss[@]}")
		p=$(pct "$r" "$m")
		printf '%-10s %7s %13.0f %13.0f %13.0f %11s%% %12s\n' "$op" "$t" "$r" "$m" "$s" \
			"$p" "$(quartiles "${ps[@]}")"
		case $op in
		pread)
			pread_ratios+=("${ps[@]}")
			[ -z "$min_pread_pct" ] || [ "$(at_least "$p" "$min_pread_pct")" = no ] &&
				min_pread_pct=$p
			;;
		pwrite)
			pwrite_ratios+=("${ps[@]}")
			[ -z "$min_pwrite_pct" ] || [ "$(at_least "$p" "$min_pwrite_pct")" = no ] &&
				min_pwrite_pct=$p
			;;
		esac
	done
done

echo
echo "writer latency: 4 readers pread flat out, one writer pwrite()s every 1 ms"
printf '%-10s %14s %14s %10s %18s\n' fs "max write us" "p99 write us" writes "reader ops/s"
wl_rwfs=$(run_bench writer-latency "$mnt_rwfs/A" "$mnt_rwfs/B" 4 "$secs") || exit 1
wl_min=$(run_bench writer-latency "$mnt_min/f" "$mnt_min/f" 4 "$secs") || exit 1
for fs in rwfs minfuse; do
	if [ "$fs" = rwfs ]; then line=$wl_rwfs; else line=$wl_min; fi
	printf '%-10s %14s %14s %10s %18s\n' "$fs" "$(field writer_max_us "$line")" \
		"$(field writer_p99_us "$line")" "$(field writes "$line")" \
		"$(field reader_ops_per_sec "$line")"
done
wait_max_us=$(field writer_max_us "$wl_rwfs")

echo
echo "lock: 4 readers lock/unlock flat out, one writer locks every 1 ms (in process)"
printf '%-10s %14s %14s %10s %18s\n' lock "max wait us" "p99 wait us" writes "reader acq/s"
lk=$(run_bench lock 4 "$secs") || exit 1
for l in rwfs glibc; do
	printf '%-10s %14s %14s %10s %18s\n' "$l" "$(field "${l}_max_us" "$lk")" \
		"$(field "${l}_p99_us" "$lk")" "$(field "${l}_writes" "$lk")" \
		"$(field "${l}_reads_per_sec" "$lk")"
done

echo
kill -0 "$rwfs_pid" 2>/dev/null || die "rwfs is no longer running"
rss_kib=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$rwfs_pid/status")
hwm_kib=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$rwfs_pid/status")
[ -n "$rss_kib" ] || die "cannot read /proc/$rwfs_pid/status"
echo "rwfs memory after the run: VmRSS ${rss_kib} KiB, VmHWM ${hwm_kib} KiB"

echo
echo "targets"
verdict() {
	if [ "$1" = yes ]; then echo PASS; else echo MISS; fi
}
# A ratio target for one operation: judged on the median of the ratios of
# all its back-to-back pairs of runs (every thread count), which is steadier
# than any one row; the worst row is shown beside it.
ratio_target() {
	local what=$1 target=$2 worst=$3 all
	shift 3
	if [ $# -eq 0 ]; then
		printf '  %-40s %-30s %s\n' "$what" "-" "not run"
		return
	fi
	all=$(awk -v m="$(median "$@")" 'BEGIN { printf "%.1f", m }')
	printf '  %-40s %-30s %s\n' "$what" "${all}% (worst row ${worst}%)" \
		"$(verdict "$(at_least "$all" "$target")")"
}
ratio_target "register pread >= ${target_pread_pct}% of minfuse" "$target_pread_pct" \
	"$min_pread_pct" "${pread_ratios[@]}"
ratio_target "register pwrite >= ${target_pwrite_pct}% of minfuse" "$target_pwrite_pct" \
	"$min_pwrite_pct" "${pwrite_ratios[@]}"
printf '  %-40s %-30s %s\n' "writer's longest write() < $((target_wait_us / 1000)) ms" \
	"${wait_max_us} us" "$(verdict "$(below "$wait_max_us" "$target_wait_us")")"
printf '  %-40s %-30s %s\n' "rwfs VmRSS < $((target_rss_kib / 1024)) MiB" \
	"${rss_kib} KiB" "$(verdict "$(below "$rss_kib" "$target_rss_kib")")"
exit 0
