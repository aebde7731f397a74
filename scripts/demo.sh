#!/usr/bin/env bash
# The demo: builds sw and a small demo image (no registry needed), starts a
# daemon, makes it a one-node swarm, creates `web` with 3 replicas published
# on port 9000, and shows answers from different tasks.
#
#   scripts/demo.sh         run the demo (replaces a previous demo run)
#   scripts/demo.sh stop    stop the demo daemon and remove its tasks
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
source scripts/lib/images.sh

DEMO_DIR=${SW_DEMO_DIR:-/tmp/sw-demo}
SOCK="$DEMO_DIR/sw.sock"
export SW_HOST="unix://$SOCK"
SW="$DEMO_DIR/bin/sw"
PORT=${SW_DEMO_PORT:-9000}

stop_demo() {
	if [ -S "$SOCK" ] && "$SW" info >/dev/null 2>&1; then
		"$SW" swarm leave --force >/dev/null 2>&1 || true
	fi
	if [ -f "$DEMO_DIR/daemon.pid" ]; then
		kill "$(cat "$DEMO_DIR/daemon.pid")" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$(cat "$DEMO_DIR/daemon.pid")" 2>/dev/null || break; sleep 0.1; done
		rm -f "$DEMO_DIR/daemon.pid"
	fi
	rm -rf "$DEMO_DIR/data"
}

if [ "${1:-}" = stop ]; then
	[ -x "$SW" ] && stop_demo
	echo "demo stopped"
	exit 0
fi

require_engine
mkdir -p "$DEMO_DIR/bin"
echo "== building sw"
go build -o "$SW" .
[ -x "$SW" ] && stop_demo
echo "== building the demo image (FROM scratch, no registry)"
IMAGE=$(build_demo_image sw-demo:latest)
echo "== starting the daemon (log: $DEMO_DIR/daemon.log)"
nohup "$SW" daemon --data-dir "$DEMO_DIR/data" --hostname "$(hostname)-demo" >"$DEMO_DIR/daemon.log" 2>&1 &
echo $! >"$DEMO_DIR/daemon.pid"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
echo "== sw swarm init"
"$SW" swarm init --listen-addr 127.0.0.1:2377
echo "== sw service create --name web --replicas 3 -p $PORT:8080 $IMAGE"
"$SW" service create --name web --replicas 3 -p "$PORT:8080" "$IMAGE"
echo "== sw service ls"
"$SW" service ls
echo "== sw service ps web"
"$SW" service ps web
echo "== six requests to 127.0.0.1:$PORT (round robin over the tasks)"
for _ in 1 2 3 4 5 6; do curl -s "127.0.0.1:$PORT/"; done
echo
echo "The demo swarm keeps running. Try:  export SW_HOST=$SW_HOST; $SW node ls"
echo "Stop it with:  scripts/demo.sh stop"
