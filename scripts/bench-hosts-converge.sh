#!/usr/bin/env bash
# bench-hosts-converge.sh: converging a service of N replicas over 3 hosts
# of the test bed (scripts/hosts.sh) next to starting the same number of
# containers straight on the 3 engines, in the same run.
#
#   scripts/bench-hosts-converge.sh              RUNS=5, N=30; ~2 min
#   RUNS=2 N=9 scripts/bench-hosts-converge.sh
#
# Environment:
#   RUNS       runs per side (default 5); medians are reported
#   N          replicas / containers, a multiple of 3 (default 30)
#   DOCKER_NET if 1, the docker side's containers join a user-defined bridge
#              network of their engine (`docker network create bench-conv`
#              on each, made before the runs), as sw's tasks do (theirs is
#              the swarm's, sw_<id>, with a fixed address each); default 0:
#              docker run's default bridge, as a user would type it
#   SW_TESTBED_ID  the bed (default 41: 198.18.41.0/24); refused if it is up already
#   SW_BIN     a prebuilt sw (default: built from this tree)
#   KEEP_LOGS  a directory: the hosts' sw and dockerd logs are copied there
#
# The bed: 3 hosts, `hosts.sh swarm` (3 managers), every engine with
# sw-demo:latest loaded.
#   sw:     `sw service create -q --name bench-conv-R --replicas N sw-demo:latest`
#           against host1's daemon, timed from just before the command until
#           it returns (the CLI waits for convergence: every task running
#           and still running after its 1 s verify window), then checked:
#           `sw service ps` lists N tasks Running, N/3 on each host.
#   docker: N `docker run -d sw-demo:latest` at once, N/3 against each
#           engine, timed from just before the first until the last has
#           returned (docker run -d returns once its container started),
#           then checked: N/3 running on each engine.
# Both sides also get a second figure that does not depend on how either
# CLI waits: from the same t0 to the latest State.StartedAt of the N
# containers (docker inspect on each engine; one clock, the machine's).
# The two sides alternate (the side that goes first flips every run), after
# one untimed warm-up of each; after every run the service is removed or
# the containers force-removed, and the next run waits until no container
# of it is left on any engine, then 2 s. Target: create -> N running,
# sw <= 1.3x docker: sw's time until its service ls reports N/N running
# (polled every 50 ms while the create command waits) against the docker
# side's wall time (reported, not enforced by the exit status); the CLI's
# own wall time, with its 1 s verify window, is reported next to it. The
# bed goes down on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
BENCH=bench-hosts-converge
BED_DEFAULT_ID=41
source scripts/lib/bed.sh

RUNS=${RUNS:-5}
N=${N:-30}
DOCKER_NET=${DOCKER_NET:-0}
IMAGE=sw-demo:latest
TARGET=1.3
HOSTS="1 2 3"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "RUNS must be a positive integer, got '$RUNS'"
if ! [[ $N =~ ^[1-9][0-9]*$ ]] || ((N % 3)); then fail "N must be a positive multiple of 3, got '$N'"; fi
PER=$((N / 3))

LOAD_START=$(loadavg)
bed_init
bed_up 3

# last_started LABEL T0_NS: prints (latest State.StartedAt of the
# containers with LABEL on the 3 engines) − T0_NS, in ns.
last_started() {
	local label=$1 t0=$2 i ids ts last=0 t
	for i in $HOSTS; do
		ids=$(dk "$i" ps -q --filter "label=$label")
		[ -n "$ids" ] || continue
		# shellcheck disable=SC2086
		ts=$(dk "$i" inspect -f '{{.State.StartedAt}}' $ids)
		while read -r t; do
			t=$(date -d "$t" +%s%N)
			((t > last)) && last=$t
		done <<<"$ts"
	done
	echo $((last - t0))
}

# sw_running NAME: whether sw service ls reports all N replicas running
sw_running() { [ "$(swc 1 service ls --format '{{.Name}} {{.Replicas}}' | awk -v n="$1" '$1 == n { print $2 }')" = "$N/$N" ]; }

# sw_run R: one sw run; prints "WALL_NS STARTED_NS RUNNING_NS". RUNNING
# is when `sw service ls`, polled every 50 ms while the create command
# waits, first reports N/N running: create -> N running as sw tells it,
# without the CLI's verify window.
sw_run() {
	local name=bench-conv-$1 t0 t1 t2="" ps i c started cpid
	t0=$(now_ns)
	swc 1 service create -q --name "$name" --replicas "$N" "$IMAGE" >/dev/null &
	cpid=$!
	for _ in $(seq 1200); do
		if sw_running "$name"; then t2=$(now_ns); break; fi
		sleep 0.05
	done
	wait "$cpid" || fail "sw service create $name"
	t1=$(now_ns)
	[ -n "$t2" ] || fail "$name: sw service ls never reported $N/$N running"
	ps=$(swc 1 service ps "$name" -f desired-state=running --format '{{.Node}} {{.CurrentState}}')
	c=$(grep -c ' Running' <<<"$ps" || true)
	[ "$c" -eq "$N" ] || fail "$name: service ps lists $c tasks Running, want $N: $ps"
	for i in $HOSTS; do
		c=$(grep -c "^host$i Running" <<<"$ps" || true)
		[ "$c" -eq "$PER" ] || fail "$name: $c tasks Running on host$i, want $PER"
		c=$(dk "$i" ps -q --filter "label=com.sw.service.name=$name" | wc -l)
		[ "$c" -eq "$PER" ] || fail "$name: host$i's engine runs $c of its containers, want $PER"
	done
	started=$(last_started "com.sw.service.name=$name" "$t0")
	echo "$((t1 - t0)) $started $((t2 - t0))"
}

