# common.sh - what the shell clients share (sourced, not run): messages,
# the options every demo script takes, and finding the mount.
#
# Before sourcing, a script sets prog and defines usage().  parse_common
# handles --mount, --id, --count, --delay and --help; every other argument
# goes to the script's own handle_arg, which returns non-zero to refuse it.

die() {
	echo "$prog: $*" >&2
	exit 1
}

bad_usage() {
	echo "$prog: $*" >&2
	usage >&2
	exit 2
}

mount=${RWFS_MOUNT:-./mnt}
id=$$
count=20
delay=0.2

parse_common() {
	while (($#)); do
		case $1 in
		--mount) (($# >= 2)) || bad_usage "--mount needs a directory"; mount=$2; shift ;;
		--mount=*) mount=${1#*=} ;;
		--id) (($# >= 2)) || bad_usage "--id needs a number"; id=$2; shift ;;
		--id=*) id=${1#*=} ;;
		--count) (($# >= 2)) || bad_usage "--count needs a number"; count=$2; shift ;;
		--count=*) count=${1#*=} ;;
		--delay) (($# >= 2)) || bad_usage "--delay needs a number of seconds"; delay=$2; shift ;;
		--delay=*) delay=${1#*=} ;;
		-h | --help) usage; exit 0 ;;
		-*) bad_usage "unknown option '$1'" ;;
		*) handle_arg "$1" || bad_usage "unknown argument '$1'" ;;
		esac
		shift
	done
	[[ "$count" =~ ^[0-9]+$ ]] || bad_usage "--count must be a whole number, not '$count'"
	[[ "$delay" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
		bad_usage "--delay must be a number of seconds, not '$delay'"
	[[ -e "$mount/ctl" ]] || die "'$mount' is not an rwfs mount (no ctl file there)"
}
