#!/usr/bin/env bash
# bench-mesh.sh: requests/s and p99 latency through the routing mesh (a
# published port on the node: kernel DNAT, with loadbalancer/'s userspace
# proxy behind it; SW_INGRESS_USERSPACE=1 measures the proxy alone)
# next to straight to the one task container's own address on the Docker
# bridge, in the same run, with wrk.
#
#   scripts/bench-mesh.sh                    RUNS=3, wrk -t2 -c32 -d5s
#   RUNS=5 DURATION=10s scripts/bench-mesh.sh
#
# Environment:
#   RUNS      runs per case and per side (default 3); medians are reported
#   THREADS   wrk threads (default 2)
#   CONNS     wrk connections (default 32)
#   DURATION  wrk duration per run (default 5s)
#   BENCH_IP  loopback address for the sw daemon and its ingress (default 127.0.9.1)
#   PORT      published port (default 9080)
#   IMAGE     image to run (default sw-demo:latest, built locally; must answer HTTP on 8080)
#   KEEP_LOG  if set, the daemon log is copied to this path at the end
#
# The service has 1 replica, so the mesh and the direct side hit the same
# single backend. Cases: keep-alive (wrk's default) and new connection per
# request (wrk -H 'Connection: close'). For every case, mesh and direct runs
# alternate (which goes first flips every run) with a 1 s pause after each;
# one short untimed warm-up of each side runs first. Needs wrk (Debian
# package `wrk`): installed with apt-get when missing and run as root.
# Exits non-zero if a run fails or wrk sees non-2xx answers. Target: mesh
# >= 0.8x direct req/s with keep-alive (reported, not enforced by the exit
# status).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh
source scripts/lib/daemon.sh

RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-5s}
BENCH_IP=${BENCH_IP:-127.0.9.1}
PORT=${PORT:-9080}
IMAGE=${IMAGE:-sw-demo:latest}
SERVICE=bench-mesh
TARGET=0.8
unset SW_HOST SW_DATA_DIR SW_HOSTNAME SW_INGRESS_ADDR SW_LOG_LEVEL

log() { printf '%s\n' "$*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { log "bench-mesh: RUNS must be a positive integer, got '$RUNS'"; exit 2; }
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || { log "bench-mesh: THREADS must be a positive integer, got '$THREADS'"; exit 2; }
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || { log "bench-mesh: CONNS must be a positive integer, got '$CONNS'"; exit 2; }
[[ $PORT =~ ^[1-9][0-9]*$ ]] || { log "bench-mesh: PORT must be a port number, got '$PORT'"; exit 2; }
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || { log "bench-mesh: DURATION must look like 5s, got '$DURATION'"; exit 2; }

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "== installing wrk (apt-get)"
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >&2; then
			log "bench-mesh: apt-get install wrk failed"
			exit 1
		fi
	else
		log "bench-mesh: wrk not found; install it (Debian/Ubuntu: sudo apt-get install wrk) or run this script as root"
		exit 1
	fi
fi
command -v wrk >/dev/null 2>&1 || { log "bench-mesh: wrk still not found after install"; exit 1; }

require_engine

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-mesh.XXXXXX")
SOCK="$WORK/sw.sock"
SW="$WORK/sw"
DLOG="$WORK/daemon.log"
DAEMON_PID=""
NODE_ID=""

sw() { "$SW" -H "unix://$SOCK" "$@"; }

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	finish_single_node "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	log "bench-mesh: FAIL: $*"
	exit 1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }'; }

# wait_answer URL: until URL answers "hello from" (30 s max)
wait_answer() {
	local deadline=$((SECONDS + 30)) out
	while :; do
		out=$(curl -s --max-time 2 "$1" 2>/dev/null || true)
		[[ $out == *"hello from"* ]] && return 0
		((SECONDS < deadline)) || fail "$1 did not answer 'hello from ...' within 30 s (last answer: '$out')"
		sleep 0.2
	done
}

# run_wrk CASE URL: one wrk run; prints "REQ_PER_S P99_MS" (fails on errors
# that mean the numbers are not about served requests)
run_wrk() {
	local case=$1 url=$2 out rps p99 args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
	[ "$case" = close ] && args+=(-H 'Connection: close')
	out=$(wrk "${args[@]}" "$url" 2>&1) || { log "$out"; fail "wrk $case $url exited non-zero"; }
	if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
		log "$out"
		fail "wrk $case $url got non-2xx answers"
	fi
	if grep -q 'Socket errors' <<<"$out"; then
		# with Connection: close wrk may count the peer's close as a read
		# error; keep the run, but show the line
		log "   ($case $url) $(grep 'Socket errors' <<<"$out" | sed 's/^ *//')"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p99=$(awk '$1 == "99%" {
		v = $2; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
		printf "%.3f\n", v }' <<<"$out")
	[[ $rps =~ ^[0-9.]+$ && $p99 =~ ^[0-9.]+$ ]] || { log "$out"; fail "could not read req/s and p99 from wrk ($case $url)"; }
	printf '%s %s\n' "$rps" "$p99"
}

