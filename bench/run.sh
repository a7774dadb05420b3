#!/usr/bin/env bash
# shellcheck disable=SC2317 # functions run indirectly: run_PART, the series, the trap
# bench/run.sh - rwfs measured against a minimal FUSE filesystem, tmpfs,
# a named pipe and Redis.
#
# Mounts ./rwfs and bench/minfuse on private temporary mount points, uses a
# private tmpfs as the third reference, and prints one report in eight parts:
#
#   core        registers and ctl against minfuse and tmpfs, the writer's
#               latency under readers, rwfs's lock against glibc's, memory
#   durability  register writes under --sync=always, everysec and no (one
#               daemon and scratch state directory each) against minfuse
#               and the disk's fdatasync; --sync=no with the event log on
#               (--log=FILE) against --quiet; start-up on a journal of a
#               million records; the journal before and after compaction
#   queues      items/s through a queue (1+1 and 4+4 threads), a named
#               pipe and Redis (when redis-server is installed), also with
#               every process on one CPU; the round
#               trip of one item against bare FUSE requests
#   shop        purchases/s with 1 and 4 buyers; cat mnt/inventory
#   files       mnt/files/: pread and pwrite of 4 KiB and 1 MiB against
#               minfuse and tmpfs; O_APPEND lines from 1 and 4 processes
#               (then a count of the lines); flock -x pairs, uncontended
#               and 4 contenders, against the kernel's flock on tmpfs
#   profile     daemon instructions per register read and write (callgrind,
#               exact) against minfuse's, and a write with the event log
#               on (every thread counted) against --quiet; needs valgrind
#   loop        register pwrite and pread ops/s under libfuse's loop options:
#               rwfs's default, -o max_threads=10, clone_fd, max_threads=4, -s
#   plots       register pread and pwrite ops/s with 1, 2, 4 and 8 threads
#               (rwfs, minfuse, tmpfs) and a histogram of a writer's lock
#               waits under 4 readers (rwfs's lock, glibc's writer-preferring
#               and default rwlocks): data files and, with gnuplot, PNGs in
#               build/bench/ (BENCH_PLOT_DIR)
#
# then PASS/MISS for each target.  A missed target is a result, not a
# failure: the exit status is non-zero only when something could not run.
# Always unmounts what it mounted and stops what it started.
#
#     make bench                    # or: bench/run.sh
#     BENCH_PARTS=durability,queues bench/run.sh   # some parts (default all)
#     BENCH_SECONDS=5 bench/run.sh  # seconds per figure (default 2)
#     BENCH_ROUNDS=4 bench/run.sh   # turns each figure is split into (default 8)
#     BENCH_OPS=pwrite BENCH_THREADS=2 bench/run.sh   # only some core rows
#     BENCH_JOURNAL_RECORDS=200000 bench/run.sh       # start-up journal (default 1000000)
#     BENCH_PLOT_DIR=/tmp/plots bench/run.sh          # where plots go (default build/bench)
#
# Each ops/s figure is the median of BENCH_ROUNDS short runs, the things
# compared taking turns, because on a small machine the scheduler's
# placement of client and daemon threads moves a single run by +-30%.

set -u

root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

secs=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-8}
ops=${BENCH_OPS:-pread cat pwrite ctl ctl100}
thread_counts=${BENCH_THREADS:-1 2 4}
parts=${BENCH_PARTS:-core,durability,queues,shop,files,profile,loop,plots}
profile_ops=${BENCH_PROFILE_OPS:-5000}
parts=${parts//,/ }
journal_records=${BENCH_JOURNAL_RECORDS:-1000000}
cflags="-std=gnu11 -O2 -Wall -Wextra -Werror"

# Targets.
target_pread_pct=95     # register pread, % of minfuse
target_pwrite_pct=95    # register pwrite, % of minfuse
target_ctl100_pct=50    # ctl writes of 100 instructions, % of minfuse's writes
target_read_insn_x=1.5  # daemon instructions per register read over minfuse's
target_write_insn_x=2   # and per write
target_wait_us=5000     # writer's longest write() under 4 readers
target_rss_kib=16384    # daemon's VmRSS after the run
target_everysec_pct=85  # --sync=everysec register pwrite, % of minfuse
target_evlog_pct=85     # register pwrite with the event log on, % of --quiet
target_group_x=2        # --sync=always: 4 writers' rate over 1 writer's
target_redis_x=1.5      # queue 1+1 items/s over Redis LPUSH+BRPOP items/s
target_rt_x=1.2         # queue push+pop time over two bare FUSE reads
compact_bytes=1048576   # --compact-size for the compaction check

has_part() {
	case " $parts " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

case $secs in
'' | . | *[!0-9.]* | *.*.*) die "BENCH_SECONDS must be a number of seconds, not '$secs'" ;;
esac
for op in $ops; do
	case $op in
	pread | cat | pwrite | ctl | ctl100) ;;
	*) die "BENCH_OPS: unknown operation '$op' (pread cat pwrite ctl ctl100)" ;;
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
[ -n "${parts// /}" ] || die "BENCH_PARTS is empty (core,durability,queues,shop,files,profile,loop,plots)"
for p in $parts; do
	case $p in
	core | durability | queues | shop | files | profile | loop | plots) ;;
	*) die "BENCH_PARTS: unknown part '$p' (core durability queues shop files profile loop plots)" ;;
	esac
done
case $profile_ops in
'' | 0 | *[!0-9]*) die "BENCH_PROFILE_OPS must be a whole number above 0, not '$profile_ops'" ;;
esac
case $journal_records in
'' | 0 | *[!0-9]*) die "BENCH_JOURNAL_RECORDS must be a whole number above 0, not '$journal_records'" ;;
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
bench_src=(bench/bench.c bench/durability.c bench/queues.c bench/shop.c bench/files.c
	fs/engine/rwlock.c)
if stale bench/bench "${bench_src[@]}" bench/bench.h fs/engine/rwlock.h; then
	# shellcheck disable=SC2086
	cc $cflags -Ifs/engine "${bench_src[@]}" -lpthread -o bench/bench ||
		die "cannot build bench/bench"
