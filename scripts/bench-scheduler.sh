#!/usr/bin/env bash
# bench-scheduler.sh: the scheduler's Go benchmarks at swarmkit's shapes
# (one service, all nodes ready, in memory: from "tasks unassigned" to "all
# assigned and committed to the store"), COUNT runs each (default 5):
# BenchmarkSchedule (no constraint) next to swarmkit's figures on a 2-core
# machine and the 5x target, and BenchmarkScheduleSpread (every task
# reserves CPU and memory and spreads over a node label with 10 values)
# next to the unconstrained figures of the same run (target: within 2x)
# and swarmkit's (target: still >= 5x faster). Exits 1 if a target is
# missed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
COUNT=${COUNT:-5}
out=$(go test -run XXX -bench 'BenchmarkSchedule$|BenchmarkScheduleSpread$' -benchtime 3x -count "$COUNT" ./cluster/scheduler/)
printf '%s\n' "$out" | grep -E '^Benchmark' >&2
printf '%s\n' "$out" | awk -v count="$COUNT" '
BEGIN {
	ref["nodes=1000/tasks=1000"] = 0.054; ref["nodes=1000/tasks=10000"] = 0.73
	ref["nodes=1000/tasks=100000"] = 9.1; ref["nodes=100000/tasks=1000"] = 0.35
	order[1] = "nodes=1000/tasks=1000"; order[2] = "nodes=1000/tasks=10000"
	order[3] = "nodes=1000/tasks=100000"; order[4] = "nodes=100000/tasks=1000"
}
/^BenchmarkSchedule(Spread)?\// {
	name = $1; kind = (name ~ /^BenchmarkScheduleSpread\//) ? "spread" : "plain"
	sub(/^BenchmarkSchedule(Spread)?\//, "", name); sub(/-[0-9]+$/, "", name)
	k = kind SUBSEP name; n[k]++; v[k, n[k]] = $3 / 1e9
}
function median(k,   a, b, t, c) {
	c = n[k]
	for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
	return (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
}
END {
	bad = 0
	printf "unconstrained (BenchmarkSchedule)\n%-26s %12s %12s %10s %8s\n", "shape", "sw median", "swarmkit", "speed-up", "target"
	for (i = 1; i <= 4; i++) {
		s = order[i]; plain[s] = median("plain" SUBSEP s)
		up = ref[s] / plain[s]; ok = up >= 5 ? "met" : "MISSED"; if (up < 5) bad = 1
		printf "%-26s %11.4fs %11.3fs %9.1fx %8s\n", s, plain[s], ref[s], up, ok
	}
	printf "\nreservations + spread over 10 label values (BenchmarkScheduleSpread)\n%-26s %12s %14s %10s %8s\n", "shape", "sw median", "vs unconstr.", "vs swarmkit", "targets"
	for (i = 1; i <= 4; i++) {
		s = order[i]; m = median("spread" SUBSEP s)
		r = m / plain[s]; up = ref[s] / m
		ok = (r <= 2 && up >= 5) ? "met" : "MISSED"; if (ok != "met") bad = 1
		printf "%-26s %11.4fs %13.2fx %9.1fx %8s\n", s, m, r, up, ok
	}
	exit bad
}'
