package nat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownerTag starts the comment of a chain's first rule, before the owner's
// process ID.
const ownerTag = "sw owner pid "

// Collect removes the chains whose owner process is gone (a daemon killed
// before it could remove its own), except keep. alive says whether a
// process ID still runs (see [Alive]).
func Collect(ctx context.Context, run Runner, keep string, alive func(pid int) bool) error {
	out, err := run(ctx, nil, "iptables-save", "-t", "nat")
	if err != nil {
		return err
	}
	var errs []error
	for name, pid := range Owners(out) {
		if name != keep && !alive(pid) {
			errs = append(errs, remove(ctx, run, name))
		}
	}
	return errors.Join(errs...)
}

// Owners reads iptables-save output and returns this package's chains by
// the process ID that owns them. It is a pure function.
func Owners(save []byte) map[string]int {
	owners := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(save))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "-A" || !strings.HasPrefix(f[1], ChainPrefix) {
			continue
		}
		line := sc.Text()
		i := strings.Index(line, ownerTag)
		if i < 0 {
			continue
		}
		rest := strings.TrimLeft(line[i+len(ownerTag):], " ")
		end := strings.IndexAny(rest, "\" ")
		if end < 0 {
			end = len(rest)
		}
		if pid, err := strconv.Atoi(rest[:end]); err == nil {
			owners[f[1]] = pid
		}
	}
	return owners
}

// Alive reports whether a process with this ID exists on this host.
func Alive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

// RouteLocalnet lets traffic addressed to 127.0.0.0/8 be forwarded to
// containers behind bridge iface (as Docker does when it forwards loopback
// ports itself): without it the kernel drops such packets as martians.
// Since that also lets the containers send to the host's 127.0.0.0/8, it
// first makes sure the filter table drops what they send there that was
// not translated (the guard kube-proxy uses against CVE-2020-8558).
func RouteLocalnet(ctx context.Context, run Runner, iface string) error {
	if iface == "" || strings.ContainsAny(iface, "/. ") {
		return fmt.Errorf("nat: bad interface name %q", iface)
	}
	guard := []string{"INPUT", "-i", iface, "-d", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
		"RELATED,ESTABLISHED,DNAT", "-j", "DROP"}
	if err := ensureRule(ctx, run, "filter", "-I", guard); err != nil {
		return err
	}
	p := filepath.Join("/proc/sys/net/ipv4/conf", iface, "route_localnet")
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("nat: enable route_localnet on %s: %w", iface, err)
	}
	return nil
}
