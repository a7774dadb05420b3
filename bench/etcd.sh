#!/usr/bin/env bash
# shellcheck disable=SC2317 # functions run indirectly: the series, the trap
# bench/etcd.sh - rwfs on an etcd cluster measured against etcd itself, in
# one run on a private local cluster.
#
# Starts a three-member etcd cluster on free ports of 127.0.0.1
# (tools/etcd-cluster.sh, data in a scratch directory), mounts ./rwfs on it
# three times (m1, m2, m3, each with the endpoints in another order, so each
# talks to another member first) and once more with --reads=local, and a
# single-host ./rwfs with a state directory.  Then, with 1, 4 and 16
# concurrent clients:
#
#   raw etcd     puts/s and linearizable ranges/s from bench/etcd_raw (its own
#                small libcurl + json-c client: a thread and a keep-alive
#                connection per client, one request at a time)
#   rwfs writes  pwrite("1\n", 0) on register A (bench/bench pwrite), through
#                m1, and spread over m1 m2 m3 (bench/bench pwrite-each);
#                records per put from m1's stats (etcd_proposals/etcd_puts)
#   rwfs reads   pread of A, linearizable (each read learns the log's tail),
#                through m1, and spread (one bench/bench process per mount)
#   ctl          batches of 100 "ADD A 1" (one write, one record) against
#                100 raw puts of one client
#   queue        items/s, a producer writing on m1, a consumer reading on m2
#   local reads  pread of A on the --reads=local mount against the
#                single-host mount
#
# and prints each figure with its ratio to its target, then PASS/MISS:
# rwfs writes at 16 clients >= raw puts at 16 (group commit); a linearizable
# rwfs read within 1.5x of a raw linearizable range (rate ratio >= 0.67);
# --reads=local >= 0.9x the single-host read.  A missed target is a result,
# not a failure.  Skips (status 0, one line) when etcd is not installed.
# Always unmounts what it mounted and stops the cluster.
#
#     bench/etcd.sh
#     BENCH_SECONDS=4 BENCH_ROUNDS=8 bench/etcd.sh   # as bench/run.sh
#     BENCH_ETCD_CLIENTS="1 4 16" bench/etcd.sh     # the concurrencies
#     BENCH_ETCD_PARTS="writes" bench/etcd.sh       # some of: writes reads local queue
#
# Each ops/s figure is the median of BENCH_ROUNDS short runs, the things
# compared taking turns (see bench/run.sh).

set -u

root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$root" || exit 1
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

secs=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-8}
clients=${BENCH_ETCD_CLIENTS:-1 4 16}
parts=${BENCH_ETCD_PARTS:-writes reads local queue}
cflags="-std=gnu11 -O2 -Wall -Wextra -Werror"

target_write_x=1      # rwfs writes at the most clients over raw puts at as many
target_read_x=0.67    # linearizable rwfs read rate over raw range rate (1.5x the time)
target_local_x=0.9    # --reads=local read rate over the single-host read rate
ctl_lines=100

if ! command -v etcd >/dev/null 2>&1; then
	echo "etcd: skipped, etcd is not installed (etcd-server)"
	exit 0
fi
case $secs in
'' | . | *[!0-9.]* | *.*.*) die "BENCH_SECONDS must be a number of seconds, not '$secs'" ;;
esac
case $rounds in
'' | 0 | *[!0-9]*) die "BENCH_ROUNDS must be a whole number above 0, not '$rounds'" ;;
esac
for c in $clients; do
	case $c in
	'' | 0 | *[!0-9]*) die "BENCH_ETCD_CLIENTS: bad client count '$c'" ;;
	esac
done
for p in $parts; do
	case $p in
	writes | reads | local | queue) ;;
	*) die "BENCH_ETCD_PARTS: no part '$p' (writes reads local queue)" ;;
	esac
done
# Whether part $1 is to run.
part() {
	case " $parts " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}