sw_clean() {
	local name=bench-conv-$1
	swc 1 service rm "$name" >/dev/null || fail "sw service rm $name"
	# shellcheck disable=SC2086
	wait_for 120 "$name's containers gone from every engine" no_containers "com.sw.service.name=$name" $HOSTS
}

# docker_run R: one docker run; prints "WALL_NS STARTED_NS"
docker_run() {
	local label=bench-conv=d$1 t0 t1 i j c pids=() started bad=0
	t0=$(now_ns)
	for i in $HOSTS; do
		for j in $(seq "$PER"); do
			dk "$i" run -d "${NETARG[@]}" --label "$label" --name "bench-conv-d$1-$i-$j" "$IMAGE" >/dev/null &
			pids+=($!)
		done
	done
	for j in "${pids[@]}"; do wait "$j" || bad=$((bad + 1)); done
	t1=$(now_ns)
	((bad == 0)) || fail "$bad docker run -d failed"
	for i in $HOSTS; do
		c=$(dk "$i" ps -q --filter "label=$label" | wc -l)
		[ "$c" -eq "$PER" ] || fail "docker side: host$i runs $c containers, want $PER"
	done
	started=$(last_started "$label" "$t0")
	echo "$((t1 - t0)) $started"
}

docker_clean() {
	local label=bench-conv=d$1 i
	for i in $HOSTS; do
		(dk "$i" ps -aq --filter "label=$label" | xargs -r env DOCKER_HOST="unix://$BED_RUN/h$i/docker.sock" docker rm -f >/dev/null) &
	done
	wait
	# shellcheck disable=SC2086
	wait_for 60 "docker side's containers gone" no_containers "$label" $HOSTS
}

NETARG=()
if [ "$DOCKER_NET" = 1 ]; then
	for i in $HOSTS; do dk "$i" network create bench-conv >/dev/null || fail "docker network create on host$i"; done
	NETARG=(--network bench-conv)
fi

log "== warm-up (untimed): one run of each side"
sw_run w >/dev/null
sw_clean w
docker_run w >/dev/null
docker_clean w
sleep 2

SW_WALL="" SW_START="" SW_RUN="" DK_WALL="" DK_START=""
for r in $(seq "$RUNS"); do
	order="sw docker"
	((r % 2)) || order="docker sw"
	line="   run $r:"
	for side in $order; do
		note_load
		if [ "$side" = sw ]; then
			read -r w st run <<<"$(sw_run "$r")"
			sw_clean "$r"
			SW_WALL+="$(secs "$w") " SW_START+="$(secs "$st") " SW_RUN+="$(secs "$run") "
			out="$w $st"
		else
			out=$(docker_run "$r")
			docker_clean "$r"
			DK_WALL+="$(secs "${out% *}") " DK_START+="$(secs "${out#* }") "
		fi
		line+=" $side $(secs "${out% *}") s (last started +$(secs "${out#* }") s)"
		sleep 2
	done
	log "$line   (load $(loadavg))"
done
LOAD_END=$(loadavg)

# shellcheck disable=SC2086
sw_w=$(median $SW_WALL) sw_s=$(median $SW_START) sw_r=$(median $SW_RUN) dk_w=$(median $DK_WALL) dk_s=$(median $DK_START)
rw=$(ratio "$sw_w" "$dk_w") rs=$(ratio "$sw_s" "$dk_s") rr=$(ratio "$sw_r" "$dk_w")
echo
netdesc="default bridge"
[ "$DOCKER_NET" = 1 ] && netdesc="a user-defined bridge network per engine"
echo "converge $N replicas over 3 hosts ($PER each): sw service create (CLI waits) vs $N parallel docker run -d ($PER per engine, $netdesc); $RUNS runs per side, medians, seconds"
echo "machine: $(machine)"
echo "load average (1/5/15 min): $LOAD_START before the bed came up, $LOAD_END at the end; 1-min at the runs' starts $(load_summary); other beds (other people's tests) up during the runs: $(beds_seen)"
printf '%-34s %8s %8s %7s   %-36s %s\n' measure sw docker ratio "sw per run" "docker per run"
printf '%-34s %8.3f %8.3f %6sx   %-36s %s\n' "command returned (wall)" "$sw_w" "$dk_w" "$rw" "$SW_WALL" "$DK_WALL"
printf '%-34s %8.3f %8.3f %6sx   %-36s %s\n' "last container started (StartedAt)" "$sw_s" "$dk_s" "$rs" "$SW_START" "$DK_START"
printf '%-34s %8.3f %8.3f %6sx   %-36s %s\n' "N running (sw ls / docker returned)" "$sw_r" "$dk_w" "$rr" "$SW_RUN" "$DK_WALL"
# The target is create -> N running: sw's as its own service ls reports
# it, against the docker side's last docker run -d returning (each
# returns once its container has started).
if awk -v r="$rr" -v t="$TARGET" 'BEGIN { exit !(r <= t) }'; then
	echo "target create -> $N running, sw <= ${TARGET}x docker: met"
else
	echo "target create -> $N running, sw <= ${TARGET}x docker: MISSED"
fi
if awk -v r="$rw" -v t="$TARGET" 'BEGIN { exit !(r <= t) }'; then
	echo "the CLI's wall time (with its 1 s verify window) is within ${TARGET}x too"
else
	echo "the CLI's wall time (with its 1 s verify window) is ${rw}x"
fi
