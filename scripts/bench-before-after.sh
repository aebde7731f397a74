#!/usr/bin/env bash
# bench-before-after.sh: this tree against an earlier commit, in the same
# session: bench-create.sh (N=30) and bench-cluster.sh, run ROUNDS times
# for each binary, alternating which goes first, and the medians side by
# side: the median of every run of each binary (the runs of a cluster
# benchmark vary with Raft's randomised election timeouts far more than
# 5 %, so the rounds are pooled rather than each reduced to a median).
# The target of issue 8: within 5 % of the earlier commit.
#
#   scripts/bench-before-after.sh [REV]     REV defaults to a7ecd36 (before issue 8)
#
# Environment: ROUNDS (default 3) rounds; RUNS (default 3) runs per round
# inside each script; NS (default 30) for bench-create; BENCHES (default
# "create cluster") which of the two to run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/daemon.sh
REV=${1:-a7ecd36}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-3}
NS=${NS:-30}
BENCHES=${BENCHES:-create cluster}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-before-after.XXXXXX")
trap 'git worktree remove --force "$WORK/base" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

echo "== building $REV and this tree" >&2
git worktree add --detach "$WORK/base" "$REV" >/dev/null 2>&1
(cd "$WORK/base" && go build -o "$WORK/sw-before" .)
go build -o "$WORK/sw-after" .

declare -A CREATE FO LOSS
for r in $(seq "$ROUNDS"); do
	order="before after"
	((r % 2)) || order="after before"
	for which in $order; do
		echo "== round $r: $which" >&2
		if [[ " $BENCHES " == *" create "* ]]; then
			out=$(BENCH_SW="$WORK/sw-$which" RUNS=$RUNS NS=$NS scripts/bench-create.sh 2>/dev/null)
			printf '%s\n' "$out" >&2
			# every run's sw time: the fields after N, the medians and the ratio
			CREATE[$which]+="$(awk -v n="$NS" -v r="$RUNS" '$1 == n && $2 ~ /^[0-9.]+$/ { for (i = 5; i < 5 + r; i++) printf "%s ", $i }' <<<"$out")"
		fi
		if [[ " $BENCHES " == *" cluster "* ]]; then
			out=$(BENCH_SW="$WORK/sw-$which" RUNS=$RUNS scripts/bench-cluster.sh 2>/dev/null)
			printf '%s\n' "$out" >&2
			# every run's time: the last RUNS fields of the row
			FO[$which]+="$(awk -v r="$RUNS" '/^failover: first write ok/ { for (i = NF - r + 1; i <= NF; i++) printf "%s ", $i }' <<<"$out")"
			LOSS[$which]+="$(awk -v r="$RUNS" '/^node loss: .* running elsewhere/ { for (i = NF - r + 1; i <= NF; i++) printf "%s ", $i }' <<<"$out")"
		fi
	done
done

echo
echo "before ($REV) vs after ($(git rev-parse --short HEAD)): $ROUNDS rounds x $RUNS runs, median of all runs, seconds"
printf '%-38s %9s %9s %8s   %s\n' measure before after change "runs: before | after"
line() { # line NAME BEFORE... | AFTER...
	local name=$1 b=$2 a=$3 mb ma
	# shellcheck disable=SC2086
	mb=$(median $b)
	# shellcheck disable=SC2086
	ma=$(median $a)
	printf '%-38s %9s %9s %7s%%   %s| %s\n' "$name" "$mb" "$ma" \
		"$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }')" "$b" "$a"
}
if [[ " $BENCHES " == *" create "* ]]; then
	line "service create N=$NS until running" "${CREATE[before]}" "${CREATE[after]}"
fi
if [[ " $BENCHES " == *" cluster "* ]]; then
	line "leader killed: first write ok" "${FO[before]}" "${FO[after]}"
	line "worker killed: tasks running elsewhere" "${LOSS[before]}" "${LOSS[after]}"
fi
