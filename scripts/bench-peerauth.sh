#!/usr/bin/env bash
# bench-peerauth.sh: what peer authorisation costs a Raft connection. The
# mux's Go benchmark opens Raft connections (TCP, TLS with both
# certificates verified, the kind byte, the authorizer, Accept) with no
# authorizer ("open"), the default manager-certificate policy, and a
# membership lookup as the daemon makes; plus the daemon's real admission
# check (consensus Admit: the lookup in the Raft configuration and the
# caught-up check). COUNT runs each (default 5),
# medians; the target is under 1 ms added per connection.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
COUNT=${COUNT:-5}
out=$( (go test -run '^$' -bench 'BenchmarkRaftConnect' -benchtime 300x -count "$COUNT" ./cluster/peer/ &&
	go test -run '^$' -bench 'BenchmarkAdmit' -benchtime 20000x -count "$COUNT" ./cluster/consensus/) )
printf '%s\n' "$out" | grep -E '^Benchmark' >&2
printf '%s\n' "$out" | awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); n[name]++; v[name, n[name]] = $3
}
function median(s,   k, a, b, t) {
	k = n[s]
	for (a = 1; a <= k; a++) for (b = a + 1; b <= k; b++) if (v[s, b] < v[s, a]) { t = v[s, a]; v[s, a] = v[s, b]; v[s, b] = t }
	return (k % 2) ? v[s, (k + 1) / 2] : (v[s, k / 2] + v[s, k / 2 + 1]) / 2
}
END {
	open = median("BenchmarkRaftConnect/open"); mgr = median("BenchmarkRaftConnect/managers")
	mem = median("BenchmarkRaftConnect/members"); lookup = median("BenchmarkAdmit")
	printf "%-44s %12s\n", "Raft connection (median)", "per op"
	printf "%-44s %10.3f ms\n", "no authorization", open / 1e6
	printf "%-44s %10.3f ms  (%+.3f ms)\n", "manager certificate required", mgr / 1e6, (mgr - open) / 1e6
	printf "%-44s %10.3f ms  (%+.3f ms)\n", "manager certificate + membership", mem / 1e6, (mem - open) / 1e6
	printf "%-44s %10.3f us\n", "the daemon'"'"'s admission check (consensus Admit)", lookup / 1e3
	added = (mem - open) / 1e6 + lookup / 1e6
	printf "added per connection: %.3f ms (target < 1 ms): %s\n", added, (added < 1 ? "met" : "MISSED")
	exit added < 1 ? 0 : 1
}'