settle() { sleep 1; }

FOREIGN_MAX=0
note_foreign() { # other containers on the engine add noise; note the most seen
	local c
	c=$(docker ps -q | wc -l)
	c=$((c - 1)) # the task container
	((c > FOREIGN_MAX)) && FOREIGN_MAX=$c
	return 0
}

log "== building sw"
go build -o "$SW" .
if [ "$IMAGE" = sw-demo:latest ]; then
	log "== building the demo image"
	build_demo_image "$IMAGE" >/dev/null
fi
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "image $IMAGE is not on the engine"

log "== starting the sw daemon on $BENCH_IP (work dir $WORK)"
start_single_node bench-mesh "$BENCH_IP" || fail "starting the daemon"

log "== sw service create --name $SERVICE --replicas 1 -p $PORT:8080 $IMAGE"
sw service create --name "$SERVICE" --replicas 1 -p "$PORT:8080" "$IMAGE" >/dev/null || fail "service create"
CIDS=$(docker ps -q --filter "label=com.sw.node.id=$NODE_ID" --filter "label=com.sw.service.name=$SERVICE")
[ "$(wc -w <<<"$CIDS")" -eq 1 ] || fail "want exactly 1 running task container, found: '$CIDS'"
TASK_IP=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$CIDS")
[[ $TASK_IP =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "task container $CIDS has no single bridge IP (got '$TASK_IP')"

MESH_URL="http://$BENCH_IP:$PORT/"
DIRECT_URL="http://$TASK_IP:8080/"
wait_answer "$MESH_URL"
wait_answer "$DIRECT_URL"
log "   mesh   $MESH_URL -> $(curl -s "$MESH_URL")"
log "   direct $DIRECT_URL -> $(curl -s "$DIRECT_URL")"

log "== warm-up (untimed)"
for u in "$MESH_URL" "$DIRECT_URL"; do
	wrk -t"$THREADS" -c"$CONNS" -d1s "$u" >/dev/null 2>&1 || fail "warm-up wrk $u"
done
settle

CASES="keepalive close"
declare -A RPS P99
for c in $CASES; do
	log "== case $c"
	for r in $(seq "$RUNS"); do
		note_foreign
		if ((r % 2)); then
			m=$(run_wrk "$c" "$MESH_URL"); settle
			d=$(run_wrk "$c" "$DIRECT_URL"); settle
		else
			d=$(run_wrk "$c" "$DIRECT_URL"); settle
			m=$(run_wrk "$c" "$MESH_URL"); settle
		fi
		RPS[$c,mesh]+="${m% *} " P99[$c,mesh]+="${m#* } "
		RPS[$c,direct]+="${d% *} " P99[$c,direct]+="${d#* } "
		log "   run $r: mesh ${m% *} req/s p99 ${m#* } ms   direct ${d% *} req/s p99 ${d#* } ms"
	done
done

echo
echo "routing mesh vs straight to the task: wrk -t$THREADS -c$CONNS -d$DURATION --latency, 1 replica ($RUNS runs per side, medians; $(nproc) cores, engine $(docker version --format '{{.Server.Version}}'), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'))"
printf '%-10s %12s %12s %7s   %10s %10s %7s\n' case "mesh req/s" "direct req/s" ratio "mesh p99" "direct p99" ratio
missed=""
for c in $CASES; do
	# shellcheck disable=SC2086
	mr=$(median ${RPS[$c,mesh]})
	# shellcheck disable=SC2086
	dr=$(median ${RPS[$c,direct]})
	# shellcheck disable=SC2086
	mp=$(median ${P99[$c,mesh]})
	# shellcheck disable=SC2086
	dp=$(median ${P99[$c,direct]})
	rr=$(ratio "$mr" "$dr")
	pr=$(ratio "$mp" "$dp")
	printf '%-10s %12.0f %12.0f %7s   %8.2fms %8.2fms %7s\n' "$c" "$mr" "$dr" "${rr}x" "$mp" "$dp" "${pr}x"
	if [ "$c" = keepalive ]; then
		if awk -v r="$rr" -v t="$TARGET" 'BEGIN { exit !(r >= t) }'; then missed=no; else missed=yes; fi
	fi
done
echo "per run (req/s | p99 ms):"
for c in $CASES; do
	echo "  $c mesh:   ${RPS[$c,mesh]}| ${P99[$c,mesh]}"
	echo "  $c direct: ${RPS[$c,direct]}| ${P99[$c,direct]}"
done
if ((FOREIGN_MAX > 0)); then
	echo "note: up to $FOREIGN_MAX other containers were running on the engine before a run (noise)"
fi
case $missed in
no) echo "target mesh >= ${TARGET}x direct req/s with keep-alive: met" ;;
yes) echo "target mesh >= ${TARGET}x direct req/s with keep-alive: MISSED" ;;
esac
