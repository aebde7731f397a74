#!/usr/bin/env bash
# bench-scheduler.sh: the scheduler's Go benchmark at swarmkit's shapes
# (one service, all nodes ready, in memory: from "tasks unassigned" to "all
# assigned and committed to the store"), COUNT runs each (default 5), the
# median next to swarmkit's figures on a 2-core machine and the 5x target.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
COUNT=${COUNT:-5}
out=$(go test -run XXX -bench BenchmarkSchedule -benchtime 3x -count "$COUNT" ./cluster/scheduler/)
printf '%s\n' "$out" | grep -E '^Benchmark' >&2
printf '%s\n' "$out" | awk -v count="$COUNT" '
BEGIN {
	ref["nodes=1000/tasks=1000"] = 0.054; ref["nodes=1000/tasks=10000"] = 0.73
	ref["nodes=1000/tasks=100000"] = 9.1; ref["nodes=100000/tasks=1000"] = 0.35
	order[1] = "nodes=1000/tasks=1000"; order[2] = "nodes=1000/tasks=10000"
	order[3] = "nodes=1000/tasks=100000"; order[4] = "nodes=100000/tasks=1000"
}
/^BenchmarkSchedule\// {
	name = $1; sub(/^BenchmarkSchedule\//, "", name); sub(/-[0-9]+$/, "", name)
	n[name]++; v[name, n[name]] = $3 / 1e9
}
END {
	printf "%-26s %12s %12s %10s %8s\n", "shape", "sw median", "swarmkit", "speed-up", "target"
	bad = 0
	for (i = 1; i <= 4; i++) {
		s = order[i]; k = n[s]
		for (a = 1; a <= k; a++) for (b = a + 1; b <= k; b++) if (v[s, b] < v[s, a]) { t = v[s, a]; v[s, a] = v[s, b]; v[s, b] = t }
		med = (k % 2) ? v[s, (k + 1) / 2] : (v[s, k / 2] + v[s, k / 2 + 1]) / 2
		up = ref[s] / med; ok = up >= 5 ? "met" : "MISSED"; if (up < 5) bad = 1
		printf "%-26s %11.4fs %11.3fs %9.1fx %8s\n", s, med, ref[s], up, ok
	}
	exit bad
}'
