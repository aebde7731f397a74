#!/usr/bin/env bash
# bench-create.sh: how long `sw service create --replicas N` takes until N
# tasks are RUNNING, next to starting the same N containers directly through
# the Docker Engine API in parallel (scripts/benchdirect), on the same task
# network with the same name server, in the same run.
#
#   scripts/bench-create.sh                 N = 3 10 30, 5 runs each
#   RUNS=3 NS="10 30" scripts/bench-create.sh
#
# Environment:
#   RUNS      runs per N and per side (default 5); medians are reported
#   NS        replica counts (default "3 10 30")
#   BENCH_IP  loopback address for the sw daemon (default 127.0.0.77)
#   IMAGE     image to run (default sw-demo:latest, built locally)
#   KEEP_LOG  if set, the daemon log is copied to this path at the end
#   INIT_FLAGS extra `sw swarm init` flags, e.g. "--no-plugin dns" to measure a plugin's cost
#   BENCH_SW  an sw binary to measure instead of building this tree's
#             (scripts/bench-before-after.sh uses it)
#
# For every N, sw and direct runs alternate (which goes first flips every
# run) so drift on the engine affects both. The sw time runs from
# `sw service create -d` until `sw service ls` (polled every 20 ms) shows
# N/N tasks RUNNING (not `create` without -d, whose last second is its
# stability check); afterwards the script checks that `service ls` says N/N and that
# N task containers run, then removes the service and waits until its
# containers are gone (outside the timing). The direct time is what
# benchdirect prints: first ContainerCreate until the last ContainerStart
# returned. Exits non-zero if any run fails. Target: sw <= 1.3x direct at
# N = 30 (reported, not enforced by the exit status).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh
source scripts/lib/daemon.sh

RUNS=${RUNS:-5}
NS=${NS:-"3 10 30"}
BENCH_IP=${BENCH_IP:-127.0.0.77}
IMAGE=${IMAGE:-sw-demo:latest}
TARGET=1.3
unset SW_HOST SW_DATA_DIR SW_HOSTNAME SW_INGRESS_ADDR SW_LOG_LEVEL

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench-create: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }
for n in $NS; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench-create: NS must hold positive integers, got '$n'" >&2; exit 2; }
done

require_engine

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-create.XXXXXX")
SOCK="$WORK/sw.sock"
SW="$WORK/sw"
DIRECT="$WORK/benchdirect"
DLOG="$WORK/daemon.log"
DIRECT_LABEL="com.sw.bench=direct-$$"
DAEMON_PID=""
NODE_ID=""

log() { printf '%s\n' "$*" >&2; }

sw() { "$SW" -H "unix://$SOCK" "$@"; }

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	remove_labeled "$DIRECT_LABEL"
	finish_single_node "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	log "bench-create: FAIL: $*"
	exit 1
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }

# wait_gone SERVICE: until no container of the service is left (60 s max)
wait_gone() {
	local deadline=$((SECONDS + 60))
	while [ -n "$(docker ps -aq --filter "label=com.sw.node.id=$NODE_ID" --filter "label=com.sw.service.name=$1")" ]; do
		((SECONDS < deadline)) || fail "containers of service $1 still there 60 s after service rm"
		sleep 0.2
	done
}

# settle: let the engine finish tearing down (network endpoints, shims)
# before the next timed run; same for both sides.
settle() { sleep 1; }

# Other users of the engine add noise; note the most containers seen running
# that are not this benchmark's, sampled before each timed run.
FOREIGN_MAX=0
note_foreign() {
	local c
	c=$(docker ps -q | wc -l)
	((c > FOREIGN_MAX)) && FOREIGN_MAX=$c
	return 0
}

log "== building sw and benchdirect"
if [ -n "${BENCH_SW:-}" ]; then
	cp "$BENCH_SW" "$SW"
else
	go build -o "$SW" .
fi
go build -o "$DIRECT" ./scripts/benchdirect
if [ "$IMAGE" = sw-demo:latest ]; then
	log "== building the demo image"
	build_demo_image "$IMAGE" >/dev/null
fi
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "image $IMAGE is not on the engine"

log "== starting the sw daemon on $BENCH_IP (work dir $WORK)"
# shellcheck disable=SC2086 # INIT_FLAGS is a list of flags
start_single_node bench-create "$BENCH_IP" ${INIT_FLAGS:-} || fail "starting the daemon"
# The direct side starts its containers the way sw's tasks are: on the
# swarm's task network, with its name server.
CLUSTER=$(sw info --format '{{.ClusterID}}')
TASK_NET="sw_${CLUSTER:0:12}"
TASK_DNS=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$TASK_NET") || fail "no task network $TASK_NET"