# shellcheck disable=SC2086 # one count a word
most=$(printf '%s\n' $clients | sort -n | tail -n 1)
# shellcheck disable=SC2086
least=$(printf '%s\n' $clients | sort -n | head -n 1)
round_secs=$(awk -v s="$secs" -v r="$rounds" 'BEGIN { printf "%.3f", s / r }')

# ---- build -------------------------------------------------------------------

[ -x ./rwfs ] || die "./rwfs not found: run make first"
bench_src=(bench/bench.c bench/durability.c bench/queues.c bench/shop.c bench/files.c
	fs/engine/rwlock.c)
if stale bench/bench "${bench_src[@]}" bench/bench.h fs/engine/rwlock.h; then
	# shellcheck disable=SC2086
	cc $cflags -Ifs/engine "${bench_src[@]}" -lpthread -o bench/bench ||
		die "cannot build bench/bench"
fi
if stale bench/etcd_raw bench/etcd_raw.c; then
	# shellcheck disable=SC2086
	cc $cflags bench/etcd_raw.c -lcurl -ljson-c -lpthread -o bench/etcd_raw ||
		die "cannot build bench/etcd_raw"
fi

# ---- the cluster, the mounts, and their cleanup ---------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rwfs-bench-etcd.XXXXXX") || die "mktemp failed"
tmp=$(cd "$tmp" && pwd -P) || die "cannot enter $tmp"
fs_names=()
declare -A fs_pid
cluster_up=0
export ETCD_DIR=$tmp/etcd

stop_fs() {
	unmount "$tmp/$1"
	stop_daemon "${fs_pid[$1]:-}"
	fs_pid[$1]=
}

