# lib.sh - the helpers bench/run.sh and bench/etcd.sh share (sourced):
# shellcheck shell=bash
# stopping daemons and mounts, and the arithmetic of medians and ratios.

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

# True when $1 is a mount point.  mountpoint(1) alone is not enough: it
# stats the path, which fails (ENOTCONN) on the mount of a daemon that
# died, and such a mount must still be removed before rm -r goes near it.
is_mounted() {
	mountpoint -q "$1" 2>/dev/null && return 0
	M=$1 awk 'BEGIN { m = ENVIRON["M"]; gsub(/ /, "\\040", m) }
		$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

unmount() {
	if is_mounted "$1"; then
		fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null ||
			umount -l "$1" 2>/dev/null
	fi
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

# The median of the arguments with four decimals (seconds, ratios).
median_f() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { printf "%.4f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# $1 / $2 with two decimals; $1 * 1e6 / $2 (a rate's µs per operation).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'
}

# "yes" when $1 >= $2, or $1 < $2, or $1 <= $2 (as numbers).
at_least() {
	awk -v a="$1" -v b="$2" 'BEGIN { r = "no"; if (a + 0 >= b + 0) r = "yes"; print r }'
}

verdict() {
	if [ "$1" = yes ]; then echo PASS; else echo MISS; fi
}

# The median of series $1 (the caller's associative array vals).
# shellcheck disable=SC2086,SC2154 # the figures are words
med() {
	median ${vals[$1]}
}

# The ratios of two series of alternate's rounds, one per line: vals
# (an associative array of the caller's) holds each series.
# shellcheck disable=SC2154
round_ratios() {
	local -a a b
	local i
	read -r -a a <<<"${vals[$1]}"
	read -r -a b <<<"${vals[$2]}"
	for ((i = 0; i < ${#a[@]}; i++)); do
		ratio "${a[i]}" "${b[i]}"
		echo
	done
}

# The sum of key $1 over the lines of series $2 (the caller's associative
# array lines holds each series' output).
# shellcheck disable=SC2154
sum_field() {
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) s += $(i + 1) }
		END { printf "%d\n", s }' <<<"${lines[$2]}"
}
