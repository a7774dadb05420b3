#!/usr/bin/env bash
# reader.sh - one of the concurrent readers of the readers-writers demo:
# reads some registers every round and prints them.  Each round is one read
# of mnt/registers, so the values shown belong to one consistent snapshot.

prog=reader

usage() {
	cat <<USAGE
usage: tools/reader.sh [--mount DIR] [--id N] [--count N] [--delay SECONDS] [REG...]

Prints "reader ID: A=5 B=7 ..." for the registers REG (default: three
chosen at random) every round, all from one snapshot of DIR/registers.

  --mount DIR      the rwfs mount (default: \$RWFS_MOUNT, else ./mnt)
  --id N           number shown on each line (default: the process id)
  --count N        rounds, 0 for no end (default 20)
  --delay SECONDS  pause between rounds (default 0.2)
  -h, --help       this text
USAGE
}

. "$(dirname "$0")/common.sh"

regs=()
handle_arg() {
	local r=${1^^}
	[[ "$r" =~ ^[A-Z]$ ]] || bad_usage "'$1' is not a register (A-Z)"
	regs+=("$r")
}
parse_common "$@"

if ((${#regs[@]} == 0)); then
	letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ
	while ((${#regs[@]} < 3)); do
		r=${letters:RANDOM % 26:1}
		[[ " ${regs[*]} " == *" $r "* ]] || regs+=("$r")
	done
fi

declare -A value
for ((i = 0; count == 0 || i < count; i++)); do
	((i == 0)) || sleep "$delay"
	snapshot=$(cat "$mount/registers") || die "cannot read '$mount/registers'"
	while read -r name v; do
		value[$name]=$v
	done <<<"$snapshot"
	line="reader $id:"
	for r in "${regs[@]}"; do
		line+=" $r=${value[$r]:-?}"
	done
	printf '%s\n' "$line" || die "cannot write the output"
done
