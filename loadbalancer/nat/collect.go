package nat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownerTag starts the comment of a chain's first rule, before the owner's
// process ID and its start time (so a reused PID is not taken for it).
const ownerTag = "sw owner pid "

// Owner identifies the process that owns a chain.
type Owner struct {
	PID int
	// Start is the process's start time in clock ticks since boot
	// (/proc/PID/stat field 22); 0 if unknown.
	Start uint64
}

// Self is this process as an owner.
func Self() Owner {
	pid := os.Getpid()
	return Owner{PID: pid, Start: startTime(pid)}
}

func (o Owner) tag() string {
	return fmt.Sprintf("%s%d start %d", ownerTag, o.PID, o.Start)
}

// Collect removes the chains (of both tables) whose owner process is gone (a daemon killed
// before it could remove its own), except keep, and the filter rules of
// bridges that are gone (CollectFilter). alive says whether an owner still
// runs (see [Alive]).
func Collect(ctx context.Context, run Runner, keep string, alive func(Owner) bool) error {
	var out []byte
	for _, table := range []string{"nat", "filter"} {
		save, err := run(ctx, nil, "iptables-save", "-t", table)
		if err != nil {
			return err
		}
		out = append(out, save...)
	}
	// Removals are best effort: another daemon starting at the same time
	// may be removing the same leftovers.
	owners := Owners(out)
	for name, pid := range owners {
		if name != keep && !alive(pid) {
			_ = remove(ctx, run, name)
		}
	}
	for _, name := range Orphans(out, owners) {
		if name != keep {
			_ = remove(ctx, run, name)
		}
	}
	return CollectFilter(ctx, run, InterfaceExists)
}

// Orphans lists this package's chains that have no owner rule: emptied by
// an owner that stopped before deleting them. A chain in use always has
// one, as iptables-restore writes it with the rules in one step.
func Orphans(save []byte, owners map[string]Owner) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(save))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.HasPrefix(f[0], ":"+ChainPrefix) {
			if name := f[0][1:]; owners[name] == (Owner{}) {
				out = append(out, name)
			}
		}
	}
	return out
}

// Owners reads iptables-save output and returns this package's chains by
// the process that owns them. It is a pure function.
func Owners(save []byte) map[string]Owner {
	owners := map[string]Owner{}
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
		var o Owner
		rest := strings.TrimRight(line[i+len(ownerTag):], "\" ")
		if _, err := fmt.Sscanf(rest, "%d start %d", &o.PID, &o.Start); err != nil && o.PID == 0 {
			continue
		}
		owners[f[1]] = o
	}
	return owners
}

// Alive reports whether the owner still runs on this host: its PID exists
// and, when known, started when the owner did.
func Alive(o Owner) bool {
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(o.PID))); err != nil {
		return false
	}
	return o.Start == 0 || startTime(o.PID) == o.Start
}

// startTime reads a process's start time from /proc/PID/stat; 0 if it
// cannot.
func startTime(pid int) uint64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64) // field 22 overall
	return v
}

// filterTag marks this package's filter rules, so that only they are
// ever collected.
const filterTag = "sw-managed"

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
		"RELATED,ESTABLISHED,DNAT", "-m", "comment", "--comment", filterTag, "-j", "DROP"}
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

// CollectFilter removes the filter rules this package added for bridges
// that no longer exist (a swarm's task network removed): the loopback
// guard of RouteLocalnet and the refusal of RejectUnrouted. exists says
// whether an interface is there (see [InterfaceExists]).
func CollectFilter(ctx context.Context, run Runner, exists func(string) bool) error {
	out, err := run(ctx, nil, "iptables-save", "-t", "filter")
	if err != nil {
		return err
	}
	for _, rule := range StaleFilterRules(out, exists) {
		// Best effort, as in Collect.
		_, _ = run(ctx, nil, "iptables", append([]string{"-w", lockWait, "-t", "filter", "-D"}, rule...)...)
	}
	return nil
}

// StaleFilterRules picks, from iptables-save output, this package's filter
// rules whose bridge is gone, as the arguments that delete them. It is a
// pure function.
func StaleFilterRules(save []byte, exists func(string) bool) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(save))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != "-A" || (f[1] != "INPUT" && f[1] != "FORWARD") {
			continue
		}
		iface := ""
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "-i" {
				iface = f[i+1]
			}
		}
		ours := strings.HasPrefix(iface, bridgePrefix) && strings.Contains(sc.Text(), "--comment "+filterTag+" ")
		if ours && !exists(iface) {
			out = append(out, f[1:])
		}
	}
	return out
}

// bridgePrefix starts the names of swarm task network bridges.
const bridgePrefix = "sw-"

// InterfaceExists reports whether the host has a network interface name.
func InterfaceExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// SourceFor makes the connections this package forwards that leave on
// iface come from addr (inserted before the masquerade rule, which
// would take the interface's first address): where every host's bridge
// has the same gateway address, replies must find their way back to the
// one host that forwarded the connection.
func SourceFor(ctx context.Context, run Runner, iface, addr string) error {
	if iface == "" || strings.ContainsAny(iface, "/. ") || net.ParseIP(addr).To4() == nil {
		return fmt.Errorf("nat: bad source rule %q %q", iface, addr)
	}
	return ensureRule(ctx, run, "nat", "-I", sourceRule(iface, addr))
}

// ForgetSource removes what SourceFor added.
func ForgetSource(ctx context.Context, run Runner, iface, addr string) error {
	_, err := run(ctx, nil, "iptables", append([]string{"-w", lockWait, "-t", "nat", "-D"}, sourceRule(iface, addr)...)...)
	return err
}

func sourceRule(iface, addr string) []string {
	return []string{"POSTROUTING", "-o", iface, "-m", "mark", "--mark", masqMark, "-m", "comment", "--comment", filterTag,
		"-j", "SNAT", "--to-source", addr}
}
