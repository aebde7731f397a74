#!/usr/bin/env bash
# Runs every test: vet, unit tests (with the race detector), every fuzz
# target for a few seconds (scripts/fuzz.sh), and the end-to-end tests
# that drive the built sw binary against the local Docker engine, which
# must be running (the tests fail, not skip, without it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh
require_engine
echo "== go vet"
go vet ./...
echo "== unit tests"
go test -race -count=1 $(go list ./... | grep -v /scripts/e2e)
echo "== fuzz (3 s per target)"
FUZZTIME=3s scripts/fuzz.sh
echo "== end-to-end tests (real Docker engine)"
# Verbose into a log: on success a line per test and the fault suite's
# counts; on failure all of it.
log=$(mktemp "${TMPDIR:-/tmp}/sw-e2e.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! go test -v -count=1 -timeout 20m ./scripts/e2e/ >"$log" 2>&1; then
	cat "$log"
	exit 1
fi
grep -E '^(--- |ok |fault suite: )' "$log"