fi
if has_part durability &&
	stale bench/journal_gen bench/journal_gen.c fs/engine/*.[ch] fs/log/*.[ch]; then
	# shellcheck disable=SC2086
	cc $cflags -Ifs/engine -Ifs/log bench/journal_gen.c fs/engine/*.c fs/log/*.c \
		-lpthread -lcrypt -lnettle -lz -lcurl -ljson-c -o bench/journal_gen ||
		die "cannot build bench/journal_gen"
fi
plot_dir=${BENCH_PLOT_DIR:-$root/build/bench}
lockwait=$root/build/bench/lockwait
if has_part plots; then
	mkdir -p "$plot_dir" "$(dirname "$lockwait")" || die "cannot make $plot_dir"
	if stale "$lockwait" bench/lockwait.c fs/engine/rwlock.c fs/engine/rwlock.h; then
		# shellcheck disable=SC2086
		cc $cflags -Ifs/engine bench/lockwait.c fs/engine/rwlock.c -lpthread \
			-o "$lockwait" || die "cannot build $lockwait"
	fi
fi

# ---- mounts, daemons, and their cleanup -----------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rwfs-bench.XXXXXX") || die "mktemp failed"
# The physical path, as the mount table shows it.
tmp=$(cd "$tmp" && pwd -P) || die "cannot enter $tmp"
ref=$tmp/tmpfs
ref_mounted=0
ref_shm=0
fs_names=()        # every FUSE daemon started, by name; mounted at $tmp/NAME
declare -A fs_pid  # its process, while it runs
redis_pid=

# Unmounts daemon $1 and waits for it to end (rwfs saves its state).
stop_fs() {
	local name=$1
	unmount "$tmp/$name"
	stop_daemon "${fs_pid[$name]:-}"
	fs_pid[$name]=
}

stop_redis() {
	[ -n "$redis_pid" ] || return 0
	kill -TERM "$redis_pid" 2>/dev/null
	reap "$redis_pid" 50 || { kill -KILL "$redis_pid" 2>/dev/null; reap "$redis_pid" 30; }
	redis_pid=
}

cleanup() {
	local name busy=0
	trap - EXIT INT TERM
	# Unmounting ends the daemons' session loops; rwfs saves its state.
	for name in "${fs_names[@]}"; do
		stop_fs "$name"
	done
	stop_redis
	if [ "$ref_mounted" = 1 ]; then
		umount "$ref" 2>/dev/null || umount -l "$ref" 2>/dev/null
	fi
	[ "$ref_shm" = 1 ] && rm -rf "$ref"
	for name in "${fs_names[@]}"; do
		if is_mounted "$tmp/$name"; then
			echo "bench: could not unmount $tmp/$name" >&2
			busy=1
		fi
	done
	if is_mounted "$ref"; then
		echo "bench: could not unmount $ref" >&2
		busy=1
	fi
	# Never rm -r through a live mount.
	[ "$busy" = 0 ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir "$ref" "$tmp/work" || die "cannot make scratch directories"

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

# Starts daemon NAME in the background: the command and its arguments
# follow OUT (where its stdout goes), the mount point $tmp/NAME is added
# last.  Daemons run in a scratch directory so that rwfs's default state
# directory lands there, never in the repository.  Does not wait.
launch_fs() {
	local name=$1 out=$2
	shift 2
	mkdir -p "$tmp/$name" || return 1
	case " ${fs_names[*]} " in
	*" $name "*) ;;
	*) fs_names+=("$name") ;;
	esac
	(cd "$tmp/work" && exec "$@" "$tmp/$name") >"$out" 2>"$tmp/$name.err" &
	fs_pid[$name]=$!
}

# launch_fs, then waits for the mount.
start_fs() {
	launch_fs "$@" || return 1
	wait_mount "$tmp/$1" "${fs_pid[$1]}"
}

# The daemon's error output, for a message.
fs_err() {
	head -c 2000 "$tmp/$1.err" 2>/dev/null
}

# The filesystem a path is on: "ext4 (/dev/vda)".
fs_type() {
	local t
	t=$(findmnt -n -o FSTYPE,SOURCE -T "$1" 2>/dev/null | awk 'NR == 1 { printf "%s (%s)", $1, $2 }')
	[ -n "$t" ] || t=$(stat -f -c %T "$1")
	printf '%s\n' "$t"
}

mnt_min=$tmp/minfuse
start_fs minfuse "$tmp/minfuse.out" "$root/bench/minfuse" -f ||
	die "bench/minfuse did not mount: $(fs_err minfuse) $(head -c 2000 "$tmp/minfuse.out")"

# ---- measurement helpers -------------------------------------------------

# Runs bench/bench with the arguments; prints its result line.
run_bench() {
	local out
	out=$(bench/bench "$@") || die "bench/bench $* failed"
	printf '%s\n' "$out"
}

# "Q1-Q3%" of the arguments (percentages): the middle half of them.
# quartiles_x: the same for ratios, "Q1-Q3x".
quartiles() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { q1 = int(NR / 4) + 1; q3 = NR + 1 - q1; printf "%.0f-%.0f%%\n", v[q1], v[q3] }'
}
quartiles_x() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { q1 = int(NR / 4) + 1; q3 = NR + 1 - q1; printf "%.1f-%.1fx\n", v[q1], v[q3] }'
}

pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "nan" }'
}

us_per() {
	awk -v n="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.1f", n * 1e6 / r; else print "nan" }'
}

below() {
	awk -v a="$1" -v b="$2" 'BEGIN { r = "no"; if (a + 0 < b + 0) r = "yes"; print r }'
}
at_most() {
	awk -v a="$1" -v b="$2" 'BEGIN { r = "no"; if (a + 0 <= b + 0) r = "yes"; print r }'
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

# Series for the durability, queue and shop parts: each is a shell function
# that runs one short bench and prints its line.  alternate runs the named
# series $rounds times each, taking turns; round i starts with series i mod
# n, so none always runs first or after the same neighbour.  vals[S] gets
# S's ops_per_sec figures and lines[S] its whole lines, in round order;
# warm_line is the line of the discarded first run.
declare -A vals lines
warm_line=
alternate() {
	local names=("$@") n=$# i k s out
	for s in "${names[@]}"; do
		vals[$s]=
		lines[$s]=
	done
	# A short discarded run first: a FUSE run right after other work can
	# start in a slow scheduling mode (see the core part).
	warm_line=$("${names[0]}") || exit 1
	for ((i = 0; i < rounds; i++)); do
		for ((k = 0; k < n; k++)); do
			s=${names[(i + k) % n]}
			out=$("$s") || exit 1
			vals[$s]+="$(field ops_per_sec "$out") "
			lines[$s]+="$out"$'\n'
		done
	done
}

# The round-by-round ratios of series $1 to series $2, as percentages
# (round_pcts) or plain ratios (round_ratios), one per line.
round_pcts() {
	local -a a b
	local i
	read -r -a a <<<"${vals[$1]}"
	read -r -a b <<<"${vals[$2]}"
	for ((i = 0; i < ${#a[@]}; i++)); do
		pct "${a[i]}" "${b[i]}"
		echo
	done
}

# Target lines, printed together at the end.
targets=()
target() {
	targets+=("$(printf '  %-40s %-30s %s' "$1" "$2" "$3")")
}

# ---- header ----------------------------------------------------------------

busy=$(cpu_busy_pct)
echo "rwfs benchmark: $(nproc) CPUs, Linux $(uname -r), ${busy}% busy before the start"
if [ "$busy" -ge 20 ]; then
	echo "warning: other work is using the CPUs; expect noisy figures"
fi
echo "parts: $parts (BENCH_PARTS)"
echo "each ops/s figure: median of $rounds runs of $round_secs s, the things compared" \
	"taking turns (BENCH_SECONDS=$secs, BENCH_ROUNDS=$rounds);"
echo "run spread: the middle half of the ratios of back-to-back runs"
echo "scratch directory (every rwfs state directory): $(fs_type "$tmp")"

# The tmpfs reference at $ref, mounted once for the parts that use it;
# ref_desc says what it is.
ref_desc=
mount_ref() {
	[ -n "$ref_desc" ] && return 0
	if mount -t tmpfs -o size=64m,mode=0700 rwfs-bench "$ref" 2>/dev/null; then
		ref_mounted=1
		ref_desc="tmpfs mounted at a private directory"
	else
		ref=$(mktemp -d /dev/shm/rwfs-bench.XXXXXX) || die "no tmpfs available"
		ref_shm=1
		ref_desc="/dev/shm (could not mount a private tmpfs)"
	fi
}

# ---- core: registers and ctl against minfuse and tmpfs ---------------------

core_ctl100_1=    # rwfs batches of 100 instructions/s, 1 thread (queues part)
ctl100_pct_1=     # and its % of minfuse's writes, 1 thread

run_core() {
	local mnt_rwfs=$tmp/rwfs rwfs_note op t f_rwfs f_ref i out r m s p
	local min_pread_pct='' min_pwrite_pct='' rs ms ss ps
	local pread_ratios=() pwrite_ratios=() ctl100_ratios=() min_ctl100_pct=''
	local wl_rwfs wl_min fs line wait_max_us lk l rss_kib hwm_kib rwfs_pid

	if ! start_fs rwfs "$tmp/rwfs.out" "$root/rwfs" -f --quiet; then
		stop_fs rwfs
		# Not accepting --quiet yet: keep the event log off the
		# measurement's console instead.
		start_fs rwfs /dev/null "$root/rwfs" -f ||
			die "rwfs did not mount: $(fs_err rwfs)"
		rwfs_note="(rwfs started without --quiet; event log sent to /dev/null)"
	else
		rwfs_note=
	fi
	rwfs_pid=${fs_pid[rwfs]}

	mount_ref
	# The ctl reference must not be named ctl: bench then uses pwrite at 0.
	for f in A B R; do
		printf '0\n' >"$ref/$f" || die "cannot write $ref/$f"
	done
	for f in A B ctl; do
		[ -e "$mnt_rwfs/$f" ] || die "rwfs has no $f"
	done

	echo
	echo "== core: registers and ctl =="
	echo "references: bench/minfuse (same FUSE transport, no work) and $ref_desc"
	echo "rwfs: default options (--sync=everysec), state in the scratch directory"
	[ -n "$rwfs_note" ] && echo "$rwfs_note"
	echo

	printf '%-10s %7s %13s %13s %13s %12s %12s\n' operation threads "rwfs ops/s" \
		"minfuse ops/s" "tmpfs ops/s" "rwfs/minfuse" "run spread"

	for op in $ops; do
		case $op in
		ctl | ctl100) f_rwfs=$mnt_rwfs/ctl f_ref=$ref/R ;;
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
			ctl100)
				ctl100_ratios+=("${ps[@]}")
				[ -z "$min_ctl100_pct" ] || [ "$(at_least "$p" "$min_ctl100_pct")" = no ] &&
					min_ctl100_pct=$p
				[ "$t" = 1 ] && core_ctl100_1=$r ctl100_pct_1=$p
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
	stop_fs rwfs

	# A ratio target for one operation: judged on the median of the
	# ratios of all its back-to-back pairs of runs (every thread count),
	# which is steadier than any one row; the worst row is shown beside it.
	ratio_target() {
		local what=$1 goal=$2 worst=$3 all
		shift 3
		if [ $# -eq 0 ]; then
			target "$what" "-" "not run"
			return
		fi
		all=$(awk -v m="$(median "$@")" 'BEGIN { printf "%.1f", m }')
		target "$what" "${all}% (worst row ${worst}%)" \
			"$(verdict "$(at_least "$all" "$goal")")"
	}
	ratio_target "register pread >= ${target_pread_pct}% of minfuse" "$target_pread_pct" \
		"$min_pread_pct" "${pread_ratios[@]}"
	ratio_target "register pwrite >= ${target_pwrite_pct}% of minfuse" "$target_pwrite_pct" \
		"$min_pwrite_pct" "${pwrite_ratios[@]}"
	ratio_target "ctl batch of 100 >= ${target_ctl100_pct}% of minfuse's writes" \
		"$target_ctl100_pct" "$min_ctl100_pct" "${ctl100_ratios[@]}"
	# The goal as issue 12 states it: one client, 5 M instructions/s here.
	if [ -n "$ctl100_pct_1" ]; then
		target "ctl batch of 100, 1 client >= ${target_ctl100_pct}%" \
			"${ctl100_pct_1}% ($(awk -v r="$core_ctl100_1" 'BEGIN { printf "%.0f", r * 100 }') instructions/s)" \
			"$(verdict "$(at_least "$ctl100_pct_1" "$target_ctl100_pct")")"
	fi
	target "writer's longest write() < $((target_wait_us / 1000)) ms" \
		"${wait_max_us} us" "$(verdict "$(below "$wait_max_us" "$target_wait_us")")"
	target "rwfs VmRSS < $((target_rss_kib / 1024)) MiB" \
		"${rss_kib} KiB" "$(verdict "$(below "$rss_kib" "$target_rss_kib")")"
}

# ---- durability: sync modes, start-up, compaction ---------------------------

d_min1() { run_bench pwrite "$mnt_min/f" 1 "$round_secs"; }
d_min4() { run_bench pwrite "$mnt_min/f" 4 "$round_secs"; }
d_always1() { run_bench pwrite "$tmp/sync-always/B" 1 "$round_secs"; }
d_always4() { run_bench pwrite "$tmp/sync-always/B" 4 "$round_secs"; }
d_always4x() {
	run_bench pwrite-each "$round_secs" "$tmp/sync-always/"{A,B,C,D}
}
d_everysec1() { run_bench pwrite "$tmp/sync-everysec/B" 1 "$round_secs"; }
d_no1() { run_bench pwrite "$tmp/sync-no/B" 1 "$round_secs"; }
d_logged1() { run_bench pwrite "$tmp/logged/B" 1 "$round_secs"; }
d_fsync() { run_bench fsync "$tmp" "$round_secs"; }

# Starts rwfs as daemon NAME on state directory $2 (more options follow),
# timed from the fork of the daemon until NAME/A exists: the seconds go to
# start_secs.  (Not in a $(...): the daemon must be known to cleanup.)
start_secs=
timed_start() {
	local name=$1 state=$2 t0 out t1
	shift 2
	t0=${EPOCHREALTIME/,/.}
	launch_fs "$name" /dev/null "$root/rwfs" -f --quiet --state="$state" "$@" || return 1
	out=$(bench/bench wait-path "$tmp/$name/A" 300 "${fs_pid[$name]}") || return 1
	t1=$(field realtime "$out")
	wait_mount "$tmp/$name" "${fs_pid[$name]}" || return 1
	start_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }')
}

# Records per second: $1 records in $2 seconds.
per_sec() {
	awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f\n", n / s; else print "nan" }'
}

# The size of file $1 in bytes, or "none".
size_of() {
	if [ -e "$1" ]; then stat -c %s "$1"; else echo none; fi
}

run_durability() {
	local mode row what w ser base r m all group gx state gen t0 t1 gen_secs
	local a cell starts=() s j_before s_before j_after s_after write_us snap_secs

	for mode in always everysec no; do
		mkdir "$tmp/state-$mode" || die "cannot make $tmp/state-$mode"
		start_fs "sync-$mode" /dev/null "$root/rwfs" -f --quiet \
			--state="$tmp/state-$mode" --sync="$mode" ||
			die "rwfs --sync=$mode did not mount: $(fs_err "sync-$mode")"
	done
	# As --sync=no, with the event log on: a line a write, to a file.
	mkdir "$tmp/state-logged" || die "cannot make $tmp/state-logged"
	start_fs logged /dev/null "$root/rwfs" -f --state="$tmp/state-logged" --sync=no \
		--log="$tmp/events.log" || die "rwfs --log did not mount: $(fs_err logged)"

	echo
	echo "== durability: register writes by --sync mode =="
	printf '%s\n' 'pwrite("1\n", offset 0) on B; one rwfs daemon with its own state directory per mode,'
	echo "on $(fs_type "$tmp"); reference: bench/minfuse pwrite, in the same turns"
	echo
	alternate d_min1 d_min4 d_always1 d_always4 d_always4x d_everysec1 d_no1 d_logged1 d_fsync
	printf '%-10s %-14s %13s %13s %12s %12s\n' sync writers "rwfs ops/s" \
		"minfuse ops/s" "rwfs/minfuse" "run spread"
	for row in "always 1_on_B d_always1 d_min1" "always 4_on_B d_always4 d_min4" \
		"always 4_on_A,B,C,D d_always4x d_min4" "everysec 1_on_B d_everysec1 d_min1" \
		"no 1_on_B d_no1 d_min1"; do
		read -r what w ser base <<<"$row"
		r=$(med "$ser") m=$(med "$base")
		# shellcheck disable=SC2046 # one ratio a word
		printf '%-10s %-14s %13.0f %13.0f %11s%% %12s\n' "$what" "${w//_/ }" "$r" "$m" \
			"$(pct "$r" "$m")" "$(quartiles $(round_pcts "$ser" "$base"))"
	done
	echo "(minfuse has one file: its 4 writers all write f)"
	# shellcheck disable=SC2046
	all=$(median $(round_pcts d_logged1 d_no1))
	r=$(med d_logged1)
	# shellcheck disable=SC2046
	echo "event log on (--log=FILE, a line a write) against --quiet, both --sync=no:" \
		"$(printf '%.0f' "$r") ops/s, ${all}% (run spread $(quartiles $(round_pcts d_logged1 d_no1)));" \
		"$(wc -l <"$tmp/events.log") lines logged"
	target "event log on >= ${target_evlog_pct}% of --quiet" \
		"$(awk -v m="$all" 'BEGIN { printf "%.1f%%", m }')" \
		"$(verdict "$(at_least "$all" "$target_evlog_pct")")"
	# shellcheck disable=SC2046
	all=$(median $(round_pcts d_everysec1 d_min1))
	target "everysec pwrite >= ${target_everysec_pct}% of minfuse" \
		"$(awk -v m="$all" 'BEGIN { printf "%.1f%%", m }')" \
		"$(verdict "$(at_least "$all" "$target_everysec_pct")")"
	echo
	echo "the disk: append 14 bytes + fdatasync, 1 thread, in the scratch directory:" \
		"$(printf '%.0f' "$(med d_fsync)")/s ($(us_per 1 "$(med d_fsync)") us each)"
	# shellcheck disable=SC2046
	group=$(median_f $(round_ratios d_always4 d_always1))
	gx=$(awk -v g="$group" 'BEGIN { printf "%.1f", g }')
	# shellcheck disable=SC2046
	echo "group commit, --sync=always: 4 writers on B / 1 writer = ${gx}x" \
		"(run spread $(quartiles_x $(round_ratios d_always4 d_always1)))"
	target "always: 4 writers on B >= ${target_group_x}x 1" "${gx}x" \
		"$(verdict "$(at_least "$group" "$target_group_x")")"
	# shellcheck disable=SC2046
	group=$(median_f $(round_ratios d_always4x d_always1))
	gx=$(awk -v g="$group" 'BEGIN { printf "%.1f", g }')
	# shellcheck disable=SC2046
	echo "                              4 writers on A,B,C,D / 1 writer = ${gx}x" \
		"(run spread $(quartiles_x $(round_ratios d_always4x d_always1)))"
	echo "  registers open with FOPEN_PARALLEL_DIRECT_WRITES, so writers of one register" \
		"reach the daemon together"
	echo "  (the kernel shares the inode lock while a write ends within the size it has" \
		"cached)"
	target "always: 4 writers on A-D >= ${target_group_x}x 1" "${gx}x" \
		"$(verdict "$(at_least "$group" "$target_group_x")")"
	for mode in always everysec no; do
		stop_fs "sync-$mode"
	done
	stop_fs logged

	# Start-up on a long journal, made without FUSE by the engine and its file log.
	state=$tmp/state-replay
	mkdir "$state" || die "cannot make $state"
	t0=${EPOCHREALTIME/,/.}
	gen=$(bench/journal_gen "$state" "$journal_records") || die "bench/journal_gen failed"
	t1=${EPOCHREALTIME/,/.}
	gen_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

	echo
	echo "== durability: start-up and compaction =="
	echo "journal: $(field records "$gen") records, $(field journal_bytes "$gen") bytes," \
		"written in $gen_secs s by bench/journal_gen (the engine and its file log, no FUSE);"
	echo "3 in 4 records \"ADD A 1\", 1 in 4 \"ADD A 1\" + \"WRITE A 7\"; the file is in the" \
		"page cache (a warm start)"
	echo "start-up: from the fork of ./rwfs -f until mnt/A exists (the replay runs before the mount)"
	echo
	printf '%-34s %9s %13s %s\n' start seconds records/s check
	for s in 1 2 3; do
		timed_start replay "$state" ||
			die "rwfs did not start on the long journal: $(fs_err replay)"
		read -r a <"$tmp/replay/A" || die "cannot read A"
		[ "$a" = "$journal_records" ] || die "after the replay A is '$a', not $journal_records"
		starts+=("$start_secs")
		stop_fs replay
	done
	s=$(median_f "${starts[@]}")
	printf '%-34s %9.3f %13s %s\n' "journal of $journal_records records" "$s" \
		"$(per_sec "$journal_records" "$s")" "A = $a (median of 3 starts: ${starts[*]} s)"

	# Compaction: a bound below the journal's size, then one change.
	j_before=$(size_of "$state/journal") s_before=$(size_of "$state/snapshot")
	timed_start replay "$state" --compact-size="$compact_bytes" ||
		die "rwfs did not start with --compact-size: $(fs_err replay)"
	printf '%-34s %9.3f %13s %s\n' "same, --compact-size=$compact_bytes" "$start_secs" \
		"$(per_sec "$journal_records" "$start_secs")" "(compaction waits for a change)"
	write_us=$(field us "$(run_bench write-once "$tmp/replay/B" 1)")
	j_after=$(size_of "$state/journal") s_after=$(size_of "$state/snapshot")
	stop_fs replay
	timed_start replay "$state" || die "rwfs did not start after compaction: $(fs_err replay)"
	snap_secs=$start_secs
	read -r a <"$tmp/replay/A" || die "cannot read A"
	read -r cell <"$tmp/replay/mem/7" || die "cannot read mem/7"
	[ "$a" = "$journal_records" ] || die "after compaction A is '$a', not $journal_records"
	stop_fs replay
	printf '%-34s %9.3f %13s %s\n' "after compaction (snapshot)" "$snap_secs" - \
		"A = $a, mem/7 = $cell"
	echo
	echo "compaction: the first write past --compact-size=$compact_bytes (\"1\" to B) took" \
		"$(awk -v u="$write_us" 'BEGIN { printf "%.1f", u / 1000 }') ms, compaction included"
	printf '%-10s %15s %15s\n' file "bytes before" "bytes after"
	printf '%-10s %15s %15s\n' journal "$j_before" "$j_after"
	printf '%-10s %15s %15s\n' snapshot "$s_before" "$s_after"
}

# ---- queues: rwfs, a named pipe, Redis ---------------------------------------

q_11() { run_bench queue "$tmp/queues/queues/bench" 1 1 "$round_secs"; }
q_44() { run_bench queue "$tmp/queues/queues/bench" 4 4 "$round_secs"; }
q_pipe() { run_bench pipe "$tmp/fifo" 1 "$round_secs"; }
q_redis() { run_bench redis "$redis_port" "$round_secs"; }
q_rt() { run_bench queue-rt "$tmp/queues/queues/bench-rt" "$round_secs"; }
q_11_cpu0() { taskset -c 0 bench/bench queue "$tmp/queues/queues/bench" 1 1 "$round_secs"; }
q_redis_cpu0() { taskset -c 0 bench/bench redis "$redis_port" "$round_secs"; }

# Every thread of process $1 on the CPUs of mask $2 (hex, as taskset -p prints).
pin() {
	taskset -a -p "$2" "$1" >/dev/null
}

# rwfs's batches of 100 instructions (1 thread, the core part) against
# Redis answering 100 pipelined INCRs a round trip (redis-benchmark -P 100,
# one client), in operations per second.
ctl_against_redis_pipeline() {
	local rps ips
	if ! command -v redis-benchmark >/dev/null; then
		echo "redis-benchmark not installed: no pipeline comparison"
		return 0
	fi
	rps=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 1 -P 100 -t incr -n 2000000 -q \
		2>/dev/null | tr '\r' '\n' | awk '/requests per second/ { v = $2 } END { print v }')
	[ -n "$rps" ] || die "redis-benchmark printed no rate"
	if [ -z "$core_ctl100_1" ]; then
		echo "redis-benchmark INCR -P 100, 1 client: $rps ops/s (no ctl100 figure: core part not run)"
		return 0
	fi
	ips=$(awk -v r="$core_ctl100_1" 'BEGIN { printf "%.0f", r * 100 }')
	echo "instructions/s: rwfs ctl batches of 100, 1 thread $ips (core part);" \
		"redis-benchmark INCR -P 100, 1 client, $rps: rwfs / redis $(ratio "$ips" "$rps")x"
}

# The queue against Redis with every process on CPU 0: the daemon, Redis
# and the clients share one CPU, so a request costs its whole path.
queue_on_one_cpu() {
	local all redis_x
	all=$(taskset -p $$ | awk '{ print $NF }')
	pin "${fs_pid[queues]}" 1 && pin "$redis_pid" 1 || die "taskset failed"
	alternate q_11_cpu0 q_redis_cpu0
	pin "${fs_pid[queues]}" "$all"
	pin "$redis_pid" "$all"
	# shellcheck disable=SC2046
	redis_x=$(awk -v m="$(median_f $(round_ratios q_11_cpu0 q_redis_cpu0))" 'BEGIN { printf "%.2f", m }')
	echo "all on CPU 0: rwfs queue 1+1 $(med q_11_cpu0) items/s, redis $(med q_redis_cpu0)" \
		"items/s: ${redis_x}x"
	target "queue 1+1 >= ${target_redis_x}x redis, all on one CPU" "${redis_x}x" \
		"$(verdict "$(at_least "$redis_x" "$target_redis_x")")"
}
q_read() { run_bench pread "$mnt_min/f" 1 "$round_secs"; }

# Starts redis-server on a free port of 127.0.0.1, without persistence;
# prints why not and returns 1 when it cannot.
start_redis() {
	local out
	if ! command -v redis-server >/dev/null 2>&1; then
		echo "redis: skipped, redis-server is not installed"
		return 1
	fi
	out=$(bench/bench free-port) || return 1
	redis_port=$(field port "$out")
	mkdir "$tmp/redis" || return 1
	redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
		--dir "$tmp/redis" --daemonize no >"$tmp/redis/log" 2>&1 &
	redis_pid=$!
	# bench redis retries its connection while the server starts.
	if ! bench/bench redis "$redis_port" 0.05 >/dev/null 2>"$tmp/redis/bench.err"; then
		echo "redis: skipped, the server did not answer:" \
			"$(head -c 300 "$tmp/redis/bench.err") $(tail -n 3 "$tmp/redis/log")"
		stop_redis
		return 1
	fi
	return 0
}

run_queues() {
	local series=(q_11 q_44 q_pipe q_rt q_read) have_redis=0 rt rt_us read_us
	local redis_ver redis_x rt2 rt1

	mkdir "$tmp/state-queues" || die "cannot make $tmp/state-queues"
	start_fs queues /dev/null "$root/rwfs" -f --quiet --state="$tmp/state-queues" ||
		die "rwfs did not mount for the queues: $(fs_err queues)"
	mkfifo "$tmp/fifo" || die "mkfifo failed"

	echo
	echo "== queues =="
	printf '%s\n' '"item-NNNN\n": one item per write(), one per read() (a pipe is read in lines);'
	echo "rwfs with default options (--sync=everysec), its own state directory;" \
		"every item pushed is checked to be taken once"
	if start_redis; then
		have_redis=1
		series+=(q_redis)
		redis_ver=$(redis-server --version | awk '{ for (i = 1; i <= NF; i++)
			if ($i ~ /^v=/) { print substr($i, 3); exit } }')
		echo "redis: redis-server $redis_ver on 127.0.0.1, --save '' --appendonly no;" \
			"bench/bench speaks RESP over one TCP connection"
	fi
	echo
	alternate "${series[@]}"
	printf '%-48s %13s %12s\n' what items/s "us per item"
	printf '%-48s %13.0f %12s\n' "rwfs queue, 1 producer + 1 consumer" "$(med q_11)" -
	printf '%-48s %13.0f %12s\n' "rwfs queue, 4 producers + 4 consumers" "$(med q_44)" -
	printf '%-48s %13.0f %12s\n' "named pipe, 1 producer + 1 consumer" "$(med q_pipe)" -
	if [ "$have_redis" = 1 ]; then
		printf '%-48s %13.0f %12s\n' "redis LPUSH then BRPOP, 1 client, sequential" \
			"$(med q_redis)" "$(us_per 1 "$(med q_redis)")"
	fi
	rt=$(med q_rt)
	rt_us=$(us_per 1 "$rt")
	printf '%-48s %13.0f %12s\n' "rwfs push then pop, 1 thread, sequential" "$rt" "$rt_us"
	# The bare read takes its turns with the queue: a figure from another
	# part would carry that moment's load.
	read_us=$(us_per 1 "$(med q_read)")
	echo
	# A push and a pop are two FUSE requests (a write and a read).
	rt2=$(ratio "$rt_us" "$(awk -v u="$read_us" 'BEGIN { print 2 * u }')")
	rt1=$(ratio "$rt_us" "$read_us")
	echo "round trip: rwfs push+pop ${rt_us} us per item; a bare FUSE read (minfuse pread, 1" \
		"thread, in the same turns) ${read_us} us."
	echo "  A push+pop is two FUSE requests (write + read): ${rt2}x two bare reads;" \
		"plain ratio to one bare read ${rt1}x"
	target "queue push+pop <= ${target_rt_x}x 2 FUSE reads" "${rt2}x (plain ${rt1}x)" \
		"$(verdict "$(at_most "$rt2" "$target_rt_x")")"
	if [ "$have_redis" = 1 ]; then
		# shellcheck disable=SC2046
		redis_x=$(awk -v m="$(median_f $(round_ratios q_11 q_redis))" 'BEGIN { printf "%.2f", m }')
		# shellcheck disable=SC2046
		echo "rwfs 1+1 / redis 1 client: ${redis_x}x (run spread" \
			"$(quartiles_x $(round_ratios q_11 q_redis))); same shape (1 client," \
			"sequential push+pop): rwfs / redis $(ratio "$rt" "$(med q_redis)")x"
		target "queue 1+1 >= ${target_redis_x}x redis push+pop" "${redis_x}x" \
			"$(verdict "$(at_least "$redis_x" "$target_redis_x")")"
		queue_on_one_cpu
		ctl_against_redis_pipeline
		stop_redis
	else
		target "queue 1+1 >= ${target_redis_x}x redis push+pop" "-" "not run (no redis-server)"
	fi
	stop_fs queues
}

# ---- shop: purchases and the inventory -----------------------------------------

s_buy1() { run_bench shop "$tmp/shop/shop" 1 "$round_secs" 1001; }
s_buy4() { run_bench shop "$tmp/shop/shop" 4 "$round_secs" 1001; }
s_cat() { run_bench cat "$tmp/shop/inventory" 1 "$round_secs"; }
s_mincat() { run_bench cat "$mnt_min/f" 1 "$round_secs"; }

run_shop() {
	local stock=1000000000 b r refused before after sold bought

	mkdir "$tmp/state-shop" || die "cannot make $tmp/state-shop"
	printf 'upc,name,count\n1001,apple,%s\n1002,banana,%s\n' "$stock" "$stock" \
		>"$tmp/inventory.csv" || die "cannot write $tmp/inventory.csv"
	start_fs shop /dev/null "$root/rwfs" -f --quiet --state="$tmp/state-shop" \
		--inventory="$tmp/inventory.csv" ||
		die "rwfs did not mount for the shop: $(fs_err shop)"
	before=$(awk '$1 == 1001 { print $NF }' "$tmp/shop/inventory")

	echo
	echo "== shop =="
	echo "rwfs --inventory (1001 apple $stock), default options; each buyer its own open" \
		"mnt/shop and login (alice),"
	printf '%s\n' 'then write("buy TOKEN 1001 1\n") and read the reply, over and over; "ok" replies counted'
	echo
	alternate s_buy1 s_buy4 s_cat s_mincat
	echo "us per op: the time one client waits for one operation"
	printf '%-48s %13s %12s %8s\n' what ops/s "us per op" refused
	for b in 1 4; do
		r=$(med "s_buy$b")
		refused=$(sum_field refused "s_buy$b")
		printf '%-48s %13.0f %12s %8s\n' "purchases, $b buyer$([ "$b" = 1 ] || echo s)" "$r" \
			"$(us_per "$b" "$r")" "$refused"
	done
	r=$(med s_cat)
	printf '%-48s %13.0f %12s %8s\n' "cat mnt/inventory (open, read, close), 1 thread" "$r" \
		"$(us_per 1 "$r")" -
	printf '%-48s %13.0f %12s %8s\n' "cat minfuse f, same turns (the FUSE transport)" \
		"$(med s_mincat)" "$(us_per 1 "$(med s_mincat)")" -
	after=$(awk '$1 == 1001 { print $NF }' "$tmp/shop/inventory")
	sold=$((before - after))
	bought=$(($(sum_field bought s_buy1) + $(sum_field bought s_buy4) +
		$(field bought "$warm_line")))
	if [ "$sold" = "$bought" ]; then
		echo "stock check: 1001 went down by $sold, the number of \"ok\" replies in all runs"
	else
		echo "stock check: MISMATCH: 1001 went down by $sold but $bought purchases were" \
			"answered ok"
	fi
	stop_fs shop
}

# ---- files: shared files, appends and flock -----------------------------------

f_r4() { run_bench file-read "$tmp/shared/files/f" 4096 "$round_secs"; }
f_r4_tmp() { run_bench file-read "$ref/f" 4096 "$round_secs"; }
f_w4() { run_bench file-write "$tmp/shared/files/f" 4096 "$round_secs"; }
f_w4_min() { run_bench file-write "$mnt_min/f" 4096 "$round_secs"; }
f_w4_tmp() { run_bench file-write "$ref/f" 4096 "$round_secs"; }
f_r1m() { run_bench file-read "$tmp/shared/files/f" 1048576 "$round_secs"; }
f_r1m_tmp() { run_bench file-read "$ref/f" 1048576 "$round_secs"; }
f_w1m() { run_bench file-write "$tmp/shared/files/f" 1048576 "$round_secs"; }
f_w1m_min() { run_bench file-write "$mnt_min/f" 1048576 "$round_secs"; }
f_w1m_tmp() { run_bench file-write "$ref/f" 1048576 "$round_secs"; }
f_app1() { append_run "$tmp/shared/files/log" 1; }
f_app4() { append_run "$tmp/shared/files/log" 4; }
f_app1_tmp() { append_run "$ref/log" 1; }
f_app4_tmp() { append_run "$ref/log" 4; }
f_lock1() { run_bench flock "$tmp/shared/files/lockf" 1 "$round_secs"; }
f_lock4() { run_bench flock "$tmp/shared/files/lockf" 4 "$round_secs"; }
f_lock1_tmp() { run_bench flock "$ref/lockf" 1 "$round_secs"; }
f_lock4_tmp() { run_bench flock "$ref/lockf" 4 "$round_secs"; }

# Appends from $2 processes to a fresh file $1 for one run, then counts
# the file's lines, well-formed ("P SEQ") and not, and removes it: so no
# run's file comes near rwfs's bound of 16 MiB a file.
append_run() {
	local file=$1 procs=$2 out counted
	out=$(run_bench append "$file" "$procs" "$round_secs") || exit 1
	counted=$(awk '/^[0-9]+ [0-9]+$/ { good++ }
		END { printf "file_lines %d bad_lines %d", good, NR - good }' "$file") ||
		die "cannot read $file"
	rm -f "$file" || die "cannot remove $file"
	printf '%s %s\n' "$out" "$counted"
}

# A row of the read and write table: operation, file system, series,
# bytes per operation; a reference row names rwfs's series last.
files_row() {
	local op=$1 fs=$2 ser=$3 bytes=$4 base=${5:-} r mb ratio_col=- spread=-
	r=$(med "$ser")
	mb=$(awk -v r="$r" -v b="$bytes" 'BEGIN { printf "%.1f", r * b / 1e6 }')
	if [ -n "$base" ]; then
		ratio_col="$(pct "$(med "$base")" "$r")%"
		# shellcheck disable=SC2046 # one ratio a word
		spread=$(quartiles $(round_pcts "$base" "$ser"))
	fi
	printf '%-12s %-8s %10.0f %10s %10s %11s\n' "$op" "$fs" "$r" "$mb" "$ratio_col" "$spread"
}

# A row of the append and flock tables: processes, rwfs's and tmpfs's series.
procs_row() {
	local procs=$1 ser=$2 base=$3 r t
	r=$(med "$ser") t=$(med "$base")
	# shellcheck disable=SC2046
	printf '%-10s %12.0f %12s %12.0f %12s %10s%% %11s\n' "$procs" "$r" "$(us_per "$procs" "$r")" \
		"$t" "$(us_per "$procs" "$t")" "$(pct "$r" "$t")" "$(quartiles $(round_pcts "$ser" "$base"))"
}

run_files() {
	local mnt=$tmp/shared/files file row what s bytes written found bad runs

	mount_ref
	mkdir "$tmp/state-files" || die "cannot make $tmp/state-files"
	start_fs shared /dev/null "$root/rwfs" -f --quiet --state="$tmp/state-files" ||
		die "rwfs did not mount for the files: $(fs_err shared)"
	[ -d "$mnt" ] || die "rwfs has no files/ directory"
	# The reads need a file of 1 MiB; the 4 KiB writes leave it that long.
	for file in "$mnt/f" "$ref/f"; do
		run_bench file-write "$file" 1048576 0.01 >/dev/null
	done

	echo
	echo "== files: shared files, appends and flock =="
	echo "pread/pwrite of one page-aligned buffer, whole, at offset 0, 1 thread, on rwfs" \
		"mnt/files/f (default options,"
	echo "its own state directory; each write is one journal record), bench/minfuse f and" \
		"$ref_desc;"
	echo "rwfs/this: rwfs's ops/s over this row's; MB = 10^6 bytes"
	echo
	alternate f_r4 f_r4_tmp f_w4 f_w4_min f_w4_tmp f_r1m f_r1m_tmp f_w1m f_w1m_min f_w1m_tmp
	printf '%-12s %-8s %10s %10s %10s %11s\n' operation fs ops/s MB/s "rwfs/this" "run spread"
	for row in "4_KiB 4 4096" "1_MiB 1m 1048576"; do
		read -r what s bytes <<<"$row"
		files_row "read ${what/_/ }" rwfs "f_r$s" "$bytes"
		printf '%-12s %-8s %s\n' "" minfuse "no figure: its f reads \"0\\n\" (2 bytes) whatever is asked"
		files_row "" tmpfs "f_r${s}_tmp" "$bytes" "f_r$s"
		files_row "write ${what/_/ }" rwfs "f_w$s" "$bytes"
		files_row "" minfuse "f_w${s}_min" "$bytes" "f_w$s"
		files_row "" tmpfs "f_w${s}_tmp" "$bytes" "f_w$s"
	done
	echo "(minfuse takes a write of 1 MiB in one request, as rwfs does: both have max_write 1 MiB)"

	echo
	printf '%s\n' 'O_APPEND write() of one line "P SEQ\n" a call, each process its own open file,' \
		'a fresh file each run: rwfs mnt/files/log against tmpfs; us: one process'"'"'s wait'
	echo
	alternate f_app1 f_app4 f_app1_tmp f_app4_tmp
	printf '%-10s %12s %12s %12s %12s %11s %11s\n' processes "rwfs lines/s" "rwfs us" \
		"tmpfs lines/s" "tmpfs us" rwfs/tmpfs "run spread"
	procs_row 1 f_app1 f_app1_tmp
	procs_row 4 f_app4 f_app4_tmp
	written=$(($(sum_field lines f_app1) + $(sum_field lines f_app4) + $(field lines "$warm_line")))
	found=$(($(sum_field file_lines f_app1) + $(sum_field file_lines f_app4) +
		$(field file_lines "$warm_line")))
	bad=$(($(sum_field bad_lines f_app1) + $(sum_field bad_lines f_app4) +
		$(field bad_lines "$warm_line")))
	runs=$((2 * rounds + 1))
	if [ "$found" = "$written" ] && [ "$bad" = 0 ]; then
		echo "append check: the rwfs files held $found well-formed lines over $runs runs," \
			"the number written"
	else
		echo "append check: MISMATCH: $written lines written in $runs runs, the rwfs files" \
			"held $found well-formed lines and $bad others"
	fi

	echo
	echo "flock(LOCK_EX) then flock(LOCK_UN), each process its own open file: rwfs" \
		"mnt/files/lockf (the daemon grants"
	echo "each request and unlock, one record each) against the kernel's flock on a tmpfs file"
	echo
	alternate f_lock1 f_lock4 f_lock1_tmp f_lock4_tmp
	printf '%-10s %12s %12s %12s %12s %11s %11s\n' contenders "rwfs pairs/s" "rwfs us" \
		"tmpfs pairs/s" "tmpfs us" rwfs/tmpfs "run spread"
	procs_row 1 f_lock1 f_lock1_tmp
	procs_row 4 f_lock4 f_lock4_tmp
	stop_fs shared
}

# ---- profile: daemon instructions per request --------------------------------

# The instructions (Ir) daemon NAME ran, under callgrind, while a client
# opened FILE in it, made COUNT preads or pwrites (OP) and closed it: the
# daemon's start and stop are in every figure and cancel in differences.
cg_run() {
	local name=$1 op=$2 count=$3 file=$4 out
	shift 4
	out=$tmp/callgrind.$name.$op.$count
	rm -rf "$tmp/cgstate" && mkdir "$tmp/cgstate" || return 1
	start_fs "$name" /dev/null valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$@" || return 1
	python3 - "$tmp/$name/$file" "$op" "$count" <<'PY' || return 1
import os, sys
path, op, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_RDWR)
for _ in range(count):
    if op == "read":
        os.pread(fd, 64, 0)
    else:
        os.pwrite(fd, b"1\n", 0)
os.close(fd)
PY
	stop_fs "$name"
	awk '$1 == "summary:" || $1 == "totals:" { print $2; exit }' "$out"
}

# Instructions per operation OP of daemon NAME: two runs that differ in
# their number of operations only.
cg_per_op() {
	local name=$1 op=$2 file=$3 base full
	shift 3
	base=$(cg_run "$name" "$op" 0 "$file" "$@") || return 1
	full=$(cg_run "$name" "$op" "$profile_ops" "$file" "$@") || return 1
	awk -v b="$base" -v f="$full" -v n="$profile_ops" 'BEGIN { printf "%.0f", (f - b) / n }'
}

run_profile() {
	local op r m x goal quiet_write logged
	echo
	echo "== profile: daemon instructions per request (callgrind, $profile_ops requests each)"
	if ! command -v valgrind >/dev/null; then
		echo "valgrind not installed: skipped"
		return 0
	fi
	stop_fs minfuse
	printf '%-36s %12s %12s %8s
' what rwfs minfuse ratio
	for op in read write; do
		r=$(cg_per_op cgrwfs "$op" A "$root/rwfs" -f --quiet --state="$tmp/cgstate") ||
			die "rwfs under callgrind failed: $(fs_err cgrwfs)"
		[ "$op" = write ] && quiet_write=$r
		m=$(cg_per_op cgmin "$op" f "$root/bench/minfuse" -f) ||
			die "minfuse under callgrind failed: $(fs_err cgmin)"
		x=$(ratio "$r" "$m")
		printf '%-36s %12s %12s %7.2fx\n' "register $op (p${op}, offset 0)" "$r" "$m" "$x"
		if [ "$op" = read ]; then goal=$target_read_insn_x; else goal=$target_write_insn_x; fi
		target "instructions per register $op <= ${goal}x minfuse's" "${x}x" \
			"$(verdict "$(at_most "$x" "$goal")")"
	done
	# Every thread counts: the log's writer formats the lines.
	logged=$(cg_per_op cglog write A "$root/rwfs" -f --log="$tmp/cg-events.log" \
		--state="$tmp/cgstate") || die "rwfs --log under callgrind failed: $(fs_err cglog)"
	printf '%-36s %12s %12s %7.2fx\n' "register write, event log on" "$logged" \
		"(--quiet)" "$(ratio "$logged" "$quiet_write")"
	start_fs minfuse "$tmp/minfuse.out" "$root/bench/minfuse" -f ||
		die "bench/minfuse did not mount again: $(fs_err minfuse)"
}

# ---- loop: libfuse's loop options ----------------------------------------------

# The multi-threaded loop's options: rwfs's default (one thread per CPU,
# at least 2), libfuse's (10 threads, one /dev/fuse descriptor), -o
# clone_fd (a descriptor per thread), 4 threads (the default before), -s
# (one thread).  Each configuration is its own rwfs --quiet; they take
# turns in every round.
loop_names=(rwfs-default max_threads=10 clone_fd max_threads=4 single-threaded)
loop_opts=("" "-o max_threads=10" "-o clone_fd,max_threads=10" "-o max_threads=4" "-s")

run_loop() {
	local k op t i out row
	local -a vals
	echo
	echo "== loop: libfuse's session loop options (rwfs --quiet, register A, ops/s," \
		"medians of $rounds turns) =="
	for k in "${!loop_names[@]}"; do
		mkdir -p "$tmp/loopstate$k" || die "cannot make a state directory"
		# shellcheck disable=SC2086 # the options are words
		start_fs "loop$k" /dev/null "$root/rwfs" -f --quiet --state="$tmp/loopstate$k" \
			${loop_opts[k]} || die "rwfs ${loop_opts[k]} did not mount: $(fs_err "loop$k")"
	done
	row=$(printf '%-8s %7s' operation threads)
	for k in "${!loop_names[@]}"; do
		row+=$(printf ' %15s' "${loop_names[k]}")
	done
	echo "$row"
	for op in pwrite pread; do
		for t in 1 4; do
			vals=()
			for ((i = 0; i < rounds; i++)); do
				for k in "${!loop_names[@]}"; do
					out=$(run_bench "$op" "$tmp/loop$k/A" "$t" "$round_secs") || exit 1
					vals[k]+=" $(field ops_per_sec "$out")"
				done
			done
			row=$(printf '%-8s %7s' "$op" "$t")
			for k in "${!loop_names[@]}"; do
				# shellcheck disable=SC2086 # the figures are words
				row+=$(printf ' %15s' "$(median ${vals[k]})")
			done
			echo "$row"
		done
	done
	for k in "${!loop_names[@]}"; do
		stop_fs "loop$k"
	done
}

# ---- plots: throughput against threads, a writer's lock waits ------------------

# The medians of $rounds runs of bench OP ($1) with THREADS ($2) on rwfs's
# register ($3), minfuse and tmpfs, in point_rwfs, point_min and point_tmpfs.
# Taken as in the core part: rwfs and minfuse in turns, tmpfs after them.
point_rwfs='' point_min='' point_tmpfs=''
plot_point() {
	local op=$1 t=$2 reg=$3 i out rs=() ms=() ss=()
	run_bench "$op" "$mnt_min/f" "$t" 0.1 >/dev/null || exit 1
	for ((i = 0; i < rounds; i++)); do
		if ((i % 2 == 0)); then
			out=$(run_bench "$op" "$reg" "$t" "$round_secs") || exit 1
			rs+=("$(field ops_per_sec "$out")")
		fi
		out=$(run_bench "$op" "$mnt_min/f" "$t" "$round_secs") || exit 1
		ms+=("$(field ops_per_sec "$out")")
		if ((i % 2 == 1)); then
			out=$(run_bench "$op" "$reg" "$t" "$round_secs") || exit 1
			rs+=("$(field ops_per_sec "$out")")
		fi
	done
	for ((i = 0; i < rounds; i++)); do
		out=$(run_bench "$op" "$ref/A" "$t" "$round_secs") || exit 1
		ss+=("$(field ops_per_sec "$out")")
	done
	point_rwfs=$(median "${rs[@]}") point_min=$(median "${ms[@]}") point_tmpfs=$(median "${ss[@]}")
}

# Renders bench/NAME.gp with DATA, PNG and the script's other arguments.
gnuplot_png() {
	local name=$1 data=$2 png=$3
	shift 3
	rm -f "$png"
	if ! gnuplot -c "bench/$name.gp" "$data" "$png" "$@" 2>"$tmp/gnuplot.err" ||
		[ ! -s "$png" ]; then
		die "gnuplot could not draw $png: $(head -c 2000 "$tmp/gnuplot.err")"
	fi
}

run_plots() {
	local dat=$plot_dir/throughput.dat lw=$plot_dir/lockwait.dat t op row l line ms
	local -a titles=()
	local -A desc=([rwfs]="rwfs struct rwlock (FIFO)"
		[glibc-writer]="glibc pthread_rwlock, PREFER_WRITER_NONRECURSIVE_NP"
		[glibc-default]="glibc pthread_rwlock, default (prefers readers)")

	mkdir "$tmp/state-plots" || die "cannot make $tmp/state-plots"
	start_fs plotrwfs /dev/null "$root/rwfs" -f --quiet --state="$tmp/state-plots" ||
		die "rwfs did not mount for the plots: $(fs_err plotrwfs)"
	mount_ref
	printf '0\n' >"$ref/A" || die "cannot write $ref/A"

	echo
	echo "== plots: register throughput against client threads; a writer's lock waits =="
	echo "rwfs with default options, its own state directory; each figure as in the core part"
	echo
	printf '%-10s %7s %13s %13s %13s\n' operation threads "rwfs ops/s" "minfuse ops/s" \
		"tmpfs ops/s"
	echo "# threads rwfs_pread minfuse_pread tmpfs_pread rwfs_pwrite minfuse_pwrite tmpfs_pwrite" \
		>"$dat" || die "cannot write $dat"
	for t in 1 2 4 8; do
		row=$t
		for op in pread pwrite; do
			plot_point "$op" "$t" "$tmp/plotrwfs/A"
			printf '%-10s %7s %13.0f %13.0f %13.0f\n' "$op" "$t" "$point_rwfs" \
				"$point_min" "$point_tmpfs"
			row+=" $point_rwfs $point_min $point_tmpfs"
		done
		echo "$row" >>"$dat"
	done
	stop_fs plotrwfs

	echo
	echo "lock: 4 readers lock/unlock flat out, one writer locks every 1 ms (in process," \
		"$secs s per lock in $rounds turns)"
	"$lockwait" 4 "$secs" "$rounds" >"$lw" || die "$lockwait failed"
	printf '%-14s %14s %14s %10s %18s\n' lock "max wait us" "p99 wait us" writes "reader acq/s"
	for l in rwfs glibc-writer glibc-default; do
		line=$(awk -v l="$l" '$2 == "lock" && $3 == l' "$lw")
		[ -n "$line" ] || die "$lockwait printed nothing for $l"
		printf '%-14s %14s %14s %10s %18s\n' "$l" "$(field max_us "$line")" \
			"$(field p99_us "$line")" "$(field writes "$line")" \
			"$(field reads_per_sec "$line")"
		ms=$(awk -v u="$(field max_us "$line")" 'BEGIN { printf "%.1f", u / 1000 }')
		titles+=("${desc[$l]}: $(field writes "$line") writes, longest $ms ms")
	done

	echo
	if ! command -v gnuplot >/dev/null; then
		echo "gnuplot not installed: data in $dat and $lw, no PNGs"
		return 0
	fi
	gnuplot_png throughput "$dat" "$plot_dir/throughput.png"
	gnuplot_png lockwait "$lw" "$plot_dir/lockwait.png" 4 "${titles[@]}"
	echo "plots: $plot_dir/throughput.png, $plot_dir/lockwait.png (data beside them)"
}

for p in core durability queues shop files profile loop plots; do
	has_part "$p" && "run_$p"
done

echo
echo "targets"
for line in "${targets[@]}"; do
	printf '%s\n' "$line"
done
exit 0
