#!/usr/bin/env bash
# bench-scale.sh: the control plane at scale, simulated on one machine.
# Three managers, each its own process running the real daemon (Raft
# over mutual TLS on loopback, store, orchestrator, scheduler, allocator,
# dispatcher, API socket) on a fake engine (scripts/benchscale manager),
# driven with the real sw CLI; NODES simulated workers (package
# cluster/simworker, in two processes: NODES-KILL and KILL of them), each
# joined through the peer API with its own certificate, following its
# own session, sending heartbeats, running its tasks with the real agent
# on a fake engine whose container starts take 50-200 ms. Every task
# state goes through the session protocol and Raft as a real worker's.
#
# Measured:
#   1. SERVICES services x REPLICAS replicas created (`service create -d`,
#      one after the other, on SERVICES networks of their own), timed from
#      the first create until `service ls` shows every replica running;
#      tasks started/s and task updates committed/s (the workers' counts:
#      containers started, status updates acknowledged);
#   2. `service ls` (every 0.5 s: it also tells when (1) is done) and
#      `service ps SERVICE` (every 10th poll: listing 10,000 tasks is
#      itself a load) latency during (1);
#   3. the leader's CPU seconds and peak RSS (VmHWM) over (1), and its
#      Raft data (log store, snapshots) at the end of (1);
#   4. the KILL workers' process SIGKILLed (hosts lost): time until those
#      nodes are Down and every service shows all replicas running again
#      (their tasks placed and running elsewhere);
#   5. the idle swarm: the leader's CPU over IDLE seconds.
#
#   scripts/bench-scale.sh                 RUNS=3 of NODES=1000 SERVICES=10 REPLICAS=10000 KILL=100; ~12 min
#   RUNS=1 NODES=100 SERVICES=2 REPLICAS=1000 KILL=10 IDLE=5 scripts/bench-scale.sh   a quick look
#
# Environment: RUNS (3; each on a swarm of its own; medians), NODES,
# SERVICES, REPLICAS, KILL (workers lost in 4), IDLE
# (seconds, default 30), MAXWAIT (seconds per phase, default 600),
# SW_BIN / SIM_BIN (prebuilt binaries), KEEP=DIR (keep the logs there),
# PROFILE=DIR (each manager's CPU profile there), RAFT_TIMEOUT (1s),
# SPREAD=false (every worker on the manager the swarm lists first, not
# spread over the three).
# Targets (issue 10): 100,000 tasks on 1,000 nodes all RUNNING in <= 60 s,
# leader peak RSS <= 1.5 GB, `service ls` median < 50 ms; 100 nodes lost ->
# their tasks running elsewhere in <= 15 s; idle leader CPU < 10 % of a
# core. Reported, not enforced by the exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/daemon.sh # median

NODES=${NODES:-1000}
SERVICES=${SERVICES:-10}
REPLICAS=${REPLICAS:-10000}
KILL=${KILL:-$((NODES / 10))}
IDLE=${IDLE:-30}
MAXWAIT=${MAXWAIT:-600}
# Raft's heartbeat and election timeout: hashicorp/raft's default (the
# daemon's own is 500 ms, for quick failover), since here three managers
# and a thousand workers share two cores, which a real swarm's managers
# do not.
RAFT_TIMEOUT=${RAFT_TIMEOUT:-1s}
for v in NODES SERVICES REPLICAS IDLE MAXWAIT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench-scale: $v must be a positive integer, got '${!v}'" >&2; exit 2; }
done
[[ $KILL =~ ^[0-9]+$ ]] && ((KILL < NODES)) || { echo "bench-scale: KILL must be 0..NODES-1, got '$KILL'" >&2; exit 2; }
((SERVICES <= 60 && REPLICAS <= 16000)) || { echo "bench-scale: at most 60 services of 16,000 replicas (one /18 network each)" >&2; exit 2; }
TOTAL=$((SERVICES * REPLICAS))
RUNS=${RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench-scale: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }

