# shellcheck shell=bash
# daemon.sh: shared pieces for scripts that run their own sw daemon.
# Source it; it sets no shell options and no traps.

# remove_labeled LABEL force-removes every container carrying the label.
remove_labeled() {
	local ids
	ids=$(docker ps -aq --filter "label=$1" 2>/dev/null || true)
	if [ -n "$ids" ]; then
		# shellcheck disable=SC2086
		docker rm -f $ids >/dev/null 2>&1 || true
	fi
}

# stop_daemon PID NODE_ID SW_BIN SOCK takes the daemon out of its swarm,
# stops it (SIGKILL after 5 s), and removes its node's containers.
stop_daemon() {
	local pid=$1 node=$2 bin=$3 sock=$4
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		"$bin" -H "unix://$sock" swarm leave --force >/dev/null 2>&1
		kill "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	[ -n "$node" ] && remove_labeled "com.sw.node.id=$node"
	return 0
}

# median of the arguments, to 3 decimals (mean of the middle two for an
# even count)
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# start_single_node HOSTNAME IP [INIT_FLAG...] starts "$SW daemon" on IP with
# its socket $SOCK, data in $WORK/data and log in $DLOG, makes it a
# one-node swarm, and sets DAEMON_PID and NODE_ID. Prints why and returns
# 1 if any step fails.
start_single_node() {
	local host=$1 ip=$2
	shift 2
	"$SW" -H "unix://$SOCK" daemon --data-dir "$WORK/data" --hostname "$host" \
		--ingress-addr "$ip" >"$DLOG" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	[ -S "$SOCK" ] || { echo "daemon socket $SOCK did not appear" >&2; return 1; }
	"$SW" -H "unix://$SOCK" swarm init --listen-addr "$ip:2377" "$@" >/dev/null || { echo "swarm init failed" >&2; return 1; }
	NODE_ID=$("$SW" -H "unix://$SOCK" info --format '{{.NodeID}}')
	[ -n "$NODE_ID" ] || { echo "no node ID from sw info" >&2; return 1; }
}

# finish_single_node RC stops what start_single_node started, keeps the
# daemon log at $KEEP_LOG if set, shows its tail when RC is non-zero, and
# removes $WORK.
finish_single_node() {
	local rc=$1
	stop_daemon "$DAEMON_PID" "$NODE_ID" "$SW" "$SOCK"
	if [ -n "${KEEP_LOG:-}" ] && [ -f "$DLOG" ]; then
		cp "$DLOG" "$KEEP_LOG" && echo "daemon log kept at $KEEP_LOG" >&2
	fi
	if ((rc != 0)) && [ -f "$DLOG" ]; then
		echo "--- last lines of the daemon log:" >&2
		tail -n 30 "$DLOG" >&2
	fi
	rm -rf -- "$WORK"
}
