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
