#!/usr/bin/env bash
# bench-control.sh: the leader's control loops at 100,000 tasks, in
# memory (Go benchmarks of cluster/orchestrator and cluster/scheduler, no
# engine): what one orchestrator pass costs after a commit that touched
# one service of 1,000 (incremental, today's loop) against a full pass
# over every task (the loop before the store's journal), measured in the
# same run; and a full Reconcile of 10 services x 10,000 replicas on 1,000
# nodes. RUNS runs of each (default 5); medians.
#
#   scripts/bench-control.sh            # ~1 min
#   RUNS=3 scripts/bench-control.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
RUNS=${RUNS:-5}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench-control: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }
out=$(go test -run XXX -bench 'BenchmarkStep|BenchmarkReconcileSteady' -benchtime 20x -count "$RUNS" ./cluster/orchestrator/)
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(go version | cut -d' ' -f3)"
echo "$RUNS runs of each, 20 iterations per run; median ms per pass"
# shellcheck disable=SC2016
awk '/^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name); v[name] = v[name] " " $3 / 1e6 }
END {
	for (n in v) {
		k = split(v[n], a, " ")
		for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		m = (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		med[n] = m; printf "%-55s %10.3f ms   (runs:%s)\n", n, m, v[n]
	}
	inc = med["BenchmarkStep/incremental"]; full = med["BenchmarkStep/full"]
	if (inc > 0) printf "one service changed among 1,000: a full pass costs %.0fx an incremental one\n", full / inc
}' <<<"$out" | sort
