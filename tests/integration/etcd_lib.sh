# etcd_lib.sh - a private three-member etcd cluster on loopback for one
# test, and mounts of rwfs on it (sourced after lib.sh).
#
#   start_etcd            starts n1 n2 n3 in $TEST_TMP/etcd on free ports of
#                         127.0.0.1 and sets ETCD_URLS; stopped at exit
#   etcd_cluster CMD...   tools/etcd-cluster.sh on that cluster (kill N,
#                         revive N, leader)
#   start_mount NAME [OPTION...]   start_rwfs NAME --etcd=$ETCD_URLS OPTION...
#   wait_same_state NAME...        waits until every mount reports the same
#                         applied position and state digest (10 s), fails
#                         otherwise; prints the digest

ETCD_SCRIPT=$ROOT/tools/etcd-cluster.sh

etcd_cluster() {
	ETCD_DIR=$TEST_TMP/etcd ETCD_PORTS=$ETCD_PORTS "$ETCD_SCRIPT" "$@"
}

start_etcd() {
	command -v etcd >/dev/null || fail "etcd is not installed (make deps installs etcd-server)"
	ETCD_PORTS=$("$ETCD_SCRIPT" ports)
	export ETCD_PORTS
	at_exit 'stop_mounts_and_etcd'
	etcd_cluster start >/dev/null || fail "the etcd cluster did not start: $(tail -n 5 "$TEST_TMP"/etcd/*.log)"
	ETCD_URLS=$(etcd_cluster urls)
	export ETCD_URLS
}

# The mounts first: a mount whose cluster is gone waits out its timeout
# on the way down.
stop_mounts_and_etcd() {
	local pid dir
	if [[ -f "$TEST_TMP/daemons" ]]; then
		while read -r pid dir; do
			unmount "$dir"
			is_running "$pid" && stop_process "$pid" 10
		done <"$TEST_TMP/daemons"
	fi
	etcd_cluster stop
}

start_mount() {
	local name=$1
	shift
	start_rwfs "$name" --etcd="$ETCD_URLS" "$@"
}

# The stats line NAME of mount M.
mount_stat() {
	awk -v k="$2" '$1 == k { print $2 }' "$TEST_TMP/$1/stats"
}

wait_same_state() {
	local m first ok tries
	for ((tries = 0; tries < 100; tries++)); do
		ok=1
		first=
		for m in "$@"; do
			local s
			s=$(awk '$1 == "applied" || $1 == "state_digest" { printf "%s ", $2 }' "$TEST_TMP/$m/stats")
			[[ -z "$first" ]] && first=$s
			[[ "$s" == "$first" ]] || ok=0
		done
		if ((ok)); then
			printf '%s\n' "$first"
			return 0
		fi
		sleep 0.1
	done
	for m in "$@"; do
		echo "$m: $(awk '$1 == "applied" || $1 == "state_digest"' "$TEST_TMP/$m/stats" | tr '\n' ' ')" >&2
	done
	fail "the mounts do not reach the same state"
}