cleanup() {
	local name busy=0
	trap - EXIT INT TERM
	for name in "${fs_names[@]}"; do
		stop_fs "$name"
	done
	[ "$cluster_up" = 1 ] && "$root/tools/etcd-cluster.sh" stop
	for name in "${fs_names[@]}"; do
		if is_mounted "$tmp/$name"; then
			echo "bench: could not unmount $tmp/$name" >&2
			busy=1
		fi
	done
	[ "$busy" = 0 ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_mount() {
	local m=$1 pid=$2 tenths=150
	while [ "$tenths" -gt 0 ]; do
		mountpoint -q "$m" && [ -e "$m/A" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		tenths=$((tenths - 1))
	done
	return 1
}

# Starts ./rwfs -f --quiet OPTION... as daemon NAME on $tmp/NAME and waits
# for its mount.
start_fs() {
	local name=$1
	shift
	mkdir -p "$tmp/$name" "$tmp/work" || return 1
	fs_names+=("$name")
	(cd "$tmp/work" && exec "$root/rwfs" -f --quiet "$@" "$tmp/$name") \
		>/dev/null 2>"$tmp/$name.err" &
	fs_pid[$name]=$!
	wait_mount "$tmp/$name" "${fs_pid[$name]}"
}

command -v python3 >/dev/null || die "python3 is needed to find free ports"
ETCD_PORTS=$(tools/etcd-cluster.sh ports) || die "no free ports"
export ETCD_PORTS
cluster_up=1
"$root/tools/etcd-cluster.sh" start >/dev/null ||
	die "the etcd cluster did not start: $(tail -n 5 "$ETCD_DIR"/*.log)"
read -r -a port <<<"$ETCD_PORTS"
url1=http://127.0.0.1:${port[0]}
url2=http://127.0.0.1:${port[1]}
url3=http://127.0.0.1:${port[2]}
start_fs m1 --etcd="$url1,$url2,$url3" || die "m1 did not mount: $(head -c 2000 "$tmp/m1.err")"
start_fs m2 --etcd="$url2,$url3,$url1" || die "m2 did not mount: $(head -c 2000 "$tmp/m2.err")"
start_fs m3 --etcd="$url3,$url1,$url2" || die "m3 did not mount: $(head -c 2000 "$tmp/m3.err")"
start_fs mlocal --etcd="$url1,$url2,$url3" --reads=local ||
	die "the --reads=local mount did not mount: $(head -c 2000 "$tmp/mlocal.err")"
mkdir "$tmp/state-single" || die "cannot make $tmp/state-single"
start_fs single --state="$tmp/state-single" ||
	die "the single-host rwfs did not mount: $(head -c 2000 "$tmp/single.err")"

# ---- measurement helpers (as bench/run.sh) --------------------------------------

quartiles_x() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { q1 = int(NR / 4) + 1; q3 = NR + 1 - q1; printf "%.2f-%.2fx\n", v[q1], v[q3] }'
}

us_per() {
	awk -v n="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.0f", n * 1e6 / r; else print "nan" }'
}

declare -A vals lines
alternate() {
	local names=("$@") n=$# i k s out
	for s in "${names[@]}"; do
		vals[$s]=
		lines[$s]=
	done
	"${names[0]}" >/dev/null || exit 1
	for ((i = 0; i < rounds; i++)); do
		for ((k = 0; k < n; k++)); do
			s=${names[(i + k) % n]}
			out=$("$s") || exit 1
			vals[$s]+="$(field ops_per_sec "$out") "
			lines[$s]+="$out"$'\n'
		done
	done
}

# The median of the round-by-round ratios of series $1 to $2, and their spread.
med_ratio() {
	# shellcheck disable=SC2046
	awk -v m="$(median_f $(round_ratios "$1" "$2"))" 'BEGIN { printf "%.2f", m }'
}
spread() {
	# shellcheck disable=SC2046
	quartiles_x $(round_ratios "$1" "$2")
}

targets=()
target() {
	targets+=("$(printf '  %-44s %-30s %s' "$1" "$2" "$3")")
}

# The sum of the stats rows etcd_proposals and etcd_puts over the mounts.
proposals_puts() {
	local m p=0 u=0 a b
	for m in "$@"; do
		a=$(awk '$1 == "etcd_proposals" { print $2 }' "$tmp/$m/stats")
		b=$(awk '$1 == "etcd_puts" { print $2 }' "$tmp/$m/stats")
		p=$((p + a)) u=$((u + b))
	done
	echo "$p $u"
}

# Runs a bench line, then appends the proposals and puts the mounts made
# meanwhile: "... proposals P puts U".
counted() {
	local mounts=$1 before after out
	shift
	# shellcheck disable=SC2086 # one mount a word
	before=$(proposals_puts $mounts)
	out=$("$@") || exit 1
	# shellcheck disable=SC2086
	after=$(proposals_puts $mounts)
	read -r p0 u0 <<<"$before"
	read -r p1 u1 <<<"$after"
	printf '%s proposals %d puts %d\n' "$out" $((p1 - p0)) $((u1 - u0))
}

# Paths spread over the three mounts, one a client: m1/F m2/F m3/F m1/F ...
spread_paths() {
	local n=$1 f=$2 i ms=(m1 m2 m3)
	for ((i = 0; i < n; i++)); do
		printf '%s\n' "$tmp/${ms[i % 3]}/$f"
	done
}

# pread of A from $1 clients split over the three mounts, a bench/bench
# process per mount at once; the sum of their rates.
spread_reads() {
	local n=$1 i k total=0 pids=() outs=()
	for ((i = 0; i < 3; i++)); do
		k=$(((n + 2 - i) / 3))
		[ "$k" -gt 0 ] || continue
		outs+=("$tmp/spread.$i")
		bench/bench pread "$tmp/m$((i + 1))/A" "$k" "$round_secs" >"$tmp/spread.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || die "bench/bench pread failed"
	done
	total=$(cat "${outs[@]}" | awk '$1 == "ops_per_sec" { s += $2 } END { printf "%.0f", s }')
	echo "ops_per_sec $total"
}

# The series, one function each: raw_put_C raw_range_C w1_C w3_C r1_C r3_C.
for c in $clients; do
	eval "raw_put_$c() { bench/etcd_raw put $url1 $c $round_secs; }"
	eval "raw_range_$c() { bench/etcd_raw range $url1 $c $round_secs; }"
	eval "w1_$c() { counted m1 bench/bench pwrite $tmp/m1/A $c $round_secs; }"
	eval "w3_$c() { counted 'm1 m2 m3' bench/bench pwrite-each $round_secs \$(spread_paths $c A); }"
	eval "r1_$c() { bench/bench pread $tmp/m1/A $c $round_secs; }"
	eval "r3_$c() { spread_reads $c; }"
done
ctl_batch() { counted m1 bench/etcd_raw ctl "$tmp/m1/ctl" "$ctl_lines" "$round_secs"; }
local_read() { bench/bench pread "$tmp/mlocal/A" 1 "$round_secs"; }
single_read() { bench/bench pread "$tmp/single/A" 1 "$round_secs"; }

# ---- the run ----------------------------------------------------------------------

echo "rwfs on etcd: $(nproc) CPUs, Linux $(uname -r), $(etcd --version | head -n 1)"
echo "a private 3-member cluster on 127.0.0.1 ports $ETCD_PORTS (tools/etcd-cluster.sh);"
echo "mounts m1 m2 m3 (default options, --reads=linearizable), each first talking to another member;"
echo "raw etcd: bench/etcd_raw on the member m1 talks to, a thread and keep-alive connection a client"
echo "each ops/s figure: median of $rounds runs of $round_secs s, the things compared taking turns"
echo "ratio: the median of the round-by-round ratios; spread: their middle half"

if part writes; then
	echo
	printf '%s\n' '== writes: raw put (64-byte value, own key a client) against rwfs pwrite("1\n") on A =='
	series=()
	for c in $clients; do
		series+=("raw_put_$c" "w1_$c")
		[ "$c" -gt 1 ] && series+=("w3_$c")
	done
	series+=(ctl_batch)
	alternate "${series[@]}"
	printf '%-8s %12s %9s %14s %10s %14s %10s %13s\n' clients "raw puts/s" "raw us" \
		"rwfs m1 ops/s" "m1/raw" "rwfs m1-3" "m1-3/raw" "records/put"
	for c in $clients; do
		rp=$(med "raw_put_$c")
		w1=$(med "w1_$c")
		rpp=$(awk -v p="$(sum_field proposals "w1_$c")" -v u="$(sum_field puts "w1_$c")" \
			'BEGIN { if (u > 0) printf "%.1f", p / u; else print "-" }')
		if [ "$c" -gt 1 ]; then
			w3=$(printf '%.0f' "$(med "w3_$c")")
			w3x=$(med_ratio "w3_$c" "raw_put_$c")x
		else
			w3=- w3x=-
		fi
		printf '%-8s %12.0f %9s %14.0f %10s %14s %10s %13s\n' "$c" "$rp" \
			"$(field p50_us "$(head -n 1 <<<"${lines[raw_put_$c]}")")" "$w1" \
			"$(med_ratio "w1_$c" "raw_put_$c")x" "$w3" "$w3x" "$rpp"
	done
	echo "(raw us: the median time of one put in the first round; records/put: m1's"
	echo " etcd_proposals over etcd_puts during the runs, the group commit)"
	wx=$(med_ratio "w1_$most" "raw_put_$most")
	w3x=
	[ "$most" -gt 1 ] && w3x=$(med_ratio "w3_$most" "raw_put_$most")
	echo "rwfs m1 at $most clients / raw puts at $most: ${wx}x (run spread $(spread "w1_$most" \
		"raw_put_$most"))"
	target "rwfs writes, $most clients >= raw puts/s at $most" "${wx}x (spread: ${w3x:--}x)" \
		"$(verdict "$(at_least "$wx" "$target_write_x")")"

	echo
	cb=$(med ctl_batch)
	raw100=$(awk -v r="$(med "raw_put_$least")" -v n="$ctl_lines" 'BEGIN { printf "%.1f", r / n }')
	echo "ctl: write() of $ctl_lines lines \"ADD A 1\" (one batch, one record) on m1, 1 client:" \
		"$(printf '%.0f' "$cb") batches/s, $(printf '%.0f' "$(awk -v b="$cb" -v n="$ctl_lines" \
			'BEGIN { print b * n }')") instructions/s"
	echo "  against $ctl_lines raw puts one after another ($least client): ${raw100} groups/s;" \
		"ratio $(ratio "$cb" "$raw100")x; records/put $(awk -v p="$(sum_field proposals ctl_batch)" \
			-v u="$(sum_field puts ctl_batch)" 'BEGIN { if (u > 0) printf "%.1f", p / u; else print "-" }')"

fi
if part reads; then
	echo
	echo "== reads: raw linearizable range of one key against rwfs pread of A =="
	series=()
	for c in $clients; do
		series+=("raw_range_$c" "r1_$c")
		[ "$c" -gt 1 ] && series+=("r3_$c")
	done
	alternate "${series[@]}"
	printf '%-8s %12s %9s %14s %10s %14s %10s\n' clients "raw ranges/s" "raw us" \
		"rwfs m1 ops/s" "m1/raw" "rwfs m1-3" "m1-3/raw"
	for c in $clients; do
		if [ "$c" -gt 1 ]; then
			r3=$(printf '%.0f' "$(med "r3_$c")")
			r3x=$(med_ratio "r3_$c" "raw_range_$c")x
		else
			r3=- r3x=-
		fi
		printf '%-8s %12.0f %9s %14.0f %10s %14s %10s\n' "$c" "$(med "raw_range_$c")" \
			"$(field p50_us "$(head -n 1 <<<"${lines[raw_range_$c]}")")" "$(med "r1_$c")" \
			"$(med_ratio "r1_$c" "raw_range_$c")x" "$r3" "$r3x"
	done
	rx=$(med_ratio "r1_$least" "raw_range_$least")
	echo "rwfs linearizable pread / raw linearizable range, $least client: ${rx}x" \
		"(run spread $(spread "r1_$least" "raw_range_$least")); us each: rwfs" \
		"$(us_per 1 "$(med "r1_$least")"), raw $(us_per 1 "$(med "raw_range_$least")")"
	target "linearizable read >= ${target_read_x}x raw range" "${rx}x ($least client)" \
		"$(verdict "$(at_least "$rx" "$target_read_x")")"

fi
if part local; then
	echo
	echo "== --reads=local against the single-host read: pread of A, 1 thread =="
	alternate local_read single_read
	lx=$(med_ratio local_read single_read)
	printf '%-36s %12s %9s\n' what ops/s "us each"
	printf '%-36s %12.0f %9s\n' "rwfs --etcd --reads=local" "$(med local_read)" \
		"$(us_per 1 "$(med local_read)")"
	printf '%-36s %12.0f %9s\n' "rwfs single host (--state)" "$(med single_read)" \
		"$(us_per 1 "$(med single_read)")"
	echo "local / single-host: ${lx}x (run spread $(spread local_read single_read))"
	target "--reads=local >= ${target_local_x}x single-host read" "${lx}x" \
		"$(verdict "$(at_least "$lx" "$target_local_x")")"

fi
if part queue; then
	echo
	echo "== queue across mounts: 1 producer writing on m1, 1 consumer reading on m2 =="
	q_secs=$(awk -v s="$secs" 'BEGIN { printf "%.3f", s / 2 }')
	if out=$(timeout -k 5 60 bench/etcd_raw queue "$tmp/m1/queues/bench" "$tmp/m2/queues/bench" "$q_secs" \
		2>"$tmp/queue.err"); then
		echo "items/s: $(field ops_per_sec "$out") ($(field items "$out") items in about" \
			"$q_secs s, each taken once, in order)"
	else
		echo "queue: failed after $q_secs s: $(head -c 300 "$tmp/queue.err")"
	fi
fi

echo
echo "targets"
for line in "${targets[@]}"; do
	printf '%s\n' "$line"
done
exit 0
