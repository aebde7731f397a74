// Package nat programs the kernel's netfilter NAT table so that new
// connections to a frontend are forwarded by the kernel straight to a
// backend, round-robin, with no userspace hop. It drives the iptables
// command that every Docker host has (the engine itself uses it), through
// iptables-restore so that a chain is replaced in one atomic step.
//
// Each owner (one plugin on one node) has its own chain, jumped to from the
// nat table's PREROUTING (traffic from other hosts and from containers) and
// OUTPUT (traffic from this host). A chain of the same name in the filter
// table, jumped to from FORWARD, accepts exactly the connections the nat
// chain translated, to exactly their backends: a fresh Docker host drops
// everything else it forwards (dockerd sets the FORWARD policy to DROP), so
// without it a published port would answer only the host's own loopback.
// Both chains are written in one iptables-restore step. The chains' first
// rule records the owner's process ID, so chains left behind by a process
// that died can be found and removed by the next one that starts
// ([Collect]).
package nat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ChainPrefix starts the name of every chain this package makes.
const ChainPrefix = "SW-"

// masqMark marks connections this package forwards, so that POSTROUTING
// masquerades them: replies then come back through this host, where the
// kernel undoes the translation, whatever the client and backend are.
const masqMark = "0x20000/0x20000"

// Rule forwards new connections that match it to Backends, round-robin.
type Rule struct {
	// Proto is "tcp" or "udp"; "" matches every protocol (a virtual IP).
	Proto string
	// Dst is the destination IP; "" matches every local address.
	Dst string
	// Port is the destination port; 0 matches every port (which is kept).
	Port uint16
	// InIface limits the rule to traffic arriving on one interface (e.g. a
	// bridge); "" also matches this host's own traffic.
	InIface string
	// Backends are "ip:port", or "ip" when Port is 0.
	Backends []string
	// Direct leaves the connections' source as it is (no masquerade):
	// for clients whose replies come back through this host anyway. A
	// Direct rule with a Dst and no backends (a virtual IP whose service
	// runs no task) refuses its connections (REJECT, reached through
	// INPUT): the address is local to this host, and whatever listens on
	// the host's wildcard address must not answer for the service.
	Direct bool
}

// Runner runs an iptables command with stdin; tests replace it.
type Runner func(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)

// Exec runs the real commands.
func Exec(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("nat: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Chain is one owner's chain. Its methods are safe for concurrent use.
type Chain struct {
	name  string
	owner Owner
	run   Runner

	mu      sync.Mutex
	hooked  bool      // jumps and the masquerade rule are in place
	applied string    // the rules last written, to skip identical writes
	written time.Time // when: past refreshEvery, they are written again
}

// refreshEvery bounds how long rules removed behind sw's back (a firewall
// reload, `iptables -t nat -F`) stay missing.
const refreshEvery = 30 * time.Second

// lockWait is how long a command waits for the xtables lock.
const lockWait = "5"

// NewChain returns the chain called name (at most 28 characters, starting
// with ChainPrefix), owned by owner (usually [Self]), driven through run.
func NewChain(name string, owner Owner, run Runner) *Chain {
	return &Chain{name: name, owner: owner, run: run}
}

// Name is the chain's name.
func (c *Chain) Name() string { return c.name }

// Sync makes the chain hold exactly rules. It writes only when they
// changed; established connections keep their backend either way, as the
// kernel keeps each connection's translation.
func (c *Chain) Sync(ctx context.Context, rules []Rule) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	body := Render(c.name, c.owner, rules)
	fresh := time.Since(c.written) < refreshEvery
	if c.hooked && body == c.applied && fresh {
		return nil
	}
	if _, err := c.run(ctx, []byte(body), "iptables-restore", "-w", lockWait, "--noflush"); err != nil {
		return err
	}
	c.applied, c.written = body, time.Now()
	if !c.hooked || !fresh {
		if err := c.hook(ctx); err != nil {
			c.hooked = false
			return err
		}
		c.hooked = true
	}
	return nil
}

// hook makes sure the chains are jumped to and marked traffic
// masqueraded.
func (c *Chain) hook(ctx context.Context) error {
	for _, r := range [][]string{
		{"PREROUTING", "-j", c.name},
		{"OUTPUT", "-j", c.name},
	} {
		if err := ensureRule(ctx, c.run, "nat", "-I", r); err != nil {
			return err
		}
	}
	if err := ensureRule(ctx, c.run, "nat", "-A", []string{"POSTROUTING", "-m", "mark", "--mark", masqMark, "-j", "MASQUERADE"}); err != nil {
		return err
	}
	// INPUT sees only what the nat chain did not translate: of the filter
	// chain's rules, just the refusals of idle virtual IPs match there.
	if err := ensureRule(ctx, c.run, "filter", "-I", []string{"INPUT", "-j", c.name}); err != nil {
		return err
	}
	return c.hookForward(ctx)
}

// hookForward makes sure FORWARD jumps to the filter chain: just after
// the jump to DOCKER-USER when there is one, so that an administrator's
// own restrictions there still come first, else at the top.
func (c *Chain) hookForward(ctx context.Context) error {
	jump := []string{"FORWARD", "-j", c.name}
	if _, err := c.run(ctx, nil, "iptables", append([]string{"-w", lockWait, "-t", "filter", "-C"}, jump...)...); err == nil {
		return nil
	}
	pos := 1
	if out, err := c.run(ctx, nil, "iptables", "-w", lockWait, "-t", "filter", "-S", "FORWARD"); err == nil {
		pos = ForwardPosition(out)
	}
	_, err := c.run(ctx, nil, "iptables", "-w", lockWait, "-t", "filter", "-I", "FORWARD", fmt.Sprint(pos), "-j", c.name)
	return err
}

// ForwardPosition reads `iptables -S FORWARD` and returns the rule number
// just after the jump to DOCKER-USER, or 1 when there is none. It is a
// pure function.
func ForwardPosition(list []byte) int {
	n := 0
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		n++
		if strings.Join(f[1:], " ") == "FORWARD -j DOCKER-USER" {
			return n + 1
		}
	}
	return 1
}

