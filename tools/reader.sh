#!/usr/bin/env bash
# reader.sh - one of the readers of the readers-writers demo: reads
# several registers, one file at a time, under a shared ticket (flock -s),
# and checks that their sum is what it was: the writers (tools/writer.sh)
# move amounts between them under an exclusive ticket, so no reader sees a
# transfer half done.  --no-lock shows what it sees without the ticket.

prog=reader

usage() {
	cat <<USAGE
usage: tools/reader.sh [OPTION...] [REG...]

Reads the registers REG (default: A B) every round, each from its own
file with a pause of --hold seconds spread between the reads, holding a
shared ticket, flock -s on the first REG's file, over all of them.  Prints
"reader ID: A=43 B=57 sum=100 ok", or "... sum=93 WRONG, not 100" when the
sum is not the expected total: a transfer was seen half done.  At the end,
"reader ID: N reads, M wrong"; the exit status is 1 when one was wrong.

  --mount DIR      the rwfs mount (default: \$RWFS_MOUNT, else ./mnt)
  --id N           number shown on each line (default: the process id)
  --count N        rounds, 0 for no end (default 20)
  --delay SECONDS  pause between rounds (default 0.2)
  --hold SECONDS   pause spread between the reads of a round (default 0.1)
  --total N        the sum to expect (default: the sum of the first
                   round; give it with --no-lock, whose first round may
                   be wrong too)
  --no-lock        take no ticket: the reads may see a transfer half done
  -h, --help       this text
  -V, --version    the version

Readers share the ticket (several hold it at once); a writer waits for
them, and they wait for a writer.  The event log (mnt/events, or rwfs -f)
shows each ticket: requested, waiting, "granted after 12.345 ms", released.
USAGE
}

. "$(dirname "$0")/common.sh"

total=
handle_option() {
	case $1 in
	--total) needs_value "$1" $#; total=$2; shifted=2 ;;
	--total=*) total=${1#*=}; shifted=1 ;;
	*) return 1 ;;
	esac
}
handle_arg() {
	add_register "$1"
}
parse_common "$@"
parse_registers
[[ -z "$total" || "$total" =~ ^-?[0-9]+$ ]] || bad_usage "--total takes a whole number, not '$total'"

open_ticket "$lock_register"

pause=$(awk -v h="$hold" -v n="${#regs[@]}" 'BEGIN { printf "%.3f", h / (n - 1) }')
wrong=0
for ((i = 0; count == 0 || i < count; i++)); do
	((i == 0)) || sleep "$delay"
	ticket shared
	line="reader $id:"
	sum=0
	for ((k = 0; k < ${#regs[@]}; k++)); do
		((k == 0)) || sleep "$pause"
		r=${regs[k]}
		v=$(<"$mount/$r") || die "cannot read '$mount/$r'"
		line+=" $r=$v"
		sum=$((sum + v))
	done
	ticket_release
	# Without --total, the first round says what the sum is.
	[[ -n "$total" ]] || total=$sum
	if ((sum == total)); then
		line+=" sum=$sum ok"
	else
		line+=" sum=$sum WRONG, not $total"
		wrong=$((wrong + 1))
	fi
	printf '%s\n' "$line" || die "cannot write the output"
done
exec 4<&-
printf 'reader %s: %d reads, %d wrong\n' "$id" "$i" "$wrong" || die "cannot write the output"
((wrong == 0))
