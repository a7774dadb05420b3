# common.sh - what the shell clients share (sourced, not run): messages,
# the options every demo script takes, finding the mount, and the tickets
# (flock) on a register.
#
# Before sourcing, a script sets prog and defines usage().  parse_common
# handles --mount, --id, --count, --delay, --hold, --no-lock, --help and
# --version; every other argument goes to the script's own handle_arg,
# which returns non-zero to refuse it.

# The version of rwfs, the same as the daemon's and the C tools'.
version=0.1.0

die() {
	echo "$prog: $*" >&2
	exit 1
}

bad_usage() {
	echo "$prog: $*; see $prog --help" >&2
	exit 2
}

mount=${RWFS_MOUNT:-./mnt}
id=$$
count=20
delay=0.2
hold=0.1
lock=1

# needs_value OPTION ARGC: the option has a value after it.
needs_value() {
	(($2 >= 2)) || bad_usage "option '$1' needs an argument"
}

parse_common() {
	while (($#)); do
		case $1 in
		--mount) needs_value "$1" $#; mount=$2; shift ;;
		--mount=*) mount=${1#*=} ;;
		--id) needs_value "$1" $#; id=$2; shift ;;
		--id=*) id=${1#*=} ;;
		--count) needs_value "$1" $#; count=$2; shift ;;
		--count=*) count=${1#*=} ;;
		--delay) needs_value "$1" $#; delay=$2; shift ;;
		--delay=*) delay=${1#*=} ;;
		--hold) needs_value "$1" $#; hold=$2; shift ;;
		--hold=*) hold=${1#*=} ;;
		--no-lock) lock=0 ;;
		-h | --help) usage; exit 0 ;;
		-V | --version) echo "$prog rwfs $version"; exit 0 ;;
		--) shift; break ;;
		-?*) handle_option "$@" || bad_usage "unknown option '$1'"; shift "$shifted"; continue ;;
		*) handle_arg "$1" || bad_usage "unknown argument '$1'" ;;
		esac
		shift
	done
	while (($#)); do
		handle_arg "$1" || bad_usage "unknown argument '$1'"
		shift
	done
	[[ "$id" =~ ^[0-9]+$ ]] || bad_usage "--id takes a whole number, not '$id'"
	[[ "$count" =~ ^[0-9]+$ ]] || bad_usage "--count takes a whole number, not '$count'"
	[[ "$delay" =~ ^[0-9]*\.?[0-9]+$ ]] ||
		bad_usage "--delay takes a number of seconds, not '$delay'"
	[[ "$hold" =~ ^[0-9]*\.?[0-9]+$ ]] ||
		bad_usage "--hold takes a number of seconds, not '$hold'"
	[[ -e "$mount/ctl" ]] || die "'$mount' is not an rwfs mount (no ctl file there)"
}

# handle_option ARGS...: a script's own options; sets shifted to the
# number of arguments taken.  Refuses all unless the script redefines it.
handle_option() {
	return 1
}

# The ticket of the demo: flock(1) on fd 4, open on the register file
# $1.  Every reader and writer locks the same file, the first register of
# the list, so the event log shows their requests, waits and grants.
open_ticket() {
	exec 4<"$mount/$1" || die "cannot open '$mount/$1'"
}

# ticket shared|exclusive: waits for the ticket; ticket_release gives it
# back.  Both do nothing with --no-lock.
ticket() {
	((lock)) || return 0
	flock "--$1" 4 || die "cannot lock '$mount/$lock_register'"
}

ticket_release() {
	((lock)) || return 0
	flock --unlock 4 || die "cannot unlock '$mount/$lock_register'"
}

# parse_registers: the registers REG... given (in regs), upper-cased,
# default A B, at least two and no repeats; sets lock_register.
parse_registers() {
	local r seen=" "
	((${#regs[@]})) || regs=(A B)
	((${#regs[@]} >= 2)) || bad_usage "give at least two registers, not only ${regs[0]}"
	for r in "${regs[@]}"; do
		[[ "$seen" != *" $r "* ]] || bad_usage "register $r is given twice"
		seen+="$r "
	done
	lock_register=${regs[0]}
}

# add_register ARG: handle_arg for a register name.
add_register() {
	local r=${1^^}
	[[ "$r" =~ ^[A-Z]$ ]] || bad_usage "'$1' is not a register (A-Z)"
	regs+=("$r")
}
regs=()
