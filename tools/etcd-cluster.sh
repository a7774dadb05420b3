#!/bin/sh
# etcd-cluster.sh - a local three-member etcd cluster on 127.0.0.1, for
# trying rwfs --etcd on one machine (make cluster) and for the tests.
#
#   tools/etcd-cluster.sh start     start n1 n2 n3 and wait until healthy
#   tools/etcd-cluster.sh stop      stop them (kill, then wait)
#   tools/etcd-cluster.sh urls      print the --etcd= list
#   tools/etcd-cluster.sh kill N    kill -9 member N (1..3)
#   tools/etcd-cluster.sh revive N  start member N again on its data
#   tools/etcd-cluster.sh leader    print the number of the leader
#   tools/etcd-cluster.sh wipe      stop, then remove the data
#   tools/etcd-cluster.sh ports     print three free client ports (for ETCD_PORTS)
#
# ETCD_DIR (default ./etcd.cluster) holds the data and logs;
# ETCD_PORTS (default "2379 22379 32379") the client ports; each member's
# peer port is its client port + 1.
set -eu

dir=${ETCD_DIR:-./etcd.cluster}
ports=${ETCD_PORTS:-2379 22379 32379}

port_of() { echo "$ports" | tr ' ' '\n' | sed -n "${1}p"; }

urls() {
	list=''
	for p in $ports; do list="$list${list:+,}http://127.0.0.1:$p"; done
	echo "$list"
}

initial_cluster() {
	list='' n=1
	for p in $ports; do
		list="$list${list:+,}n$n=http://127.0.0.1:$((p + 1))"
		n=$((n + 1))
	done
	echo "$list"
}

start_member() {
	n=$1 p=$(port_of "$1")
	state=new
	[ -d "$dir/n$n" ] && state=existing
	etcd --name "n$n" --data-dir "$dir/n$n" \
		--listen-client-urls "http://127.0.0.1:$p" \
		--advertise-client-urls "http://127.0.0.1:$p" \
		--listen-peer-urls "http://127.0.0.1:$((p + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((p + 1))" \
		--initial-cluster "$(initial_cluster)" \
		--initial-cluster-token rwfs-local --initial-cluster-state "$state" \
		--pre-vote --logger zap --log-outputs "$dir/n$n.log" \
		>/dev/null 2>&1 &
	echo $! > "$dir/n$n.pid"
}

healthy() {
	ETCDCTL_API=3 etcdctl --endpoints="$(urls)" --command-timeout=1s \
		endpoint health >/dev/null 2>&1
}

wait_healthy() {
	i=0
	until healthy; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "etcd-cluster: not healthy after 20 s (logs in $dir)" >&2
			return 1
		fi
		sleep 0.2
	done
}

stop_member() {
	[ -f "$dir/n$1.pid" ] || return 0
	pid=$(cat "$dir/n$1.pid")
	kill "${2:--TERM}" "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -eq 200 ] && kill -KILL "$pid" 2>/dev/null
		sleep 0.05
	done
	rm -f "$dir/n$1.pid"
}

# Three client ports of 127.0.0.1, each with its peer port (+1) free.
free_ports() {
	python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
ports = []
while len(ports) < 3:
    p = random.randrange(20000, 60000, 2)
    if p not in ports and free(p) and free(p + 1):
        ports.append(p)
print(" ".join(map(str, ports)))
PY
}

case "${1:-}" in
ports)
	free_ports
	;;
start)
	if ! command -v etcd >/dev/null; then
		echo "etcd-cluster: etcd is not installed (apt-get install etcd-server etcd-client)" >&2
		exit 1
	fi
	mkdir -p "$dir"
	for n in 1 2 3; do start_member $n; done
	wait_healthy
	echo "etcd cluster up: --etcd=$(urls)"
	;;
stop)
	for n in 1 2 3; do stop_member $n; done
	;;
wipe)
	for n in 1 2 3; do stop_member $n; done
	rm -rf "$dir"
	;;
urls)
	urls
	;;
kill)
	stop_member "$2" -KILL
	;;
revive)
	start_member "$2"
	;;
leader)
	ETCDCTL_API=3 etcdctl --endpoints="$(urls)" --command-timeout=1s \
		endpoint status -w simple 2>/dev/null |
		awk -F', ' '$5 == "true" { print $1 }' | sed 's/.*://' |
		while read -r p; do
			n=1
			for q in $ports; do [ "$q" = "$p" ] && echo $n; n=$((n + 1)); done
		done
	;;
*)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
