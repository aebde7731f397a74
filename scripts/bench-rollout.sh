#!/usr/bin/env bash
# bench-rollout.sh: how long a rolling update of N replicas takes with
# --update-parallelism P --update-delay 0, from `sw service update` until
# it returns (every task replaced and running, the rollout recorded
# complete), next to stopping and starting the same N containers directly
# through the Docker Engine API, P at a time (scripts/benchdirect
# -rolling P), on the same task network, in the same run. Then one
# start-first update of the same service while a client sends requests
# through its published port, one after another: how many failed.
#
#   scripts/bench-rollout.sh                 N=30, P=5, 5 runs per side
#   RUNS=3 N=10 scripts/bench-rollout.sh
#
# Environment:
#   RUNS      runs per side (default 5); medians are reported
#   N, P      replicas and parallelism (default 30 and 5)
#   MONITOR   the update's --update-monitor (default 0s: the timing ends
#             when the last task runs; Docker's default 5s adds its window
#             after the last batch)
#   BENCH_IP  loopback address for the sw daemon (default 127.0.0.78)
#   KEEP_LOG  if set, the daemon log is copied to this path at the end
#
# sw and direct runs alternate (which goes first flips every run). The sw
# side updates with --env-add RUN=<run> (a change of the task spec: every
# task is replaced, stop-first). Target: sw <= 1.3x direct, and 0 failed
# requests with start-first (reported, not enforced by the exit status).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh
source scripts/lib/daemon.sh

RUNS=${RUNS:-5}
N=${N:-30}
P=${P:-5}
MONITOR=${MONITOR:-0s}
BENCH_IP=${BENCH_IP:-127.0.0.78}
IMAGE=sw-demo:latest
TARGET=1.3
unset SW_HOST SW_DATA_DIR SW_HOSTNAME SW_INGRESS_ADDR SW_LOG_LEVEL

for v in RUNS N P; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-rollout: $v must be a positive integer, got '${!v}'" >&2; exit 2; }
done

require_engine

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-rollout.XXXXXX")
SOCK="$WORK/sw.sock"
SW="$WORK/sw"
DIRECT="$WORK/benchdirect"
DLOG="$WORK/daemon.log"
DIRECT_LABEL="com.sw.bench=rollout-$$"
DAEMON_PID=""
NODE_ID=""
CLIENT_PID=""

log() { printf '%s\n' "$*" >&2; }
sw() { "$SW" -H "unix://$SOCK" "$@"; }

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
	remove_labeled "$DIRECT_LABEL"
	finish_single_node "$rc"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	log "bench-rollout: FAIL: $*"
	exit 1
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
settle() { sleep 1; }

log "== building sw, benchdirect and the demo image"
go build -o "$SW" .
go build -o "$DIRECT" ./scripts/benchdirect
build_demo_image "$IMAGE" >/dev/null

log "== starting the sw daemon on $BENCH_IP (work dir $WORK)"
start_single_node bench-rollout "$BENCH_IP" || fail "starting the daemon"
PORT=18089
log "== creating the service: $N replicas, published on $BENCH_IP:$PORT"
sw service create -q --name roll --replicas "$N" -p "$PORT:8080" --update-parallelism "$P" --update-delay 0s \
	--update-monitor "$MONITOR" "$IMAGE" >/dev/null || fail "service create"
# The direct side starts its containers the way sw's tasks are: on the
# swarm's task network (made with the first task), with its name server.
CLUSTER=$(sw info --format '{{.ClusterID}}')
TASK_NET="sw_${CLUSTER:0:12}"
TASK_DNS=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$TASK_NET") || fail "no task network $TASK_NET"

# run_sw R: one timed update; prints its seconds
run_sw() {
	local r=$1 t0 t1 out state running
	t0=$(now)
	out=$(sw service update -q --env-add "RUN=$r" roll 2>&1) || { log "$out"; fail "sw service update (run $r) exited non-zero"; }
	t1=$(now)
	state=$(sw service inspect --format '{{.UpdateStatus.State}}' roll)
	running=$(sw service ps --filter desired-state=running --format '{{.CurrentState}}' roll | grep -c '^Running' || true)
	[ "$state" = completed ] && [ "$running" -eq "$N" ] ||
		fail "after run $r: update status '$state', $running of $N tasks running"
	elapsed "$t0" "$t1"
}

run_direct() {
	local out
	out=$("$DIRECT" -n "$N" -rolling "$P" -image "$IMAGE" -label "$DIRECT_LABEL" -network "$TASK_NET" -dns "$TASK_DNS") ||
		fail "benchdirect -rolling (run $1) failed"
	[[ $out =~ ^[0-9]+\.[0-9]+$ ]] || fail "benchdirect printed '$out'"
	printf '%s\n' "$out"
}

sw_t=() direct_t=()
for r in $(seq "$RUNS"); do
	if ((r % 2)); then
		s=$(run_sw "$r"); settle
		d=$(run_direct "$r"); settle
	else
		d=$(run_direct "$r"); settle
		s=$(run_sw "$r"); settle
	fi
	sw_t+=("$s") direct_t+=("$d")
	log "   run $r: sw ${s}s  direct ${d}s"
done

log "== a start-first update with requests through the published port"
URL="http://$BENCH_IP:$PORT/"
for _ in $(seq 100); do curl -fsS --max-time 1 -o /dev/null "$URL" && break; sleep 0.1; done
REQS="$WORK/requests"
(
	while :; do
		curl -sS --max-time 2 -o /dev/null -w '%{http_code}\n' "$URL" 2>/dev/null || echo fail
	done >"$REQS"
) &
CLIENT_PID=$!
sleep 1
sw service update -q --update-order start-first --env-add RUN=start-first roll >/dev/null || fail "start-first update"
sleep 1
kill "$CLIENT_PID" 2>/dev/null || true
wait "$CLIENT_PID" 2>/dev/null || true
CLIENT_PID=""
total=$(wc -l <"$REQS")
failed=$(grep -vc '^200$' "$REQS" || true)

sm=$(median "${sw_t[@]}")
dm=$(median "${direct_t[@]}")
ratio=$(awk -v a="$sm" -v b="$dm" 'BEGIN { printf "%.2f\n", a / b }')
echo
echo "rolling update of $N replicas, parallelism $P, delay 0, monitor $MONITOR, stop-first ($RUNS runs per side, medians; $(nproc) cores, engine $(docker version --format '{{.Server.Version}}'))"
printf '%-22s %8s   %s\n' "sw service update" "${sm}s" "${sw_t[*]}"
printf '%-22s %8s   %s\n' "direct stop+start x$P" "${dm}s" "${direct_t[*]}"
echo "ratio ${ratio}x"
if awk -v r="$ratio" -v t="$TARGET" 'BEGIN { exit !(r <= t) }'; then
	echo "target sw <= ${TARGET}x direct: met"
else
	echo "target sw <= ${TARGET}x direct: MISSED"
fi
echo "start-first update: $failed of $total requests through the published port failed (target 0: $([ "$failed" -eq 0 ] && echo met || echo MISSED))"
