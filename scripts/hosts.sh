#!/usr/bin/env bash
# A multi-host test bed on one machine: N simulated hosts, each a network
# namespace on a private bridge with its own Docker engine (its own dockerd
# and managed containerd, vfs storage, Docker's default address pools), as
# on N fresh machines on one LAN. Nothing on the bed can leave it: the
# hosts have no default route, and the root namespace drops whatever would
# be forwarded between the bridge and any other interface and refuses
# whatever the hosts send to itself (replies to its own connections
# excepted). The test images are loaded into every engine from the main
# one; no engine ever pulls.
#
#   scripts/hosts.sh up N             bring up hosts 1..N (runs down first; on failure it leaves
#                                     what it made, for a look: down removes it)
#   scripts/hosts.sh down             remove everything up and swarm made
#   scripts/hosts.sh swarm [MANAGERS] an sw daemon per host; host 1 inits, hosts 2..MANAGERS
#                                     join as managers, the rest as workers (default min(N,3))
#   scripts/hosts.sh sh I CMD...      run CMD in host I's namespace, DOCKER_HOST set to its engine
#   scripts/hosts.sh docker I ARGS... docker against host I's engine
#   scripts/hosts.sh sw I ARGS...     the sw CLI against host I's daemon
#   scripts/hosts.sh addr I | ns I | sock I   host I's address, netns path, DOCKER_HOST
#   scripts/hosts.sh kill I           lose host I: SIGKILL its daemons, shims and containers, link down
#   scripts/hosts.sh revive I         link up, start its dockerd (and sw daemon, same data) again
#   scripts/hosts.sh status           one line per host
#   scripts/hosts.sh client C         a client namespace swtb-cC on the bridge, 198.18.0.(200+C),
#                                     no engine (prints its netns path; down removes it)
#
# Host I is netns swtb-hI (/run/netns/swtb-hI) with eth0 198.18.0.(10+I)/24
# (RFC 2544's benchmarking range) on bridge swtb0 (198.18.0.1). State under
# SW_TESTBED_DIR (default /var/lib/sw-testbed) and SW_TESTBED_RUN (default
# /run/sw-testbed), per host in hI/; logs in SW_TESTBED_DIR/hI/{dockerd,sw}.log.
# SW_TESTBED_ID=K (1..254) is a separate bed beside the default one: swtbK-hI,
# bridge swtbK, 198.18.K.0/24, dirs /var/lib/sw-testbedK and /run/sw-testbedK
# (the e2e tests use one of their own).
# SW_BIN names a prebuilt sw binary (default: build one into SW_TESTBED_DIR/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ID=${SW_TESTBED_ID:-}
if [ -n "$ID" ] && ! { [[ $ID =~ ^[1-9][0-9]*$ ]] && [ "$ID" -le 254 ]; }; then
	echo "hosts.sh: SW_TESTBED_ID is 1..254, got '$ID'" >&2
	exit 2
fi
DIR=${SW_TESTBED_DIR:-/var/lib/sw-testbed$ID}
RUN=${SW_TESTBED_RUN:-/run/sw-testbed$ID}
BR=swtb${ID:-0}
PFX=swtb$ID-h # hosts' netns and root-side veth names: PFX + I
NET=198.18.${ID:-0}
TAG=sw-testbed$ID # iptables comment and cgroup prefix
IMAGES=(sw-demo:latest sw-shell:latest)
ENGINE_WAIT=${SW_TESTBED_ENGINE_WAIT:-60}

