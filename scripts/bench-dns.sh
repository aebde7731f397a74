#!/usr/bin/env bash
# bench-dns.sh: DNS queries/s answered for a service name from inside a
# container on a swarm's task network, next to, in the same run, Docker's
# embedded DNS answering a container's own name (the baseline every
# container on a user-defined network already has).
#
#   scripts/bench-dns.sh                 RUNS=3, 8 clients, 5 s per run
#   RUNS=5 DURATION=10s scripts/bench-dns.sh
#
# Environment: RUNS (default 3), CLIENTS (concurrent UDP clients, default
# 8), DURATION (default 5s), BENCH_IP (daemon address, default 127.0.9.2).
#
# Cases, each a run of scripts/dnsload in a FROM-scratch container joined
# to the task network with the task's DNS settings:
#   service via embedded  `web` asked of 127.0.0.11 (Docker's embedded DNS,
#                         which forwards to sw's server): what a task sees
#   service direct        `web` asked of sw's server on the gateway
#   baseline              the web task's container name asked of
#                         127.0.0.11 (answered by Docker itself)
# Sides alternate; medians are reported.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh
source scripts/lib/daemon.sh
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-5s}
BENCH_IP=${BENCH_IP:-127.0.9.2}
log() { printf '%s\n' "$*" >&2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { log "bench-dns: RUNS must be a positive integer"; exit 2; }
require_engine

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-dns.XXXXXX")
SOCK="$WORK/sw.sock" SW="$WORK/sw" DLOG="$WORK/daemon.log"
DAEMON_PID="" NODE_ID=""
sw() { "$SW" -H "unix://$SOCK" "$@"; }
cleanup() {
	local rc=$?
	set +e
	finish_single_node "$rc"
	exit "$rc"
}
trap cleanup EXIT
fail() { log "bench-dns: FAIL: $*"; exit 1; }

log "== building sw, the demo image and the dnsload image"
go build -o "$SW" .
build_demo_image >/dev/null
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/dnsload" ./scripts/dnsload
printf 'FROM scratch\nCOPY dnsload /dnsload\nENTRYPOINT ["/dnsload"]\n' >"$WORK/Dockerfile"
docker build -q -t sw-dnsload:latest -f "$WORK/Dockerfile" "$WORK" >/dev/null

log "== starting the sw daemon on $BENCH_IP"
start_single_node bench-dns "$BENCH_IP" || fail "starting the daemon"
CLUSTER=$(sw info --format '{{.ClusterID}}')
NET="sw_${CLUSTER:0:12}"
GW=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$NET")
sw service create -q --name web sw-demo:latest >/dev/null || fail "service create"
TASK=$(docker ps --filter "label=com.sw.node.id=$NODE_ID" --filter label=com.sw.service.name=web --format '{{.Names}}')
[ -n "$TASK" ] || fail "no web task container"

# load SERVER NAME: one dnsload run; prints "QPS P99"
load() {
	local out
	out=$(docker run --rm --network "$NET" --dns "$GW" sw-dnsload:latest \
		-server "$1" -name "$2" -c "$CLIENTS" -d "$DURATION" 2>&1) || fail "dnsload $1 $2: $out"
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["qps"], v["p99_ms"], v["failed"] }' <<<"$out"
}

declare -A QPS P99
CASES=(embedded direct baseline)
for r in $(seq "$RUNS"); do
	order=("${CASES[@]}")
	((r % 2)) || order=(baseline direct embedded)
	for c in "${order[@]}"; do
		case $c in
		embedded) res=$(load 127.0.0.11:53 web) ;;
		direct) res=$(load "$GW:53" web) ;;
		baseline) res=$(load 127.0.0.11:53 "$TASK") ;;
		esac
		read -r q p f <<<"$res"
		QPS[$c]+="$q " P99[$c]+="$p "
		log "   run $r $c: $q q/s p99 $p ms ($f failed)"
	done
done

echo
echo "DNS from inside a container on the task network: dnsload -c $CLIENTS -d $DURATION ($RUNS runs, medians; $(nproc) cores, engine $(docker version --format '{{.Server.Version}}'))"
printf '%-34s %10s %10s\n' case "queries/s" "p99 ms"
for c in "${CASES[@]}"; do
	case $c in
	embedded) label="service name, via embedded DNS" ;;
	direct) label="service name, sw server direct" ;;
	baseline) label="container name, embedded DNS only" ;;
	esac
	# shellcheck disable=SC2086
	printf '%-34s %10.0f %10.3f\n' "$label" "$(median ${QPS[$c]})" "$(median ${P99[$c]})"
done
echo "per run q/s: embedded ${QPS[embedded]}| direct ${QPS[direct]}| baseline ${QPS[baseline]}"