// ensureRule adds rule to table (with op -I or -A) unless it is there.
func ensureRule(ctx context.Context, run Runner, table, op string, rule []string) error {
	if _, err := run(ctx, nil, "iptables", append([]string{"-w", lockWait, "-t", table, "-C"}, rule...)...); err == nil {
		return nil
	}
	_, err := run(ctx, nil, "iptables", append([]string{"-w", lockWait, "-t", table, op}, rule...)...)
	return err
}

// Close removes the chain and the jumps to it, giving up after 10 s.
func (c *Chain) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooked, c.applied = false, ""
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return remove(ctx, c.run, c.name)
}

// remove deletes chain name, in both tables, and every jump to it; a
// missing chain is fine.
func remove(ctx context.Context, run Runner, name string) error {
	var errs []error
	for _, t := range []struct {
		table string
		hooks []string
	}{{"nat", []string{"PREROUTING", "OUTPUT"}}, {"filter", []string{"FORWARD", "INPUT"}}} {
		for _, hook := range t.hooks {
			for range 8 { // a jump added twice by a race is deleted twice
				if _, err := run(ctx, nil, "iptables", "-w", lockWait, "-t", t.table, "-D", hook, "-j", name); err != nil {
					break
				}
			}
		}
		if _, err := run(ctx, nil, "iptables", "-w", lockWait, "-t", t.table, "-F", name); err != nil {
			continue // no such chain
		}
		if _, err := run(ctx, nil, "iptables", "-w", lockWait, "-t", t.table, "-X", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Render writes the iptables-restore input that replaces chain name's
// rules with rules, owned by owner. It is a pure function.
func Render(name string, owner Owner, rules []Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*nat\n:%s - [0:0]\n", name)
	fmt.Fprintf(&b, "-A %s -m comment --comment \"%s\"\n", name, owner.tag())
	for _, r := range rules {
		if len(r.Backends) == 0 {
			continue
		}
		match := r.match()
		if !r.Direct {
			fmt.Fprintf(&b, "-A %s %s -j MARK --set-xmark %s\n", name, match, masqMark)
		}
		n := len(r.Backends)
		for i, be := range r.Backends {
			stat := ""
			if i < n-1 {
				stat = fmt.Sprintf(" -m statistic --mode nth --every %d --packet 0", n-i)
			}
			fmt.Fprintf(&b, "-A %s %s%s -j DNAT --to-destination %s\n", name, match, stat, be)
		}
	}
	b.WriteString("COMMIT\n")
	// The filter chain: forwarded connections the nat chain translated,
	// both ways, to and from exactly its backends; and connections to a
	// virtual IP with none refused.
	fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n", name)
	fmt.Fprintf(&b, "-A %s -m comment --comment \"%s\"\n", name, owner.tag())
	for _, a := range accepts(rules) {
		fmt.Fprintf(&b, "-A %s %s -m conntrack --ctstate DNAT --ctdir ORIGINAL -j ACCEPT\n", name, a.match("-d", "--dport"))
		fmt.Fprintf(&b, "-A %s %s -m conntrack --ctstate DNAT --ctdir REPLY -j ACCEPT\n", name, a.match("-s", "--sport"))
	}
	for _, r := range rules {
		if r.Direct && r.Dst != "" && len(r.Backends) == 0 {
			fmt.Fprintf(&b, "-A %s %s -j REJECT\n", name, r.match())
		}
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// accept is one backend that translated connections may be forwarded to.
type accept struct {
	proto, ip, port string
}

// match renders the accept's match, with addr and port the flags for the
// backend's side ("-d", "--dport" or "-s", "--sport").
func (a accept) match(addr, port string) string {
	m := addr + " " + a.ip + "/32"
	if a.proto != "" {
		m += " -p " + a.proto
		if a.port != "" {
			m += " " + port + " " + a.port
		}
	}
	return m
}

// accepts lists the backends of rules once each, in order of first use.
func accepts(rules []Rule) []accept {
	var out []accept
	seen := map[accept]bool{}
	for _, r := range rules {
		for _, be := range r.Backends {
			a := accept{proto: r.Proto, ip: be}
			if host, port, err := net.SplitHostPort(be); err == nil {
				a.ip, a.port = host, port
			}
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// match renders the rule's match part.
func (r Rule) match() string {
	var parts []string
	if r.InIface != "" {
		parts = append(parts, "-i", r.InIface)
	}
	if r.Dst != "" {
		parts = append(parts, "-d", r.Dst+"/32")
	} else {
		parts = append(parts, "-m", "addrtype", "--dst-type", "LOCAL")
	}
	if r.Proto != "" {
		parts = append(parts, "-p", r.Proto)
		if r.Port != 0 {
			parts = append(parts, "--dport", fmt.Sprint(r.Port))
		}
	}
	return strings.Join(parts, " ")
}