# Warm-up, untimed: the first create pays for things no later run does
# (first raft entries of the service tables, first image inspect, ...).
log "== warm-up (untimed)"
sw service create --name bench-warmup --replicas 1 "$IMAGE" >/dev/null || fail "warm-up service create"
sw service rm bench-warmup >/dev/null || fail "warm-up service rm"
wait_gone bench-warmup
"$DIRECT" -n 1 -image "$IMAGE" -label "$DIRECT_LABEL" -network "$TASK_NET" -dns "$TASK_DNS" >/dev/null || fail "warm-up benchdirect"
settle

# run_sw N R: one timed sw run; prints its seconds
run_sw() {
	local n=$1 r=$2 name="bench-$1-$2" t0 t1 out reps running
	t0=$(now)
	if ! out=$(sw service create -d --name "$name" --replicas "$n" "$IMAGE" 2>&1); then
		log "$out"
		fail "sw service create --replicas $n (run $r) exited non-zero"
	fi
	reps=""
	for _ in $(seq 3000); do
		reps=$(sw service ls --filter "name=$name" --format '{{.Replicas}}')
		[ "$reps" = "$n/$n" ] && break
		sleep 0.02
	done
	t1=$(now)
	running=$(docker ps -q --filter "label=com.sw.node.id=$NODE_ID" --filter "label=com.sw.service.name=$name" | wc -l)
	if [ "$reps" != "$n/$n" ] || [ "$running" -ne "$n" ]; then
		log "$out"
		fail "sw run N=$n #$r: service ls says '$reps' and $running containers run; want $n/$n and $n"
	fi
	sw service rm "$name" >/dev/null || fail "sw service rm $name"
	wait_gone "$name"
	elapsed "$t0" "$t1"
}

# run_direct N R: one timed direct run; prints its seconds
run_direct() {
	local out
	out=$("$DIRECT" -n "$1" -image "$IMAGE" -label "$DIRECT_LABEL" -network "$TASK_NET" -dns "$TASK_DNS") || fail "benchdirect -n $1 (run $2) failed"
	[[ $out =~ ^[0-9]+\.[0-9]+$ ]] || fail "benchdirect -n $1 printed '$out'"
	printf '%s\n' "$out"
}

declare -A SW_RUNS DIRECT_RUNS
for n in $NS; do
	log "== N=$n"
	sw_t=() direct_t=()
	for r in $(seq "$RUNS"); do
		note_foreign
		if ((r % 2)); then
			s=$(run_sw "$n" "$r"); settle
			d=$(run_direct "$n" "$r"); settle
		else
			d=$(run_direct "$n" "$r"); settle
			s=$(run_sw "$n" "$r"); settle
		fi
		sw_t+=("$s") direct_t+=("$d")
		log "   run $r: sw ${s}s  direct ${d}s"
	done
	SW_RUNS[$n]="${sw_t[*]}"
	DIRECT_RUNS[$n]="${direct_t[*]}"
done

echo
echo "sw service create vs direct Docker API start ($RUNS runs per N, medians; $(nproc) cores, engine $(docker version --format '{{.Server.Version}}'))"
printf '%-4s %10s %14s %7s   %-s\n' N "sw (s)" "direct (s)" ratio "per run: sw | direct"
missed=""
for n in $NS; do
	# shellcheck disable=SC2086
	sm=$(median ${SW_RUNS[$n]})
	# shellcheck disable=SC2086
	dm=$(median ${DIRECT_RUNS[$n]})
	ratio=$(awk -v a="$sm" -v b="$dm" 'BEGIN { printf "%.2f\n", a / b }')
	printf '%-4s %10s %14s %7s   %s | %s\n' "$n" "$sm" "$dm" "${ratio}x" "${SW_RUNS[$n]}" "${DIRECT_RUNS[$n]}"
	if [ "$n" = 30 ]; then
		if awk -v r="$ratio" -v t="$TARGET" 'BEGIN { exit !(r <= t) }'; then
			missed="no"
		else
			missed="yes"
		fi
	fi
done
if ((FOREIGN_MAX > 0)); then
	echo "note: up to $FOREIGN_MAX other containers were running on the engine before a timed run (noise)"
fi
case $missed in
no) echo "target sw <= ${TARGET}x direct at N=30: met" ;;
yes) echo "target sw <= ${TARGET}x direct at N=30: MISSED" ;;
esac
