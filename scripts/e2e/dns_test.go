package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	swdns "sw/dns"
)

// upstreamName is the one name the fake upstream resolver knows; every
// daemon of these tests forwards other names to it (SW_DNS_UPSTREAM), so
// no query leaves this machine.
const (
	upstreamName = "outside.example"
	upstreamIP   = "192.0.2.10"
)

// startUpstream serves upstreamName on a loopback port and points the
// daemons started from now on at it.
func startUpstream() (*swdns.Server, error) {
	s := &swdns.Server{Addr: "127.0.0.1:0"}
	s.SetRecords(swdns.Records{swdns.Name(upstreamName): {net.ParseIP(upstreamIP)}})
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return s, os.Setenv("SW_DNS_UPSTREAM", s.LocalAddr().String())
}

// inside runs a command in a container; it returns the output and
// whether it exited 0.
func inside(t *testing.T, container string, cmd ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", container}, cmd...)...).CombinedOutput()
	return string(out), err == nil
}

// lookup resolves name from inside container with busybox nslookup and
// returns the sorted IPv4 answers (nil if the lookup failed).
func lookup(t *testing.T, container, name string) []string {
	t.Helper()
	out, ok := inside(t, container, "nslookup", "-type=a", name)
	if !ok {
		return nil
	}
	var ips []string
	answers := false
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "Name:") {
			answers = true
		}
		if f := strings.Fields(l); answers && len(f) == 2 && f[0] == "Address:" && net.ParseIP(f[1]).To4() != nil {
			ips = append(ips, f[1])
		}
	}
	sort.Strings(ips)
	return ips
}

// httpInside fetches http://host:port/ from inside container (busybox nc;
// its static wget cannot run there) and returns the body's "hello from"
// line.
func httpInside(t *testing.T, container, host string, port int) (string, bool) {
	t.Helper()
	out, ok := inside(t, container, "sh", "-c",
		fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 %s %d`, host, port))
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "hello from ") {
			return l, ok
		}
	}
	return out, false
}

// taskIPs lists the addresses of a service's running containers on nodes.
func taskIPs(t *testing.T, svc string, nodes ...*node) []string {
	t.Helper()
	var ips []string
	for _, n := range nodes {
		ids := strings.Fields(dockerOut(t, "ps", "-q", "--filter", "label=com.sw.node.id="+n.id, "--filter", "label=com.sw.service.name="+svc))
		for _, id := range ids {
			ips = append(ips, strings.TrimSpace(dockerOut(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)))
		}
	}
	sort.Strings(ips)
	return ips
}

// TestDNS: from inside a task container, a service name resolves to its
// VIP, tasks.<name> to the task addresses (dnsrr: the name too), VIP
// connections reach tasks on both nodes, other names go upstream; the
// plugin can be switched off and on at runtime.
func TestDNS(t *testing.T) {
	t.Parallel()
	nodes := newSwarm(t, "dns", 1, 1)
	m, w := nodes[0], nodes[1]
	m.ok("service", "create", "--name", "web", "--replicas", "2", demoImage)
	m.ok("service", "create", "--name", "rr", "--endpoint-mode", "dnsrr", "--replicas", "2", demoImage)
	m.ok("service", "create", "--name", "client", shellImage, "sleep", "3600")
	if got := runningTasksByNode(m, "web"); len(got) != 2 {
		t.Fatalf("web's 2 tasks should be on both nodes: %s", describe(got))
	}
	client := strings.Fields(dockerOut(t, "ps", "-q", "--filter", "label=com.sw.service.name=client",
		"--filter", "label=com.sw.node.id="+m.id))
	if len(client) == 0 {
		client = strings.Fields(dockerOut(t, "ps", "-q", "--filter", "label=com.sw.service.name=client",
			"--filter", "label=com.sw.node.id="+w.id))
	}
	if len(client) != 1 {
		t.Fatalf("want one client container, got %v", client)
	}
	c := client[0]

	// Docker's path to the VIP: an address of the swarm's default network
	// (from this node's address pool), with the network's prefix.
	vipCIDR := strings.TrimSpace(m.ok("service", "inspect", "--format", "{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}", "web"))
	vipIP, _, err := net.ParseCIDR(vipCIDR)
	_, pool, _ := net.ParseCIDR(m.pool)
	if err != nil || !pool.Contains(vipIP) {
		t.Fatalf("web's virtual IP %q, want an address of %s", vipCIDR, m.pool)
	}
	vip := vipIP.String()
	if pretty := m.ok("service", "inspect", "--pretty", "web"); !strings.Contains(pretty, "Endpoint Mode:\tvip\n") ||
		!strings.Contains(pretty, "Virtual IP:\t"+vip+"\n") {
		t.Fatalf("inspect --pretty lacks the endpoint:\n%s", pretty)
	}
	if got := strings.TrimSpace(m.ok("service", "inspect", "--format", "{{.Spec.EndpointSpec.Mode}}{{if .Endpoint.VirtualIPs}} has a VIP{{end}}", "rr")); got != "dnsrr" {
		t.Fatalf("rr endpoint: %q", got)
	}
	webIPs, rrIPs := taskIPs(t, "web", m, w), taskIPs(t, "rr", m, w)
	eventually(t, 10*time.Second, "names resolve from inside a task", func() (bool, string) {
		got := fmt.Sprint(lookup(t, c, "web"), lookup(t, c, "tasks.web"), lookup(t, c, "rr"), lookup(t, c, "tasks.rr"))
		want := fmt.Sprint([]string{vip}, webIPs, rrIPs, rrIPs)
		return got == want, "got " + got + " want " + want
	})
	if got := lookup(t, c, upstreamName); !slices.Equal(got, []string{upstreamIP}) {
		t.Fatalf("%s via the host's resolvers: %v", upstreamName, got)
	}

	seen := map[string]bool{}
	for range 6 {
		out, ok := httpInside(t, c, "web", 8080)
		if !ok {
			t.Fatalf("GET http://web:8080/ through the VIP: %q", out)
		}
		seen[out] = true
	}
	if len(seen) != 2 {
		t.Fatalf("6 connections to the VIP reached %d tasks, want 2: %v", len(seen), seen)
	}

	m.ok("plugin", "disable", "dns")
	eventually(t, 10*time.Second, "names gone while dns is off", func() (bool, string) {
		got := lookup(t, c, "web")
		return got == nil, fmt.Sprint(got)
	})
	r := m.sw("service", "create", "--name", "rr2", "--endpoint-mode", "dnsrr", demoImage)
	if r.code == 0 || !strings.Contains(r.stderr, "plugin dns is disabled") || r.stdout != "" {
		t.Fatalf("dnsrr while dns is off: %+v", r)
	}
	m.ok("plugin", "enable", "dns")
	eventually(t, 10*time.Second, "names back after enable", func() (bool, string) {
		got := lookup(t, c, "web")
		return slices.Equal(got, []string{vip}), fmt.Sprint(got)
	})
	if out, ok := httpInside(t, c, "web", 8080); !ok || !strings.Contains(out, "hello from web.") {
		t.Fatalf("VIP after enable: %q", out)
	}

	// A VIP with no running task refuses connections on the spot; the
	// packets never leave for whatever else has that address.
	m.ok("service", "scale", "web=0")
	var took time.Duration
	var out string
	took = timed(func() {
		out, _ = inside(t, c, "sh", "-c", "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 "+vip+" 8080; echo rc=$?")
	})
	if strings.Contains(out, "hello from") || !strings.Contains(out, "rc=1") || took > 2*time.Second {
		t.Fatalf("VIP with no task: %q after %s, want a refusal at once", out, took)
	}
}
