#!/usr/bin/env bash
# bench-hosts-mesh.sh: the routing mesh across hosts on the test bed
# (scripts/hosts.sh). HTTP keep-alive requests/s to ONE task on host2,
# reached through an ingress-mode published port on host1 (which runs no
# task: host1's netfilter DNAT, then the VXLAN overlay to host2), next to
# the SAME task reached straight on host2 through a host-mode published
# port of the same service, in the same run, with wrk.
#
#   scripts/bench-hosts-mesh.sh                      RUNS=5, wrk -t2 -c16 -d10s; ~2 min
#   RUNS=2 DURATION=3s scripts/bench-hosts-mesh.sh
#
# Environment:
#   RUNS       runs per side (default 5); medians are reported
#   DURATION   wrk duration per run (default 10s)
#   CONNS      wrk connections, the concurrency (default 16)
#   THREADS    wrk threads (default 2)
#   SW_TESTBED_ID  the bed (default 40: 198.18.40.0/24); refused if it is up already
#   SW_BIN     a prebuilt sw (default: built from this tree)
#   KEEP_LOGS  a directory: the hosts' sw and dockerd logs are copied there
#
# The bed: 2 hosts, `hosts.sh swarm 1` (host1 the manager, host2 a
# worker). One service, 1 replica pinned to host2
# (--constraint node.hostname==host2), two published ports:
#   -p 9080:8080                            ingress: on every host (mesh)
#   -p mode=host,published=9081,target=8080  host: only on host2 (direct)
# The load generator (wrk, Debian's; installed with apt-get when missing)
# runs in a client namespace on the bed's bridge (`hosts.sh client 1`),
# like a client on the LAN: mesh = http://host1:9080/, direct =
# http://host2:9081/. Both must answer with the same task's name. Mesh and
# direct runs alternate (the side that goes first flips every run), with
# 1 s pauses, after a 2 s untimed warm-up of each. Fails on non-2xx answers
# or socket errors. Target: mesh >= 0.8x direct req/s (reported, not
# enforced by the exit status). The bed goes down on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
BENCH=bench-hosts-mesh
BED_DEFAULT_ID=40
source scripts/lib/bed.sh

RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
THREADS=${THREADS:-2}
SERVICE=bench-hmesh
MESH_PORT=9080
DIRECT_PORT=9081
TARGET=0.8

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "RUNS must be a positive integer, got '$RUNS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || fail "CONNS must be a positive integer, got '$CONNS'"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || fail "THREADS must be a positive integer, got '$THREADS'"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || fail "DURATION must look like 10s, got '$DURATION'"

LOAD_START=$(loadavg)
install_wrk
bed_init
bed_up 2 1
CLIENT_NS=$(H client 1)
cl() { nsenter --net="$CLIENT_NS" -- "$@"; }

log "== service: 1 replica on host2, -p $MESH_PORT:8080 (ingress) and -p mode=host,published=$DIRECT_PORT,target=8080"
swc 1 service create -q --name "$SERVICE" --replicas 1 --constraint node.hostname==host2 \
	-p "$MESH_PORT:8080" -p "mode=host,published=$DIRECT_PORT,target=8080" sw-demo:latest >/dev/null ||
	fail "service create"
nodes=$(swc 1 service ps "$SERVICE" -f desired-state=running --format '{{.Node}} {{.CurrentState}}')
[[ $nodes == "host2 Running"* && $(wc -l <<<"$nodes") -eq 1 ]] || fail "want 1 task Running on host2, service ps says: $nodes"
[ -z "$(dk 1 ps -q)" ] || fail "host1 runs containers: $(dk 1 ps --format '{{.Names}}')"

MESH_URL="http://$(haddr 1):$MESH_PORT/"
DIRECT_URL="http://$(haddr 2):$DIRECT_PORT/"
answer() { cl curl -s --max-time 2 "$1" 2>/dev/null || true; }
answers() { [[ $(answer "$1") == "hello from "* ]]; }
wait_for 30 "$MESH_URL answers" answers "$MESH_URL"
wait_for 30 "$DIRECT_URL answers" answers "$DIRECT_URL"
m=$(answer "$MESH_URL") d=$(answer "$DIRECT_URL")
log "   mesh   $MESH_URL -> $m"
log "   direct $DIRECT_URL -> $d"
[ "$m" = "$d" ] || fail "mesh and direct answer from different tasks"
# host1 must not publish the host-mode port (it has no task).
if cl curl -s --max-time 2 "http://$(haddr 1):$DIRECT_PORT/" >/dev/null 2>&1; then
	fail "host1 answers on the host-mode port $DIRECT_PORT"
fi

