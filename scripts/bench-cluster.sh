#!/usr/bin/env bash
# bench-cluster.sh: how a local multi-node swarm (scripts/cluster.sh: every
# node a separate `sw daemon` on a loopback address) copes with losing its
# leader and with losing a worker, and how much memory an idle daemon holds.
#
#   scripts/bench-cluster.sh              RUNS=5 of each; ~3 min
#   RUNS=3 scripts/bench-cluster.sh
#
# Environment:
#   RUNS            runs of each timed scenario (default 5); median, min, max reported
#   WORKERS         workers next to the 3 managers (default 1)
#   REPLICAS        replicas of the node-loss service (default 6)
#   TIMEOUT         seconds one run (or one wait between runs) may take (default 60)
#   IDLE            seconds the cluster idles before memory is read (default 10)
#   SW_CLUSTER_DIR  the cluster's directory (default /tmp/sw-bench-cluster)
#   SW_CLUSTER_NET  its loopback /24 prefix (default 127.0.4)
#   KEEP_LOGS       if set, the daemon logs are kept in $SW_CLUSTER_DIR/logs
#                   (they always are when the script fails)
#   BENCH_SW        an sw binary to measure instead of building this tree's
#                   (scripts/bench-before-after.sh uses it)
#
# 1. Leader failover (3 managers): find the leader (`info {{.LeaderID}}`
#    against each node's `{{.NodeID}}`), SIGKILL its daemon
#    (`cluster.sh kill N`) and time, from just before the kill, until a
#    surviving manager reports another leader AND a write through it
#    succeeds (`service scale -d bench-fo=K`, K alternating 1/2; polled every
#    50 ms). Also noted: when the survivor first named a new leader, and when
#    `node ls` marked the dead manager Down. Then the node is started again
#    and the next run waits until it is Ready/Reachable and follows the new
#    leader. Target < 3 s.
# 2. Node loss: a service with REPLICAS replicas spread over all nodes (a new
#    service each run, so the worker always holds some of them); SIGKILL the
#    worker's daemon and time until `service ps -f desired-state=running` on
#    the leader (polled every 100 ms) lists REPLICAS tasks, all Running, none
#    on the dead worker. Also noted: when `node ls` marked it Down. Then the
#    service is removed, the worker started again, and the next run waits
#    until it is Ready and has removed its orphaned containers. Target < 10 s.
# 3. Idle memory: VmRSS of every daemon (pids in $SW_CLUSTER_DIR/nodeN/pid)
#    after IDLE seconds with no services — once on the fresh cluster, once
#    after the timed runs (services removed, killed nodes restarted).
#
# Exits non-zero if any run or wait fails (each has TIMEOUT); the targets are
# reported, not enforced by the exit status. The cluster is torn down on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh
source scripts/lib/daemon.sh

RUNS=${RUNS:-5}
WORKERS=${WORKERS:-1}
REPLICAS=${REPLICAS:-6}
TIMEOUT=${TIMEOUT:-60}
IDLE=${IDLE:-10}
MANAGERS=3
IMAGE=sw-demo:latest
FAILOVER_TARGET=3
LOSS_TARGET=10
export SW_CLUSTER_DIR=${SW_CLUSTER_DIR:-/tmp/sw-bench-cluster}
export SW_CLUSTER_NET=${SW_CLUSTER_NET:-127.0.4}
unset SW_HOST SW_BIN SW_DATA_DIR SW_HOSTNAME SW_INGRESS_ADDR SW_LOG_LEVEL
DIR=$SW_CLUSTER_DIR
SW=$DIR/bin/sw
if [ -n "${BENCH_SW:-}" ]; then
	export SW_BIN=$BENCH_SW # cluster.sh runs it instead of building
	SW=$BENCH_SW
fi
TOTAL=$((MANAGERS + WORKERS))

for v in RUNS WORKERS REPLICAS TIMEOUT IDLE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench-cluster: $v must be a non-negative integer, got '${!v}'" >&2; exit 2; }
done
((RUNS >= 1 && WORKERS >= 1 && REPLICAS >= 1 && TIMEOUT >= 1)) ||
	{ echo "bench-cluster: RUNS, WORKERS, REPLICAS and TIMEOUT must be at least 1" >&2; exit 2; }

require_engine

log() { printf '%s\n' "$*" >&2; }

UP=""
cleanup() {
	local rc=$? n
	set +e
	trap - EXIT INT TERM
	if [ -n "$UP" ]; then
		if ((rc != 0)) || [ -n "${KEEP_LOGS:-}" ]; then
			mkdir -p "$DIR/logs"
			for n in $(seq "$TOTAL"); do
				[ -f "$DIR/node$n/daemon.log" ] && cp "$DIR/node$n/daemon.log" "$DIR/logs/node$n.log"
			done
			log "daemon logs kept in $DIR/logs"
		fi
		if ((rc != 0)); then
			for n in $(seq "$TOTAL"); do
				[ -f "$DIR/node$n/daemon.log" ] || continue
				log "--- last lines of node $n's daemon log:"
				tail -n 15 "$DIR/node$n/daemon.log" >&2
			done
		fi
		scripts/cluster.sh down >/dev/null 2>&1 || log "cluster.sh down failed"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	log "bench-cluster: FAIL: $*"
	exit 1
}

