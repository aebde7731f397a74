#!/usr/bin/env bash
# A local multi-node swarm on one machine: each node is a separate
# `sw daemon` with its own data dir, socket, hostname and loopback address
# (127.0.3.N) for its advertise, listen and ingress addresses, all on the
# local Docker engine (containers are labelled with their node's ID).
#
#   scripts/cluster.sh up [MANAGERS] [WORKERS]   start a swarm (default 3 managers, 2 workers)
#   scripts/cluster.sh down                      stop every node, remove its tasks and state
#   scripts/cluster.sh host N                    print the SW_HOST of node N (1-based)
#   scripts/cluster.sh kill N | start N          SIGKILL node N's daemon / start it again
#
# SW_CLUSTER_DIR (default /tmp/sw-cluster) holds the nodes; SW_BIN names a
# prebuilt sw binary (default: build one into the cluster dir).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
DIR=${SW_CLUSTER_DIR:-/tmp/sw-cluster}
NET=${SW_CLUSTER_NET:-127.0.3}

node_dir() { echo "$DIR/node$1"; }
node_ip() { echo "$NET.$1"; }
node_host() { echo "unix://$(node_dir "$1")/sw.sock"; }
sw_bin() { echo "${SW_BIN:-$DIR/bin/sw}"; }
swn() { local n=$1; shift; "$(sw_bin)" -H "$(node_host "$n")" "$@"; }

start_node() {
	local n=$1 d
	d=$(node_dir "$n")
	mkdir -p "$d"
	nohup "$(sw_bin)" -H "$(node_host "$n")" daemon --data-dir "$d/data" --hostname "$(cat "$d/name")" \
		--ingress-addr "$(node_ip "$n")" >>"$d/daemon.log" 2>&1 &
	echo $! >"$d/pid"
	for _ in $(seq 100); do [ -S "$d/sw.sock" ] && return 0; sleep 0.05; done
	echo "node $n did not start; see $d/daemon.log" >&2
	return 1
}

kill_node() {
	local d
	d=$(node_dir "$1")
	[ -f "$d/pid" ] && kill -9 "$(cat "$d/pid")" 2>/dev/null || true
	rm -f "$d/pid" "$d/sw.sock"
}

up() {
	local managers=${1:-3} workers=${2:-2} total n token
	total=$((managers + workers))
	[ "$managers" -ge 1 ] || { echo "need at least one manager" >&2; exit 1; }
	down >/dev/null 2>&1 || true
	mkdir -p "$DIR/bin"
	[ -n "${SW_BIN:-}" ] || go build -o "$DIR/bin/sw" .
	for n in $(seq "$total"); do
		mkdir -p "$(node_dir "$n")"
		if [ "$n" -le "$managers" ]; then echo "manager$n"; else echo "worker$((n - managers))"; fi >"$(node_dir "$n")/name"
		start_node "$n"
	done
	swn 1 swarm init --listen-addr "$(node_ip 1):2377" >/dev/null
	for n in $(seq 2 "$total"); do
		if [ "$n" -le "$managers" ]; then token=$(swn 1 swarm join-token -q manager); else token=$(swn 1 swarm join-token -q worker); fi
		swn "$n" swarm join --token "$token" --listen-addr "$(node_ip "$n"):2377" "$(node_ip 1):2377" >/dev/null
	done
	swn 1 node ls
	echo "export SW_HOST=$(node_host 1)   # talk to manager1"
}

down() {
	local d n ids="" clusters=""
	for d in "$DIR"/node*; do
		[ -f "$d/data/node.json" ] || continue
		ids="$ids $(sed -n 's/.*"NodeID": "\([a-z0-9]*\)".*/\1/p' "$d/data/node.json")"
		clusters="$clusters $(sed -n 's/.*"ClusterID": "\([a-z0-9]\{12\}\).*/\1/p' "$d/data/node.json")"
	done
	for d in "$DIR"/node*; do
		[ -d "$d" ] || continue
		n=${d##*node}
		if [ -S "$d/sw.sock" ]; then swn "$n" swarm leave --force >/dev/null 2>&1 || true; fi
	done
	for d in "$DIR"/node*; do
		[ -d "$d" ] || continue
		kill_node "${d##*node}"
		rm -rf "$d"
	done
	for id in $ids; do
		docker ps -aq --filter "label=com.sw.node.id=$id" | xargs -r docker rm -f >/dev/null
	done
	for id in $(printf '%s\n' $clusters | sort -u); do
		docker network rm "sw_$id" >/dev/null 2>&1 || true # the swarm's task network
	done
	echo "cluster down"
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
host) node_host "$2" ;;
kill) kill_node "$2" ;;
start) start_node "$2" ;;
*) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
