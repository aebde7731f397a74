# shellcheck shell=bash
# bed.sh: shared pieces for the benchmarks on the multi-host test bed
# (scripts/hosts.sh): bring a bed of one's own up, take it down on any exit,
# talk to its engines and sw daemons without going through hosts.sh (so
# nothing but the CLI itself is timed), note the machine's load.
#
# Source it from the repository root after setting BENCH (the script's name,
# for messages) and BED_DEFAULT_ID (the SW_TESTBED_ID used when none is
# given). It sets no shell options; bed_init sets the EXIT/INT/TERM traps.
#
# Environment read: SW_TESTBED_ID (the bed, 198.18.K.0/24; refused if a bed
# with that ID is up already, so another run's is never touched), SW_BIN (a
# prebuilt sw; default: built from this tree), KEEP_LOGS (a directory: the
# hosts' sw and dockerd logs are copied there before the bed goes down).

# shellcheck source=scripts/lib/daemon.sh
source scripts/lib/daemon.sh # median

export SW_TESTBED_ID=${SW_TESTBED_ID:-$BED_DEFAULT_ID}
BED_DIR=/var/lib/sw-testbed$SW_TESTBED_ID
BED_RUN=/run/sw-testbed$SW_TESTBED_ID
BED_NET=198.18.$SW_TESTBED_ID
BED_OWNED=""
WORK=""

log() { printf '%s\n' "$*" >&2; }
fail() {
	log "$BENCH: FAIL: $*"
	exit 1
}
H() { scripts/hosts.sh "$@"; }
# dk I ARGS: docker against host I's engine; swc I ARGS: sw against host I's daemon.
dk() {
	local i=$1
	shift
	DOCKER_HOST="unix://$BED_RUN/h$i/docker.sock" docker "$@"
}
swc() {
	local i=$1
	shift
	"$SW_BIN" -H "unix://$BED_RUN/h$i/sw.sock" "$@"
}
haddr() { echo "$BED_NET.$((10 + $1))"; }
now_ns() { date +%s%N; }
# secs NS: nanoseconds as seconds, 3 decimals
secs() { awk -v n="$1" 'BEGIN { printf "%.3f\n", n / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "n/a" }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOADS="" BEDS_SEEN=""
# note_load: the 1-minute load average now, and the other beds up now,
# kept for the summary.
note_load() {
	local b
	LOADS+="$(cut -d' ' -f1 /proc/loadavg) "
	for b in $(other_beds); do
		[ "$b" = none ] || [[ " $BEDS_SEEN " == *" $b "* ]] || BEDS_SEEN+="$b "
	done
}
# beds_seen: the other beds seen up at some note_load.
beds_seen() { echo "${BEDS_SEEN:-none}"; }
# load_summary: "min..max (N samples)" of the noted loads.
load_summary() {
	# shellcheck disable=SC2086
	printf '%s\n' $LOADS | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%s..%s over %d runs\n", v[1], v[NR], NR; else print "n/a" }'
}
# other_beds: the other test beds up on this machine (other people's work).
other_beds() {
	local d n=""
	for d in /run/sw-testbed*; do
		[ -d "$d" ] || continue
		[ "$d" = "$BED_RUN" ] && continue
		n+="${d#/run/} "
	done
	echo "${n:-none}"
}

bed_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ -n "$BED_OWNED" ]; then
		if [ -n "${KEEP_LOGS:-}" ]; then
			mkdir -p "$KEEP_LOGS"
			for d in "$BED_DIR"/h[0-9]*; do
				[ -d "$d" ] || continue
				cp "$d/sw.log" "$KEEP_LOGS/${d##*/}-sw.log" 2>/dev/null
				cp "$d/dockerd.log" "$KEEP_LOGS/${d##*/}-dockerd.log" 2>/dev/null
			done
			log "== logs kept in $KEEP_LOGS"
		fi
		log "== taking the bed down (SW_TESTBED_ID=$SW_TESTBED_ID)"
		H down >/dev/null 2>&1 || log "$BENCH: scripts/hosts.sh down failed; run: SW_TESTBED_ID=$SW_TESTBED_ID scripts/hosts.sh down"
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit "$rc"
}

# bed_init: checks the bed's ID is free, makes $WORK, builds sw (into
# $WORK unless SW_BIN is given) and sets the traps that take the bed down.
bed_init() {
	[ "$(id -u)" = 0 ] || fail "needs root (scripts/hosts.sh: namespaces, bridges, iptables, dockerd)"
	if [ -e "$BED_RUN" ] || [ -e "$BED_DIR" ] || ip link show "swtb$SW_TESTBED_ID" >/dev/null 2>&1; then
		fail "test bed $SW_TESTBED_ID is in use (another run?); pick another SW_TESTBED_ID, or take it down: SW_TESTBED_ID=$SW_TESTBED_ID scripts/hosts.sh down"
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/sw-$BENCH.XXXXXX")
	trap bed_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [ -z "${SW_BIN:-}" ]; then
		log "== building sw"
		go build -o "$WORK/sw" . || fail "go build"
		SW_BIN=$WORK/sw
	fi
	[ -x "$SW_BIN" ] || fail "no sw binary at $SW_BIN"
	SW_BIN=$(realpath "$SW_BIN")
	export SW_BIN
}

# bed_up N [MANAGERS]: hosts 1..N, and a swarm of them made by hosts.sh (so
# that kill/revive manage the sw daemons too).
bed_up() {
	log "== scripts/hosts.sh up $1 (SW_TESTBED_ID=$SW_TESTBED_ID, $BED_NET.0/24)"
	BED_OWNED=1
	H up "$1" >&2 || fail "hosts.sh up $1"
	log "== scripts/hosts.sh swarm ${2:-}"
	# shellcheck disable=SC2086
	H swarm ${2:-} >&2 || fail "hosts.sh swarm ${2:-}"
}

# machine: one line about the machine and the bed.
machine() {
	printf '%s cores (%s), Linux %s; bed: netns hosts, each its own dockerd %s, storage %s\n' \
		"$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(uname -r)" \
		"$(dk 1 version --format '{{.Server.Version}}' 2>/dev/null)" "$(dk 1 info --format '{{.Driver}}' 2>/dev/null)"
}

# wait_for SECONDS WHAT CMD...: until CMD succeeds (every 0.2 s), or fail.
wait_for() {
	local limit=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "$what: not within ${limit}s"
		sleep 0.2
	done
}

# no_containers LABEL I...: true when none of hosts I... has a container
# (running or not) with LABEL.
no_containers() {
	local label=$1 i
	shift
	for i in "$@"; do
		[ -z "$(dk "$i" ps -aq --filter "label=$label")" ] || return 1
	done
}

# install_wrk: wrk (Debian package) when missing.
install_wrk() {
	command -v wrk >/dev/null 2>&1 && return 0
	command -v apt-get >/dev/null 2>&1 || fail "wrk not found and no apt-get to install it"
	log "== installing wrk (apt-get)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >&2 || fail "apt-get install wrk"
	command -v wrk >/dev/null 2>&1 || fail "wrk still not found after install"
}