now() { printf '%s\n' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }
# utc EPOCHREALTIME: the time as the daemon logs print it, to find a run in them
utc() { date -u -d "@$1" +%H:%M:%S.%3N; }

# min / max of the arguments (median: scripts/lib/daemon.sh)
minof() { printf '%s\n' "$@" | sort -g | head -n1; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n1; }

host() { echo "unix://$DIR/node$1/sw.sock"; }
# swn N ARGS...: the CLI against node N; a call that hangs counts as failed
swn() { local n=$1; shift; timeout 10 "$SW" -H "$(host "$n")" "$@"; }
name_of() { cat "$DIR/node$1/name"; }

declare -a NODE_ID
# node_index ID: the node number whose ID that is
node_index() {
	local n
	for n in $(seq "$TOTAL"); do [ "${NODE_ID[$n]}" = "$1" ] && { echo "$n"; return 0; }; done
	return 1
}

# stable_leader: waits until every manager answers with the same leader;
# prints that leader's node number.
stable_leader() {
	local deadline=$((SECONDS + TIMEOUT)) n l first ok
	while ((SECONDS < deadline)); do
		first="" ok=1
		for n in $(seq "$MANAGERS"); do
			l=$(swn "$n" info --format '{{.LeaderID}}' 2>/dev/null) || { ok=0; break; }
			[ -n "$l" ] || { ok=0; break; }
			[ -z "$first" ] && first=$l
			[ "$l" = "$first" ] || { ok=0; break; }
		done
		if ((ok)) && node_index "$first"; then return 0; fi
		sleep 0.1
	done
	fail "the managers did not agree on a leader within ${TIMEOUT}s"
}

# node_state VIA N: "STATUS MANAGERSTATUS" of node N as `node ls` on node VIA shows it
node_state() {
	swn "$1" node ls --format '{{.ID}} {{.Status}} {{.ManagerStatus}}' 2>/dev/null |
		awk -v id="${NODE_ID[$2]}" '$1 == id { print $2, $3 }'
}

# wait_state VIA N PATTERN: until node N's state on VIA matches the regex
wait_state() {
	local deadline=$((SECONDS + TIMEOUT)) s=""
	while ((SECONDS < deadline)); do
		s=$(node_state "$1" "$2")
		[[ $s =~ $3 ]] && return 0
		sleep 0.1
	done
	fail "node $2 ($(name_of "$2")) is '$s' on node $1 after ${TIMEOUT}s; wanted /$3/"
}

# running_ok VIA SERVICE WANT DEAD: service ps on VIA lists WANT tasks
# desired running, all Running, none on the node named DEAD
running_ok() {
	local out
	out=$(swn "$1" service ps "$2" -f desired-state=running --format '{{.Node}} {{.CurrentState}}' 2>/dev/null) || return 1
	awk -v want="$3" -v dead="$4" '
		{ n++; if ($2 != "Running" || $1 == dead || $1 == "") bad = 1 }
		END { exit !(n == want && !bad) }' <<<"$out"
}

# wait_running VIA SERVICE WANT: until running_ok (no dead node)
wait_running() {
	local deadline=$((SECONDS + TIMEOUT))
	while ((SECONDS < deadline)); do
		running_ok "$1" "$2" "$3" "" && return 0
		sleep 0.1
	done
	fail "service $2 did not reach $3 running tasks within ${TIMEOUT}s"
}