# RUNS > 1: each run is this script again on a swarm of its own (RUNS=1);
# then every figure's median, with the runs' values.
if ((RUNS > 1)); then
	out=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-scale-runs.XXXXXX")
	trap 'rm -rf "$out"' EXIT
	for r in $(seq "$RUNS"); do
		echo "== run $r of $RUNS" >&2
		RUNS=1 "$0" >"$out/run$r" || { cat "$out/run$r"; exit 1; }
		sed -n '/^scale simulation/,$p' "$out/run$r" >&2
	done
	echo
	sed -n '/^scale simulation/,/^machine/p' "$out/run1" | sed "1s/\$/; $RUNS runs, medians/"
	# Every figure line: "LABEL  VALUE REST"; the median of each run's first number.
	awk -v runs="$RUNS" '
		FNR == 1 { f++ }
		/^scale simulation|^machine/ { next }
		NF >= 2 && match($0, /  +[0-9]/) {
			label = substr($0, 1, RSTART - 1); rest = substr($0, RSTART); sub(/^ +/, "", rest)
			split(rest, w, " "); v = w[1]; unit = w[2]
			if (!(label in seen)) { seen[label] = 1; order[++n] = label; units[label] = unit }
			vals[label] = vals[label] " " v
		}
		END {
			for (i = 1; i <= n; i++) {
				l = order[i]; k = split(vals[l], a, " ")
				for (x = 2; x <= k; x++) { y = a[x]; for (j = x - 1; j >= 1 && a[j] + 0 > y + 0; j--) a[j + 1] = a[j]; a[j + 1] = y }
				m = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
				printf "%-56s %s %s   (runs:%s)\n", l, m, units[l], vals[l]
			}
		}' "$out"/run*
	exit 0
fi

log() { printf '%s\n' "$*" >&2; }
fail() { log "bench-scale: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-scale.XXXXXX")
PIDS=()
cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$WORK"/*.log "$KEEP"/ 2>/dev/null || true; fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

if [ -z "${SW_BIN:-}" ]; then go build -o "$WORK/sw" . && SW_BIN=$WORK/sw; fi
if [ -z "${SIM_BIN:-}" ]; then go build -o "$WORK/benchscale" ./scripts/benchscale && SIM_BIN=$WORK/benchscale; fi

# Loopback addresses of this run's own (127.0.9X.0/24 by the PID).
NET=127.$((100 + $$ % 100)).$((1 + ($$ / 100) % 200))
sock() { echo "$WORK/m$1.sock"; }
sw1() { "$SW_BIN" -H "unix://$(sock "$LEAD")" "$@"; }
LEAD=1

log "== 3 managers on $NET.1-3 (fake engines), swarm init/join with the sw CLI"
for i in 1 2 3; do
	mkdir -p "$WORK/m$i"
	"$SIM_BIN" manager -name "m$i" -dir "$WORK/m$i" -socket "$(sock "$i")" -raft-timeout "$RAFT_TIMEOUT" -log-level info \
		${PROFILE:+-cpuprofile "$PROFILE/m$i.pprof"} >"$WORK/m$i.log" 2>&1 &
	PIDS+=($!)
done
MPID=("" "${PIDS[0]}" "${PIDS[1]}" "${PIDS[2]}")
for i in 1 2 3; do
	for _ in $(seq 100); do [ -S "$(sock "$i")" ] && break; sleep 0.1; done
	[ -S "$(sock "$i")" ] || fail "manager m$i did not open its socket (log: $(tail -3 "$WORK/m$i.log"))"
done
sw1 swarm init --listen-addr "$NET.1:2377" --advertise-addr "$NET.1:2377" >/dev/null
MT=$(sw1 swarm join-token -q manager) WT=$(sw1 swarm join-token -q worker)
for i in 2 3; do
	"$SW_BIN" -H "unix://$(sock "$i")" swarm join --token "$MT" --listen-addr "$NET.$i:2377" --advertise-addr "$NET.$i:2377" "$NET.1:2377" >/dev/null
done
for m in m1 m2 m3; do sw1 node update --availability drain "$m" >/dev/null; done

log "== $NODES simulated workers ($((NODES - KILL)) + $KILL in two processes)"
t=$(now)
"$SIM_BIN" workers -n $((NODES - KILL)) -first 1 -manager "$NET.1:2377" -token "$WT" -ip "$NET." -spread="${SPREAD:-true}" \
	${PROFILE:+-cpuprofile "$PROFILE/wa.pprof"} >"$WORK/wa.log" 2>"$WORK/wa.err" &
PIDS+=($!)
WA=$!
if ((KILL > 0)); then
	"$SIM_BIN" workers -n "$KILL" -first $((NODES - KILL + 1)) -manager "$NET.2:2377" -token "$WT" -ip "$NET." -spread="${SPREAD:-true}" >"$WORK/wb.log" 2>"$WORK/wb.err" &
	PIDS+=($!)
	WB=$!