die() { echo "hosts.sh: $*" >&2; exit 1; }
hdir() { echo "$DIR/h$1"; }
hrun() { echo "$RUN/h$1"; }
CPFX=swtb$ID-c # client namespaces
ns_name() { echo "$PFX$1"; }
ns_path() { echo "/run/netns/$PFX$1"; }
veth() { echo "$PFX$1"; } # the root namespace's end; the host's end is eth0
addr() { echo "$NET.$((10 + $1))"; }
sock() { echo "unix://$(hrun "$1")/docker.sock"; }
sw_sock() { echo "unix://$(hrun "$1")/sw.sock"; }
sw_bin() { echo "${SW_BIN:-$DIR/bin/sw}"; }
in_ns() { local i=$1; shift; nsenter --net="$(ns_path "$i")" -- "$@"; }
dk() { local i=$1; shift; DOCKER_HOST=$(sock "$i") docker "$@"; }
swn() { local i=$1; shift; "$(sw_bin)" -H "$(sw_sock "$i")" "$@"; }
# hosts lists the host numbers that have state, in order.
hosts() {
	local d
	for d in "$DIR"/h[0-9]* "$RUN"/h[0-9]*; do
		if [ -d "$d" ]; then echo "${d##*/h}"; fi
	done | sort -nu
}
need_host() {
	[[ ${1:-} =~ ^[0-9]+$ ]] || die "host number expected, got '${1:-}'"
	[ -e "$(ns_path "$1")" ] || die "host $1 is not up (scripts/hosts.sh up N)"
}
pidof_file() { if [ -s "$1" ]; then cat "$1" 2>/dev/null || true; fi; }
# alive PID: running and not a zombie waiting to be reaped.
alive() {
	local st
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# host_pids I prints every process that belongs to host I: those in its
# network namespace (dockerd, containerd, shims, sw, commands run with sh)
# and those in its containers' cgroups (containers have namespaces of their
# own; their cgroup parent is /sw-testbed-hI, see daemon.json).
host_pids() {
	local i=$1 ino f
	if [ -e "$(ns_path "$i")" ]; then
		ino=$(stat -L -c %i "$(ns_path "$i")")
		find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\[$ino\]" 2>/dev/null | cut -d/ -f3 || true
	fi
	for f in /sys/fs/cgroup/pids/"$TAG-h$i"/*/cgroup.procs /sys/fs/cgroup/"$TAG-h$i"/*/cgroup.procs; do
		[ -f "$f" ] && cat "$f"
	done
	return 0
}

# kill_host_pids I SIGNAL signals all of host I's processes (twice over, for
# any started meanwhile).
kill_host_pids() {
	local i=$1 sig=$2 pids p left=""
	for _ in 1 2; do
		pids=$(host_pids "$i" | sort -u | grep -vx "$$" || true)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill "-$sig" $pids 2>/dev/null || true
		sleep 0.1
	done
	for _ in $(seq 50); do # until they are gone (reaped), within 5 s
		left=""
		for p in $(host_pids "$i" | sort -u | grep -vx "$$" || true); do
			if alive "$p"; then left="$left $p"; fi
		done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	echo "hosts.sh: host $i still has processes:$left" >&2
}

# wait_gone PID SECONDS waits for a process to exit; 1 if it is still there.
wait_gone() {
	local pid=$1 n=$(($2 * 10))
	while alive "$pid" && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	! alive "$pid"
}

# wait_reaped "PID..." waits (5 s at most) until the processes, dead, are
# reaped too (they are init's children), so none shows as a zombie after.
wait_reaped() {
	local p
	for _ in $(seq 50); do
		for p in $1; do
			if [ -e "/proc/$p" ]; then sleep 0.1; continue 2; fi
		done
		return 0
	done
}

# --- network -----------------------------------------------------------------

fw_rules() { # one rule per line, as iptables arguments after the chain
	cat <<EOF
FORWARD -i $BR -o $BR -j ACCEPT
FORWARD -i $BR -j DROP
FORWARD -o $BR -j DROP
INPUT -i $BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
INPUT -i $BR -j REJECT
EOF
}

net_up() {
	local chain rule
	ip link add "$BR" type bridge
	ip addr add "$NET.1/24" dev "$BR"
	ip link set "$BR" up
	# Inserted at the top in reverse, so they keep their order there.
	fw_rules | tac | while read -r chain rule; do
		# shellcheck disable=SC2086
		iptables -w -I "$chain" 1 $rule -m comment --comment "$TAG"
	done
}

host_net_up() {
	local i=$1
	ip netns add "$(ns_name "$i")"
	ip link add "$(veth "$i")" type veth peer name eth0 netns "$(ns_name "$i")"
	ip link set "$(veth "$i")" master "$BR" up
	in_ns "$i" ip link set lo up
	in_ns "$i" ip addr add "$(addr "$i")/24" dev eth0
	in_ns "$i" ip link set eth0 up
	# As on a fresh host; dockerd turns it on itself.
	in_ns "$i" sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
}

fw_down() {
	local line
	iptables-save -t filter 2>/dev/null | { grep -E -- "--comment $TAG( |$)" || true; } | sed 's/^-A /-D /' | while read -r line; do
		# shellcheck disable=SC2086
		iptables -w $line 2>/dev/null || true
	done
}

# --- engines -----------------------------------------------------------------

start_engine() {
	local i=$1 d r
	d=$(hdir "$i") r=$(hrun "$i")
	mkdir -p "$d/docker" "$r/exec"
	# cgroup-parent: its containers' cgroups are /sw-testbed-hI/ID, so kill
	# finds their processes; deprecated-key-path: the engine's own ID, not
	# the main engine's (/etc/docker/key.json).
	[ -f "$d/daemon.json" ] || cat >"$d/daemon.json" <<EOF
{
  "cgroup-parent": "/$TAG-h$i",
  "deprecated-key-path": "$d/key.json",
  "log-opts": {"max-size": "10m", "max-file": "2"}
}
EOF
	# setsid: the engine outlives this script and any terminal; every fd
	# redirected, so a caller reading our output is not held open by it.
	setsid nsenter --net="$(ns_path "$i")" -- dockerd \
		--data-root "$d/docker" --exec-root "$r/exec" --pidfile "$r/docker.pid" \
		-H "$(sock "$i")" --config-file "$d/daemon.json" --storage-driver vfs \
		</dev/null >>"$d/dockerd.log" 2>&1 &
	echo $! >"$r/dockerd.launched"
}

wait_engine() {
	local i=$1 n=$((ENGINE_WAIT * 10))
	until dk "$i" info --format '{{.ID}}' >/dev/null 2>&1; do
		n=$((n - 1))
		if [ "$n" -le 0 ] || ! alive "$(pidof_file "$(hrun "$i")/dockerd.launched")"; then
			echo "hosts.sh: host $i's engine did not answer (or exited) within ${ENGINE_WAIT}s; tail of $(hdir "$i")/dockerd.log:" >&2
			tail -n 20 "$(hdir "$i")/dockerd.log" >&2 || true
			return 1
		fi
		sleep 0.1
	done
}

stop_engine() {
	local i=$1 pid
	pid=$(pidof_file "$(hrun "$i")/docker.pid")
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
	fi
}

# unmount_under DIR... lazily unmounts every mount at or under the dirs,
# deepest first.
unmount_under() {
	local pat m
	pat=$(printf '%s|' "$@")
	findmnt -rn -o TARGET | { grep -E "^(${pat%|})(/|$)" || true; } | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
}

# clear_runtime I wipes what a reboot would of host I, once its processes
# are gone: its shims' sockets (in containerd's fixed /run/containerd/s,
# named in each task bundle's address file), its mounts (containers'
# netns and shm, the data root's bind mount) and its exec-root.
clear_runtime() {
	local i=$1 a r
	r=$(hrun "$i")
	for a in "$r"/exec/containerd/daemon/io.containerd.runtime.v2.task/*/*/address; do
		[ -f "$a" ] || continue
		a=$(cat "$a")
		a=${a#unix://}
		case $a in /run/containerd/s/*) rm -f "$a" ;; esac
	done
	unmount_under "$r" "$(hdir "$i")"
	rm -rf "$r/exec" "$r/docker.pid" "$r/dockerd.launched" "$r/sw.pid" "$r/sw.sock"
}

# --- sw ----------------------------------------------------------------------

build_sw() {
	if [ -z "${SW_BIN:-}" ]; then
		mkdir -p "$DIR/bin"
		go build -o "$DIR/bin/sw" .
	fi
	[ -x "$(sw_bin)" ] || die "no sw binary at $(sw_bin)"
}

start_sw() {
	local i=$1 d r
	d=$(hdir "$i") r=$(hrun "$i")
	mkdir -p "$d/sw" "$r"
	rm -f "$r/sw.sock"
	setsid nsenter --net="$(ns_path "$i")" -- env DOCKER_HOST="$(sock "$i")" SW_DNS_UPSTREAM="$NET.1:53" \
		"$(sw_bin)" -H "$(sw_sock "$i")" daemon --data-dir "$d/sw" --hostname "host$i" --ingress-addr "$(addr "$i")" \
		</dev/null >>"$d/sw.log" 2>&1 &
	echo $! >"$r/sw.pid"
	touch "$d/sw.on"
	for _ in $(seq 100); do [ -S "$r/sw.sock" ] && return 0; sleep 0.1; done
	echo "hosts.sh: host $i's sw daemon did not start; tail of $d/sw.log:" >&2
	tail -n 20 "$d/sw.log" >&2 || true
	return 1
}

# stop_sw I [GRACE]: SIGTERM and GRACE seconds (default 5) before SIGKILL;
# GRACE 0 is SIGKILL at once.
stop_sw() {
	local i=$1 grace=${2:-5} pid
	pid=$(pidof_file "$(hrun "$i")/sw.pid")
	if alive "$pid"; then
		if [ "$grace" -gt 0 ]; then
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "$pid" "$grace" || true
		fi
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 5 || true
	fi
	rm -f "$(hrun "$i")/sw.pid" "$(hrun "$i")/sw.sock"
}

# --- commands ----------------------------------------------------------------

up() {
	local n=${1:-3} i t0 pids=() img
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 100 ]; then die "up: 1..100 hosts, got '$n'"; fi
	t0=$(date +%s%N)
	down >/dev/null
	command -v dockerd >/dev/null || die "dockerd not found"
	# The images, built on the main engine (fast when nothing changed).
	# shellcheck source=scripts/lib/images.sh
	(source scripts/lib/images.sh && require_engine && build_demo_image "${IMAGES[0]}" >/dev/null && build_shell_image "${IMAGES[1]}" >/dev/null)
	mkdir -p "$DIR" "$RUN"
	findmnt -rn /run/netns >/dev/null 2>&1 || touch "$RUN/made-run-netns"
	[ -e /run/containerd ] || touch "$RUN/made-run-containerd" # where the shims' sockets go
	docker save "${IMAGES[@]}" -o "$DIR/images.tar" &
	img=$!
	net_up
	for i in $(seq "$n"); do
		host_net_up "$i"
		start_engine "$i"
	done
	wait "$img" || die "docker save of ${IMAGES[*]} failed"
	for i in $(seq "$n"); do
		(wait_engine "$i" && dk "$i" load -q -i "$DIR/images.tar" >/dev/null) &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || die "host $((i + 1)): engine or image load failed"
	done
	rm -f "$DIR/images.tar"
	echo "$n" >"$RUN/hosts"
	t0=$((($(date +%s%N) - t0) / 1000000))
	printf 'test bed up: %d hosts in %d.%03ds\n' "$n" $((t0 / 1000)) $((t0 % 1000))
	for i in $(seq "$n"); do printf '  host%d %s  DOCKER_HOST=%s\n' "$i" "$(addr "$i")" "$(sock "$i")"; done
}

down() {
	local i ino made_netns="" made_containerd=""
	[ -f "$RUN/made-run-netns" ] && made_netns=1
	[ -f "$RUN/made-run-containerd" ] && made_containerd=1
	# Every process of the bed, to see them gone (reaped) at the end.
	local all
	all=$(for i in $(hosts); do host_pids "$i"; pidof_file "$(hrun "$i")/docker.pid"; pidof_file "$(hrun "$i")/sw.pid"; done | sort -u)
	# Each host in parallel: its sw daemon (killed: the swarm goes whole, and
	# a graceful stop takes seconds), its containers, its engine.
	for i in $(hosts); do
		(
			stop_sw "$i" 0
			if [ -S "$(hrun "$i")/docker.sock" ] && dk "$i" info >/dev/null 2>&1; then
				dk "$i" ps -aq | xargs -r env DOCKER_HOST="$(sock "$i")" docker rm -f >/dev/null 2>&1 || true
			fi
			stop_engine "$i"
		) &
	done
	wait
	# Whatever is left of a host (its containerd, shims, containers, a
	# command still running in its namespace) is killed.
	for i in $(hosts) $(ip netns list 2>/dev/null | sed -n "s/^${PFX}\([0-9]*\).*/\1/p"); do
		kill_host_pids "$i" KILL
	done
	for i in $(hosts); do clear_runtime "$i"; done
	unmount_under "$DIR" "$RUN"
	rm -rf "$DIR" "$RUN"
	if [ -n "$made_containerd" ]; then rmdir /run/containerd/s /run/containerd 2>/dev/null || true; fi
	wait_reaped "$all"
	# The containers' cgroups (v1 per controller, or v2).
	find /sys/fs/cgroup -maxdepth 3 -depth -type d -path "*/$TAG-h*" -exec rmdir {} + 2>/dev/null || true
	for i in $(ip netns list 2>/dev/null | sed -n "s/^${CPFX}\([0-9]*\).*/\1/p"); do
		ino=$(stat -L -c %i "/run/netns/$CPFX$i")
		find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\[$ino\]" 2>/dev/null | cut -d/ -f3 | xargs -r kill -KILL 2>/dev/null || true
	done
	ip netns list 2>/dev/null | sed -n "s/^\(\(${PFX}\|${CPFX}\)[0-9]*\).*/\1/p" | while read -r n; do ip netns del "$n"; done
	ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \(\(${PFX}\|${CPFX}\)[0-9]*\)[:@].*/\1/p" | while read -r l; do
		ip link del "$l" 2>/dev/null || true
	done
	ip link del "$BR" 2>/dev/null || true
	fw_down
	if [ -n "$made_netns" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
		if umount /run/netns 2>/dev/null; then rmdir /run/netns 2>/dev/null || true; fi
	fi
	echo "test bed down"
}

swarm() {
	local n managers i token
	n=$(hosts | tail -n 1)
	[ -n "$n" ] || die "swarm: the bed is not up (scripts/hosts.sh up N)"
	managers=${1:-$((n < 3 ? n : 3))}
	if ! [[ $managers =~ ^[0-9]+$ ]] || [ "$managers" -lt 1 ] || [ "$managers" -gt "$n" ]; then die "swarm: 1..$n managers"; fi
	for i in $(seq "$n"); do
		[ ! -f "$(hdir "$i")/sw.on" ] || die "swarm: already started on host $i (up again for a new one)"
	done
	build_sw
	for i in $(seq "$n"); do start_sw "$i"; done
	swn 1 swarm init --listen-addr "$(addr 1):2377" >/dev/null
	for i in $(seq 2 "$n"); do
		if [ "$i" -le "$managers" ]; then token=$(swn 1 swarm join-token -q manager); else token=$(swn 1 swarm join-token -q worker); fi
		swn "$i" swarm join --token "$token" --listen-addr "$(addr "$i"):2377" "$(addr 1):2377" >/dev/null
	done
	swn 1 node ls
	echo "scripts/hosts.sh sw I ...   # or: export SW_HOST=$(sw_sock 1)"
}

kill_host() {
	local i=$1
	need_host "$i"
	ip link set "$(veth "$i")" down
	kill_host_pids "$i" KILL
	rm -f "$(hrun "$i")/sw.pid" "$(hrun "$i")/sw.sock"
	echo "host $i killed"
}

revive() {
	local i=$1
	need_host "$i"
	if alive "$(pidof_file "$(hrun "$i")/docker.pid")"; then die "host $i's engine is still running"; fi
	# As after a reboot: /run is empty, the disk (data root, sw's data dir) kept.
	kill_host_pids "$i" KILL
	clear_runtime "$i"
	ip link set "$(veth "$i")" up
	start_engine "$i"
	wait_engine "$i"
	if [ -f "$(hdir "$i")/sw.on" ]; then start_sw "$i"; fi
	echo "host $i revived"
}

# client C: a namespace on the bridge with no engine, for a client "on the
# network" (idempotent).
client() {
	local c=$1 ns
	if ! [[ $c =~ ^[0-9]+$ ]] || [ "$c" -lt 1 ] || [ "$c" -gt 50 ]; then die "client: 1..50, got '$c'"; fi
	ip link show "$BR" >/dev/null 2>&1 || die "client: the bed is not up (scripts/hosts.sh up N)"
	ns=$CPFX$c
	if [ ! -e "/run/netns/$ns" ]; then
		ip netns add "$ns"
		ip link add "$ns" type veth peer name eth0 netns "$ns"
		ip link set "$ns" master "$BR" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$NET.$((200 + c))/24" dev eth0
		ip -n "$ns" link set eth0 up
	fi
	echo "/run/netns/$ns"
}

status() {
	local i e s
	for i in $(hosts); do
		e=down s=-
		alive "$(pidof_file "$(hrun "$i")/docker.pid")" && e=up
		[ -f "$(hdir "$i")/sw.on" ] && { s=down; alive "$(pidof_file "$(hrun "$i")/sw.pid")" && s=up; }
		printf 'host%d %s engine=%s sw=%s\n' "$i" "$(addr "$i")" "$e" "$s"
	done
}

[ "$(id -u)" -eq 0 ] || die "needs root (namespaces, bridges, iptables)"
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
up) up "$@" ;;
down) down ;;
swarm) swarm "$@" ;;
sh) need_host "${1:-}"; i=$1; shift; [ $# -gt 0 ] || die "sh: a command expected"; DOCKER_HOST=$(sock "$i") in_ns "$i" "$@" ;;
docker) need_host "${1:-}"; i=$1; shift; dk "$i" "$@" ;;
sw) need_host "${1:-}"; i=$1; shift; swn "$i" "$@" ;;
addr) addr "${1:?host number}" ;;
ns) ns_path "${1:?host number}" ;;
sock) sock "${1:?host number}" ;;
kill) kill_host "${1:-}" ;;
revive) revive "${1:-}" ;;
status) status ;;
client) client "${1:-}" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
