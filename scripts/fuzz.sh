#!/usr/bin/env bash
# Runs every native Go fuzz target in the repository (func FuzzXxx in a
# _test.go file, found with grep, so new targets are picked up) for
# FUZZTIME each (default 3s; a count such as 1000x works too), one
# `go test -fuzz` per target, as go test allows one target per run. Fails
# if any target fails; a crasher is written to the package's
# testdata/fuzz/FuzzXxx/ (commit it with the fix, as a regression test).
#
#   scripts/fuzz.sh                    # every target, 3 s each
#   FUZZTIME=60s scripts/fuzz.sh       # longer
#   scripts/fuzz.sh FuzzParsePort      # only the targets named
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
FUZZTIME="${FUZZTIME:-3s}"
# New-coverage inputs are minimised before fuzzing goes on (60 s by
# default, during which nothing else runs): keep that short.
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-2s}"

targets=() # "dir name"
while IFS=: read -r file line; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
	dir=$(dirname "$file")
	targets+=("${dir#./} $name")
done < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sort)

if [ $# -gt 0 ]; then
	wanted=" $* "
	kept=()
	for t in "${targets[@]}"; do
		[[ "$wanted" == *" ${t#* } "* ]] && kept+=("$t")
	done
	targets=("${kept[@]}")
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# coordinator_race reports whether a failed run's only complaint is Go's
# fuzz coordinator reporting its own -fuzztime deadline, with no failing
# input (go.dev/issue/75804, fixed in Go 1.27): not a finding.
coordinator_race() {
	! grep -qE 'Failing input written to|failure while testing seed corpus|panic:' <<<"$1" &&
		[ "$(grep -c -- '--- FAIL' <<<"$1")" -eq 1 ] &&
		[ "$(grep -A1 -- '--- FAIL' <<<"$1" | tail -1 | tr -d '[:space:]')" = "contextdeadlineexceeded" ]
}

failed=()
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME" "./$dir" 2>&1) && rc=0 || rc=$?
	execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1 || true)
	if [ $rc -eq 0 ]; then
		printf 'ok    %-24s %-22s %s\n' "$name" "$dir" "${execs:-}"
	elif coordinator_race "$out"; then
		printf 'ok    %-24s %-22s %s (ended by go.dev/issue/75804, no failing input)\n' "$name" "$dir" "${execs:-}"
	else
		printf 'FAIL  %-24s %-22s\n%s\n' "$name" "$dir" "$out"
		failed+=("$name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets passed ($FUZZTIME each)"