fi
ready() { sw1 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$' || true; }
for _ in $(seq $((MAXWAIT * 2))); do
	[ "$(ready)" -eq $((NODES + 3)) ] && break
	kill -0 "$WA" 2>/dev/null || fail "the workers died: $(tail -3 "$WORK/wa.err")"
	sleep 0.5
done
[ "$(ready)" -eq $((NODES + 3)) ] || fail "not every node Ready: $(ready) of $((NODES + 3))"
JOIN_S=$(since "$t")
log "   $NODES workers Ready in ${JOIN_S}s"

for s in $(seq "$SERVICES"); do
	sw1 network create --subnet "10.$((100 + (s - 1) / 4)).$((((s - 1) % 4) * 64)).0/18" "simnet$s" >/dev/null
done

# proc_cpu PID: user+system CPU seconds; proc_hwm PID: peak RSS in MiB.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }
proc_hwm() { awk '/^VmHWM:/ { printf "%.0f\n", $2 / 1024 }' "/proc/$1/status"; }
leader_no() { # which manager (1-3) leads
	local id
	id=$(sw1 node ls --format '{{.Hostname}} {{.ManagerStatus}}' | awk '$2 == "Leader" { print $1 }')
	echo "${id#m}"
}
LEAD=$(leader_no)
[[ $LEAD =~ ^[123]$ ]] || fail "no leader"
LPID=${MPID[$LEAD]}
CPU0=$(proc_cpu "$LPID")

# all_running: every service shows REPLICAS/REPLICAS.
all_running() {
	local out
	out=$(sw1 service ls --format '{{.Replicas}}' 2>/dev/null) || return 1
	[ "$(grep -c "^$REPLICAS/$REPLICAS\$" <<<"$out")" -eq "$SERVICES" ]
}
LS_MS="" PS_MS=""
ms_of() { # ms_of CMD...: runs it, prints its wall time in ms
	local a
	a=$(date +%s%N)
	"$@" >/dev/null 2>&1 || true
	echo $((($(date +%s%N) - a) / 1000000))
}

log "== create $SERVICES x $REPLICAS = $TOTAL tasks"
T0=$(now)
for s in $(seq "$SERVICES"); do
	sw1 service create -d -q --name "sim$s" --network "simnet$s" --replicas "$REPLICAS" sw-demo:latest >/dev/null
done
CREATE_S=$(since "$T0")
log "   created in ${CREATE_S}s; waiting for $TOTAL running"
k=0
while :; do
	LS_MS+="$(ms_of sw1 service ls) "
	if ((k % 10 == 0)); then PS_MS+="$(ms_of sw1 service ps sim1) "; fi
	k=$((k + 1))
	all_running && break
	awk -v t="$(since "$T0")" -v m="$MAXWAIT" 'BEGIN { exit !(t > m) }' && fail "not all running after ${MAXWAIT}s: $(sw1 service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')"
	sleep 0.5
done
RUN_S=$(since "$T0")
CPU1=$(proc_cpu "$LPID")
HWM=$(proc_hwm "$LPID")
log "   all $TOTAL running after ${RUN_S}s"
sleep 2
stats_line() { grep '^stats ' "$1" | tail -1; }
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
SA=$(stats_line "$WORK/wa.log") SB=""
[ -n "${WB:-}" ] && SB=$(stats_line "$WORK/wb.log")
UPDATES=$(($(field "$SA" updates) + ${SB:+$(field "$SB" updates)}+0))
STARTED=$(($(field "$SA" started) + ${SB:+$(field "$SB" started)}+0))
RAFT_LOG=$(du -sm "$WORK/m$LEAD/raft" | cut -f1)
SNAPS=$(find "$WORK/m$LEAD/raft" -type f -name state -printf '%s\n' 2>/dev/null | sort -n | tail -1)
# snapshot times: hashicorp/raft's "starting snapshot up to" .. "snapshot
# complete up to" on the leader (its log's time stamps), the longest.
SNAP_MS=$(awk '/starting snapshot up to/ { s = $1 } /snapshot complete up to/ && s != "" { e = $1; gsub(/time=|Z/, "", s); gsub(/time=|Z/, "", e)
	split(s, a, /[T:]/); split(e, b, /[T:]/); d = ((b[2] - a[2]) * 3600 + (b[3] - a[3]) * 60 + (b[4] - a[4])) * 1000
	if (d > m) m = d; n++; s = "" } END { printf "%d %d\n", m, n }' "$WORK/m$LEAD.log")

# A snapshot of the whole state as the run left it: `swarm backup` makes
# one fresh Raft snapshot (sealed with the data key) and archives it.
b0=$(date +%s%N)
sw1 swarm backup -q "$WORK/backup.tar" || fail "swarm backup"
BACKUP_MS=$((($(date +%s%N) - b0) / 1000000))
BACKUP_MIB=$(awk -v b="$(stat -c %s "$WORK/backup.tar")" 'BEGIN { printf "%.1f", b / 1048576 }')
rm -f "$WORK/backup.tar"

KILL_S="" DOWN_S=""
if ((KILL > 0)); then
	log "== $KILL workers SIGKILLed"
	T1=$(now)
	kill -9 "$WB"
	wait "$WB" 2>/dev/null || true
	down() { sw1 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Down$' || true; }
	while :; do
		if [ -z "$DOWN_S" ] && [ "$(down)" -ge "$KILL" ]; then DOWN_S=$(since "$T1"); fi
		[ -n "$DOWN_S" ] && all_running && break
		awk -v t="$(since "$T1")" -v m="$MAXWAIT" 'BEGIN { exit !(t > m) }' && fail "not healed after ${MAXWAIT}s"
		sleep 0.2
	done
	KILL_S=$(since "$T1")
	log "   Down after ${DOWN_S}s; all running again after ${KILL_S}s"
fi

log "== idle for ${IDLE}s"
sleep 3
I0=$(proc_cpu "$LPID")
sleep "$IDLE"
I1=$(proc_cpu "$LPID")
IDLE_PCT=$(awk -v a="$I0" -v b="$I1" -v s="$IDLE" 'BEGIN { printf "%.1f\n", 100 * (b - a) / s }')

# shellcheck disable=SC2086
lsm=$(median $LS_MS) psm=$(median $PS_MS)
lsmax=$(tr ' ' '\n' <<<"$LS_MS" | sort -n | tail -1) psmax=$(tr ' ' '\n' <<<"$PS_MS" | sort -n | tail -1)
echo
echo "scale simulation: 3 managers (processes, real daemon on fake engines), $NODES simulated workers, $SERVICES services x $REPLICAS replicas = $TOTAL tasks"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(go version | cut -d' ' -f3); load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-56s %s\n' "workers joined and Ready" "${JOIN_S} s"
printf '%-56s %s\n' "create commands ($SERVICES, -d)" "${CREATE_S} s"
printf '%-56s %s\n' "create -> all $TOTAL running (service ls)" "${RUN_S} s"
printf '%-56s %s\n' "tasks started / s (end to end)" "$(awk -v n="$TOTAL" -v t="$RUN_S" 'BEGIN { printf "%.0f", n / t }') /s"
printf '%-56s %s\n' "task status updates acknowledged / s" "$(awk -v n="$UPDATES" -v t="$RUN_S" 'BEGIN { printf "%.0f", n / t }') /s ($UPDATES updates, $STARTED starts)"
printf '%-56s %s\n' "leader CPU over the run" "$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.1f", b - a }') s"
printf '%-56s %s\n' "leader peak RSS (VmHWM)" "$HWM MiB"
printf '%-56s %s\n' "leader Raft dir at the end of the run" "$RAFT_LOG MiB"
printf '%-56s %s\n' "leader's largest snapshot kept" "$(awk -v b="${SNAPS:-0}" 'BEGIN { printf "%.1f", b / 1048576 }') MiB"
printf '%-56s %s\n' "leader's longest snapshot during the run" "${SNAP_MS% *} ms (${SNAP_MS#* } snapshots)"
printf '%-56s %s\n' "snapshot of the final state (swarm backup)" "$BACKUP_MS ms ($BACKUP_MIB MiB)"
printf '%-56s %s\n' "service ls latency during the run, median" "$lsm ms (max $lsmax, $(wc -w <<<"$LS_MS") calls)"
printf '%-56s %s\n' "service ps sim1 ($REPLICAS tasks) during the run, median" "$psm ms (max $psmax, $(wc -w <<<"$PS_MS") calls)"
if ((KILL > 0)); then
	printf '%-56s %s\n' "$KILL nodes killed -> Down" "${DOWN_S} s"
	printf '%-56s %s\n' "$KILL nodes killed -> all replicas running again" "${KILL_S} s"
fi
printf '%-56s %s\n' "idle leader CPU (${IDLE} s)" "${IDLE_PCT} % of a core"
