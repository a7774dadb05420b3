#!/usr/bin/env bash
# writer.sh - one of the concurrent writers of the readers-writers demo:
# sends random instructions to mnt/ctl, each as one batch on one open file,
# and prints every instruction with the outcome read back from that file.

prog=writer

usage() {
	cat <<USAGE
usage: tools/writer.sh [--mount DIR] [--id N] [--count N] [--delay SECONDS]

Sends random instructions (ADD 27 N, SET 97 I, MOV A B, SUB C 5, ...) to
DIR/ctl and prints "writer ID: INSTRUCTION -> OUTCOME".  A failed
instruction (an overflow, say) is printed with its error; it does not stop
the writer.

  --mount DIR      the rwfs mount (default: \$RWFS_MOUNT, else ./mnt)
  --id N           number shown on each line (default: the process id)
  --count N        instructions to send, 0 for no end (default 20)
  --delay SECONDS  pause between instructions (default 0.2)
  -h, --help       this text
USAGE
}

. "$(dirname "$0")/common.sh"

handle_arg() {
	return 1
}
parse_common "$@"

registers=ABCDEFGHIJKLMNOPQRSTUVWXYZ

reg() {
	printf '%s' "${registers:RANDOM % 26:1}"
}

# A random instruction, in the forms people write: the literal first or
# second, register to register.  DIV only by a literal that is not 0.
instruction() {
	local a b
	a=$(reg)
	b=$(reg)
	case $((RANDOM % 10)) in
	0) echo "ADD $((RANDOM % 50)) $a" ;;
	1) echo "ADD $a $b" ;;
	2) echo "SUB $a $((RANDOM % 10))" ;;
	3) echo "MUL $a $((RANDOM % 3 + 1))" ;;
	4) echo "DIV $a $((RANDOM % 5 + 1))" ;;
	5) echo "SET $((RANDOM % 100)) $a" ;;
	6) echo "SET $a $((RANDOM % 100))" ;;
	7) echo "MOV $a $b" ;;
	8) echo "WRITE $a $((RANDOM % 16))" ;;
	9) echo "READ $a $((RANDOM % 16))" ;;
	esac
}

exec 3<>"$mount/ctl" || die "cannot open '$mount/ctl'"
for ((i = 0; count == 0 || i < count; i++)); do
	((i == 0)) || sleep "$delay"
	insn=$(instruction)
	# A failed batch fails the write; its error is the reply.
	printf '%s\n' "$insn" >&3 2>/dev/null
	IFS= read -r outcome <&3 || outcome="(no reply)"
	printf 'writer %s: %s -> %s\n' "$id" "$insn" "$outcome" || die "cannot write the output"
done
exec 3<&-
