#!/usr/bin/env bash
# writer.sh - one of the writers of the readers-writers demo: moves
# amounts between registers in two steps (take from one, then give to the
# other), holding an exclusive ticket (flock) over both steps, so that
# readers never see a transfer half done; --no-lock shows what they see
# without it.

prog=writer

usage() {
	cat <<USAGE
usage: tools/writer.sh [OPTION...] [REG...]

Moves a random amount (1-9) from one of the registers REG (default: A B)
to another, every round, in two steps: "SUB FROM N" to DIR/ctl, a pause
of --hold seconds, then "ADD TO N".  Over both steps it holds an exclusive
ticket, flock -x on the first REG's file; the readers (tools/reader.sh
with the same REG...) take a shared one, so the sum of the registers
they read never changes.  Prints
"writer ID: move N from FROM to TO -> FROM=V TO=V" each round.

  --mount DIR      the rwfs mount (default: \$RWFS_MOUNT, else ./mnt)
  --id N           number shown on each line (default: the process id)
  --count N        transfers, 0 for no end (default 20)
  --delay SECONDS  pause between transfers (default 0.2)
  --hold SECONDS   pause between the two steps of a transfer (default 0.1)
  --no-lock        take no ticket: readers see transfers half done
  -h, --help       this text
  -V, --version    the version

The event log (mnt/events, or rwfs -f) shows each ticket: requested,
waiting, "granted after 12.345 ms", released.
USAGE
}

. "$(dirname "$0")/common.sh"

handle_arg() {
	add_register "$1"
}
parse_common "$@"
parse_registers

exec 3<>"$mount/ctl" || die "cannot open '$mount/ctl'"
open_ticket "$lock_register"

# step INSN: sends one instruction in one write and sets value to the
# register's new value (the "-> A=43" of the reply), or fails with the
# reply in value.
step() {
	local outcome
	# A failed instruction fails the write; its error is the reply.
	printf '%s\n' "$1" >&3 2>/dev/null
	IFS= read -r outcome <&3 || outcome="(no reply)"
	value=${outcome##*=}
	[[ "$outcome" == ok* ]] || { value=$outcome; return 1; }
}

for ((i = 0; count == 0 || i < count; i++)); do
	((i == 0)) || sleep "$delay"
	from=${regs[RANDOM % ${#regs[@]}]}
	to=$from
	while [[ "$to" == "$from" ]]; do
		to=${regs[RANDOM % ${#regs[@]}]}
	done
	n=$((RANDOM % 9 + 1))
	ticket exclusive
	if step "SUB $from $n"; then
		left=$value
		sleep "$hold"
		if step "ADD $to $n"; then
			result="$from=$left $to=$value"
		else
			result="$to: $value"
		fi
	else
		result="$from: $value"
	fi
	ticket_release
	printf 'writer %s: move %s from %s to %s -> %s\n' "$id" "$n" "$from" "$to" "$result" ||
		die "cannot write the output"
done
exec 3<&- 4<&-
