# shellcheck shell=bash
# images.sh: build the images sw's demos and tests need. Source it:
#
#   source "$repo/scripts/lib/images.sh"
#   require_engine                    # fails (status 1) with a clear message if the engine is down
#   img=$(build_demo_image)           # builds sw-demo:latest, prints the tag
#   img=$(build_demo_image my:tag)    # any tag
#
# There is no registry and no network: every image is built locally. The demo
# image is FROM scratch with one static Go binary (scripts/demoapp), so the
# engine never pulls anything. Safe under `set -euo pipefail`; sets no shell
# options and no traps in the caller's shell.

# Directory of this file, resolved once at source time (BASH_SOURCE is the
# reliable way to find a sourced file).
_SW_IMAGES_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# sw_repo_root prints the repository root (two levels above this file).
sw_repo_root() {
	(cd "$_SW_IMAGES_LIB_DIR/../.." && pwd -P)
}

# require_engine returns 0 if the Docker engine answers, else prints why on
# stderr and returns 1.
require_engine() {
	local err
	if ! command -v docker >/dev/null 2>&1; then
		err="docker CLI not found in PATH"
	elif err=$(docker info --format '{{.ServerVersion}}' 2>&1 >/dev/null); then
		return 0 # stderr may hold harmless warnings; the status is what counts
	fi
	err=${err:-docker info failed}
	err=${err//$'\n'/ }
	err=${err%"${err##*[![:space:]]}"} # trim trailing blanks
	printf "sw: cannot reach the Docker engine at /var/run/docker.sock: %s; start it (e.g. 'service docker start') and retry\n" "$err" >&2
	return 1
}

# build_demo_image [TAG] builds the demo image (default sw-demo:latest) from
# scripts/demoapp and prints TAG on stdout; build output goes to stderr only
# on failure. Fast when nothing changed: go's build cache gives an identical
# binary and docker's build cache reuses the layer.
build_demo_image() {
	local tag=${1:-sw-demo:latest}
	local root tmp out rc=0
	root=$(sw_repo_root) || return 1
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/sw-demo-image.XXXXXX") || return 1

	if ! out=$(cd "$root" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags='-s -w' \
		-o "$tmp/demoapp" ./scripts/demoapp 2>&1); then
		printf 'sw: building scripts/demoapp failed:\n%s\n' "$out" >&2
		rm -rf -- "$tmp"
		return 1
	fi

	cat >"$tmp/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY demoapp /demoapp
EXPOSE 8080
ENTRYPOINT ["/demoapp"]
DOCKERFILE

	out=$(docker build -q -t "$tag" "$tmp" 2>&1) || rc=$?
	rm -rf -- "$tmp"
	if ((rc != 0)); then
		printf 'sw: docker build of %s failed:\n%s\n' "$tag" "$out" >&2
		return 1
	fi
	printf '%s\n' "$tag"
}

# build_unhealthy_image [BASE] [TAG] builds, from the demo image BASE
# (default sw-demo:latest, which must exist), an image whose HEALTHCHECK
# always fails (default tag sw-demo:unhealthy): a "new version" that never
# becomes healthy, for rolling updates that must pause or roll back.
# Prints TAG.
build_unhealthy_image() {
	local base=${1:-sw-demo:latest} tag=${2:-sw-demo:unhealthy} out
	if ! out=$(printf 'FROM %s\nHEALTHCHECK --interval=500ms --timeout=1s --retries=1 CMD ["/demoapp","health","http://127.0.0.1:1/"]\n' "$base" |
		docker build -q -t "$tag" - 2>&1); then
		printf 'sw: docker build of %s failed:\n%s\n' "$tag" "$out" >&2
		return 1
	fi
	printf '%s\n' "$tag"
}

# build_shell_image [TAG] builds a shell image (default sw-shell:latest)
# holding Debian's static busybox (sh, nslookup, wget, nc, …), by `docker
# import` of a tarball, and prints TAG. It installs busybox-static with
# apt-get when /bin/busybox is missing. Skips the import when the image
# exists.
build_shell_image() {
	local tag=${1:-sw-shell:latest}
	local tmp rc=0 applet
	if docker image inspect "$tag" >/dev/null 2>&1; then
		printf '%s\n' "$tag"
		return 0
	fi
	if [ ! -x /bin/busybox ]; then
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; } >/dev/null 2>&1; then
			printf 'sw: /bin/busybox is missing and apt-get install busybox-static failed\n' >&2
			return 1
		fi
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/sw-shell-image.XXXXXX") || return 1
	mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp"
	cp /bin/busybox "$tmp/bin/busybox"
	for applet in sh ash cat echo ls sleep nslookup wget nc grep sed head tr wc seq true false kill; do
		ln -s busybox "$tmp/bin/$applet"
	done
	tar -C "$tmp" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - "$tag" >/dev/null || rc=$?
	rm -rf -- "$tmp"
	if ((rc != 0)); then
		printf 'sw: docker import of %s failed\n' "$tag" >&2
		return 1
	fi
	printf '%s\n' "$tag"
}