# The mesh side must cross the overlay: host1's VXLAN device carries it.
vx_tx() { # packets sent by host1's VXLAN device
	H sh 1 ip -s -o link show dev "$VXLAN" | awk '{ for (i = 1; i <= NF; i++) if ($i == "TX:") { print $(i + 9); exit } }'
}
VXLAN=$(H sh 1 ip -o link show type vxlan | awk -F': ' '{ sub(/@.*/, "", $2); print $2; exit }')
[ -n "$VXLAN" ] || fail "host1 has no VXLAN device"
tx0=$(vx_tx)
for _ in $(seq 20); do answer "$MESH_URL" >/dev/null; done
tx1=$(vx_tx)
((tx1 - tx0 >= 20)) || fail "20 requests through host1's port sent $((tx1 - tx0)) packets over host1's $VXLAN"
log "   20 requests through host1:$MESH_PORT: $((tx1 - tx0)) packets out of host1's VXLAN device $VXLAN"

# run_wrk URL: one wrk run; prints "REQ_PER_S P99_MS"
run_wrk() {
	local url=$1 out rps p99
	out=$(cl wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url" 2>&1) || {
		log "$out"
		fail "wrk $url exited non-zero"
	}
	if grep -q -e 'Non-2xx or 3xx responses' -e 'Socket errors' <<<"$out"; then
		log "$out"
		fail "wrk $url: errors"
	fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p99=$(awk '$1 == "99%" {
		v = $2; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
		printf "%.3f\n", v }' <<<"$out")
	[[ $rps =~ ^[0-9.]+$ && $p99 =~ ^[0-9.]+$ ]] || {
		log "$out"
		fail "could not read req/s and p99 from wrk ($url)"
	}
	printf '%s %s\n' "$rps" "$p99"
}

log "== warm-up (untimed)"
for u in "$MESH_URL" "$DIRECT_URL"; do
	cl wrk -t"$THREADS" -c"$CONNS" -d2s "$u" >/dev/null 2>&1 || fail "warm-up wrk $u"
done
sleep 1

MESH_RPS="" MESH_P99="" DIRECT_RPS="" DIRECT_P99="" RATIOS=""
for r in $(seq "$RUNS"); do
	note_load
	if ((r % 2)); then
		m=$(run_wrk "$MESH_URL"); sleep 1
		d=$(run_wrk "$DIRECT_URL"); sleep 1
	else
		d=$(run_wrk "$DIRECT_URL"); sleep 1
		m=$(run_wrk "$MESH_URL"); sleep 1
	fi
	RATIOS+="$(ratio "${m% *}" "${d% *}") "
	MESH_RPS+="${m% *} " MESH_P99+="${m#* } "
	DIRECT_RPS+="${d% *} " DIRECT_P99+="${d#* } "
	log "   run $r: mesh ${m% *} req/s p99 ${m#* } ms   direct ${d% *} req/s p99 ${d#* } ms   (load $(loadavg))"
done
LOAD_END=$(loadavg)

# shellcheck disable=SC2086
mr=$(median $MESH_RPS) dr=$(median $DIRECT_RPS) mp=$(median $MESH_P99) dp=$(median $DIRECT_P99)
rr=$(ratio "$mr" "$dr") pr=$(ratio "$mp" "$dp")
echo
echo "routing mesh across hosts vs straight to the task's host: 1 task on host2, wrk -t$THREADS -c$CONNS -d$DURATION (keep-alive) from a client namespace on the bridge; $RUNS runs per side, medians"
echo "machine: $(machine)"
echo "load average (1/5/15 min): $LOAD_START before the bed came up, $LOAD_END at the end; 1-min at the runs' starts $(load_summary); other beds (other people's tests) up during the runs: $(beds_seen)"
printf '%-44s %12s %10s   %s\n' side "req/s" "p99" "per run (req/s)"
printf '%-44s %12.0f %8.2fms   %s\n' "mesh: host1:$MESH_PORT (ingress, via overlay)" "$mr" "$mp" "$MESH_RPS"
printf '%-44s %12.0f %8.2fms   %s\n' "direct: host2:$DIRECT_PORT (mode=host)" "$dr" "$dp" "$DIRECT_RPS"
# shellcheck disable=SC2086
echo "ratio mesh/direct: req/s ${rr}x (median of the runs' own ratios $(median $RATIOS | xargs printf '%.2f')x: $RATIOS), p99 ${pr}x (p99 per run: mesh $MESH_P99| direct $DIRECT_P99)"
if awk -v r="$rr" -v t="$TARGET" 'BEGIN { exit !(r >= t) }'; then
	echo "target mesh >= ${TARGET}x direct req/s: met"
else
	echo "target mesh >= ${TARGET}x direct req/s: MISSED"
fi