# wait_no_containers NODE SERVICE: until the engine holds no container of
# SERVICE labelled with NODE's ID
wait_no_containers() {
	local deadline=$((SECONDS + TIMEOUT)) c
	while ((SECONDS < deadline)); do
		c=$(docker ps -aq --filter "label=com.sw.node.id=${NODE_ID[$1]}" --filter "label=com.sw.service.name=$2" | wc -l)
		((c == 0)) && return 0
		sleep 0.2
	done
	fail "$c container(s) of service $2 on node $1 ($(name_of "$1")) still exist ${TIMEOUT}s later"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(cat "$DIR/node$1/pid")/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f\n", k / 1024 }'; }

# memory LABEL: prints one line per node, sets MEM_LEADER / MEM_FOLLOWER / MEM_WORKER (MiB)
memory() {
	local leader follower="" n kb role
	leader=$(stable_leader)
	for n in $(seq "$MANAGERS"); do [ "$n" != "$leader" ] && [ -z "$follower" ] && follower=$n; done
	log "== idle memory ($1): VmRSS per daemon"
	for n in $(seq "$TOTAL"); do
		kb=$(rss_kb "$n") || fail "cannot read VmRSS of node $n"
		if [ "$n" = "$leader" ]; then role="manager, leader"
		elif ((n <= MANAGERS)); then role="manager, follower"
		else role="worker"; fi
		log "   node $n $(name_of "$n") ($role): $(mib "$kb") MiB"
	done
	MEM_LEADER=$(mib "$(rss_kb "$leader")")
	MEM_FOLLOWER=$(mib "$(rss_kb "$follower")")
	MEM_WORKER=$(mib "$(rss_kb $((MANAGERS + 1)))")
}

FOREIGN_MAX=0
note_foreign() { # most containers seen on the engine that are not this cluster's
	local all ours=0 n
	all=$(docker ps -q | wc -l)
	for n in $(seq "$TOTAL"); do
		ours=$((ours + $(docker ps -q --filter "label=com.sw.node.id=${NODE_ID[$n]}" | wc -l)))
	done
	((all - ours > FOREIGN_MAX)) && FOREIGN_MAX=$((all - ours))
	return 0
}

T_START=$SECONDS
log "== building the demo image"
build_demo_image "$IMAGE" >/dev/null
log "== starting $MANAGERS managers + $WORKERS worker(s) in $DIR on $SW_CLUSTER_NET.x (builds sw)"
UP=1
scripts/cluster.sh up "$MANAGERS" "$WORKERS" >/dev/null || fail "cluster.sh up"
for n in $(seq "$TOTAL"); do
	NODE_ID[n]=$(swn "$n" info --format '{{.NodeID}}') || fail "info on node $n"
	[ -n "${NODE_ID[n]}" ] || fail "node $n has no node ID"
done
for n in $(seq "$TOTAL"); do wait_state 1 "$n" '^Ready'; done

# --- 3 (first half). Idle memory on the fresh cluster.
sleep "$IDLE"
memory "fresh cluster, ${IDLE}s idle"
MEM_FRESH=("$MEM_LEADER" "$MEM_FOLLOWER" "$MEM_WORKER")

# --- 1. Leader failover.
log "== leader failover ($RUNS runs)"
leader=$(stable_leader)
swn "$leader" service create -d --name bench-fo --replicas 1 "$IMAGE" >/dev/null || fail "create bench-fo"
wait_running "$leader" bench-fo 1
FO_WRITE=() FO_LEADER=() FO_DOWN=()
for r in $(seq "$RUNS"); do
	note_foreign
	leader=$(stable_leader)
	old=${NODE_ID[$leader]}
	survivor=1
	[ "$leader" = 1 ] && survivor=2
	k=$((r % 2 + 1))
	t0=$(now)
	scripts/cluster.sh kill "$leader"
	t_leader="" t_write=""
	deadline=$((SECONDS + TIMEOUT))
	while ((SECONDS < deadline)); do
		l=$(swn "$survivor" info --format '{{.LeaderID}}' 2>/dev/null) || l=""
		if [ -n "$l" ] && [ "$l" != "$old" ]; then
			[ -z "$t_leader" ] && t_leader=$(since "$t0")
			if swn "$survivor" service scale -d "bench-fo=$k" >/dev/null 2>&1; then
				t_write=$(since "$t0")
				break
			fi
		fi
		sleep 0.05
	done
	[ -n "$t_write" ] || fail "failover run $r: no new leader and successful write on node $survivor within ${TIMEOUT}s of killing node $leader"
	got=$(swn "$survivor" service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' bench-fo) || fail "inspect bench-fo"
	[ "$got" = "$k" ] || fail "failover run $r: scale to $k succeeded but the service has $got replicas"
	newl=$(node_index "$l") || fail "failover run $r: unknown new leader $l"
	# untimed: when does node ls mark the dead manager down?
	t_down=""
	while ((SECONDS < deadline)); do
		s=$(node_state "$survivor" "$leader")
		if [[ $s == Down* ]]; then t_down=$(since "$t0"); break; fi
		sleep 0.1
	done
	[ -n "$t_down" ] || fail "failover run $r: node $leader not marked Down within ${TIMEOUT}s"
	FO_WRITE+=("$t_write") FO_LEADER+=("$t_leader") FO_DOWN+=("$t_down")
	log "   run $r: killed node $leader ($(name_of "$leader")) at $(utc "$t0") UTC; node $survivor saw leader node $newl at ${t_leader}s, write ok at ${t_write}s; node marked Down at ${t_down}s"
	# restart it and wait until it is back: Ready/Reachable, following the new leader
	scripts/cluster.sh start "$leader" || fail "restarting node $leader"
	wait_state "$survivor" "$leader" '^Ready Reachable$'
	back=$(stable_leader)
	[ "$back" = "$newl" ] || log "   note: leadership moved again after the restart (node $newl -> node $back)"
	sleep 1
done
leader=$(stable_leader)
swn "$leader" service rm bench-fo >/dev/null || fail "rm bench-fo"

# --- 2. Node loss.
log "== node loss ($RUNS runs, $REPLICAS replicas)"
LOSS_RUN=() LOSS_DOWN=()
for r in $(seq "$RUNS"); do
	w=$((MANAGERS + (r - 1) % WORKERS + 1))
	wname=$(name_of "$w")
	svc=bench-loss-$r
	leader=$(stable_leader)
	swn "$leader" service create -d --name "$svc" --replicas "$REPLICAS" "$IMAGE" >/dev/null || fail "create $svc"
	wait_running "$leader" "$svc" "$REPLICAS"
	on_w=$(swn "$leader" service ps "$svc" -f desired-state=running --format '{{.Node}}' | grep -cx "$wname" || true)
	((on_w > 0)) || fail "node loss run $r: no task of $svc on $wname; nothing to lose"
	note_foreign
	t0=$(now)
	scripts/cluster.sh kill "$w"
	t_done="" t_down=""
	deadline=$((SECONDS + TIMEOUT))
	while ((SECONDS < deadline)); do
		if running_ok "$leader" "$svc" "$REPLICAS" "$wname"; then t_done=$(since "$t0"); break; fi
		if [ -z "$t_down" ] && [[ $(node_state "$leader" "$w") == Down* ]]; then t_down=$(since "$t0"); fi
		sleep 0.1
	done
	[ -n "$t_done" ] || fail "node loss run $r: $svc not back to $REPLICAS running tasks off $wname within ${TIMEOUT}s"
	while [ -z "$t_down" ] && ((SECONDS < deadline)); do # rescheduled before we saw Down?
		[[ $(node_state "$leader" "$w") == Down* ]] && t_down=$(since "$t0")
		sleep 0.1
	done
	[ -n "$t_down" ] || fail "node loss run $r: $wname never marked Down"
	LOSS_RUN+=("$t_done") LOSS_DOWN+=("$t_down")
	log "   run $r: killed node $w ($wname, $on_w of $REPLICAS tasks) at $(utc "$t0") UTC; marked Down at ${t_down}s; $REPLICAS running elsewhere at ${t_done}s"
	# untimed: remove the service, bring the worker back, let it clean up
	swn "$leader" service rm "$svc" >/dev/null || fail "rm $svc"
	scripts/cluster.sh start "$w" || fail "restarting node $w"
	wait_state "$leader" "$w" '^Ready'
	for n in $(seq "$TOTAL"); do wait_no_containers "$n" "$svc"; done
	sleep 1
done

# --- 3 (second half). Idle memory after the runs.
sleep "$IDLE"
memory "after the runs, ${IDLE}s idle"
MEM_AFTER=("$MEM_LEADER" "$MEM_FOLLOWER" "$MEM_WORKER")

# --- Summary.
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v < t) print "met"; else print "MISSED" }'; }
row() { # row NAME TARGET VALUES...
	local name=$1 target=$2; shift 2
	local m
	m=$(median "$@")
	printf '%-34s %8s %8s %8s   %-8s %s\n' "$name" "$m" "$(minof "$@")" "$(maxof "$@")" \
		"$([ -n "$target" ] && echo "< ${target}: $(verdict "$m" "$target")" || echo "-")" "$*"
}
echo
echo "sw cluster benchmark: $MANAGERS managers + $WORKERS worker(s), $RUNS runs; $(nproc) cores, engine $(docker version --format '{{.Server.Version}}'); $((SECONDS - T_START)) s in all"
printf '%-34s %8s %8s %8s   %-8s %s\n' "seconds after kill -9" median min max target "per run"
row "failover: new leader seen" "" "${FO_LEADER[@]}"
row "failover: first write ok" "$FAILOVER_TARGET" "${FO_WRITE[@]}"
row "failover: dead manager Down" "" "${FO_DOWN[@]}"
row "node loss: worker Down" "" "${LOSS_DOWN[@]}"
row "node loss: $REPLICAS/$REPLICAS running elsewhere" "$LOSS_TARGET" "${LOSS_RUN[@]}"
echo
printf '%-34s %10s %10s %10s\n' "idle VmRSS (MiB)" leader follower worker
printf '%-34s %10s %10s %10s\n' "fresh cluster" "${MEM_FRESH[@]}"
printf '%-34s %10s %10s %10s\n' "after the runs" "${MEM_AFTER[@]}"
if ((FOREIGN_MAX > 0)); then
	echo "note: up to $FOREIGN_MAX other containers were running on the engine during a timed run (noise)"
fi
