package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// taskName is the "web.2.<id>" a demo task answers with.
var taskName = regexp.MustCompile(`hello from (\S+)`)

// answering collects the tasks that answer n GETs of url (from the root
// namespace through the bed's bridge: a client on the network).
func answering(url string, n int) map[string]int {
	out := map[string]int{}
	for range n {
		body, err := bedGet(url)
		if m := taskName.FindStringSubmatch(body); err == nil && m != nil {
			out[m[1]]++
		} else {
			out["error"]++
		}
	}
	return out
}

// containerIP is the address of a service's one running container on a
// host's engine, on the swarm's default network.
func containerIP(t *testing.T, h *bedHost, nodeID, svc string) string {
	t.Helper()
	id := strings.TrimSpace(h.dockerOK(t, "ps", "-q", "--filter", "label=com.sw.node.id="+nodeID, "--filter", "label=com.sw.service.name="+svc))
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("%s: want one running %s container, got %q", h.name, svc, id)
	}
	return strings.TrimSpace(h.dockerOK(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", id))
}

// TestTestbedMeshAndVIPs: on three hosts with Docker's default pools and
// a fresh host's FORWARD policy (DROP), a published port answers clients
// on the network at every host, those with no task included, reaching
// tasks on every host over the overlay; tasks have distinct swarm-wide
// addresses (no two hosts' first tasks share 172.18.0.2); a task's
// `tasks.web` and `web` (the VIP) reach the tasks of every host.
func TestTestbedMeshAndVIPs(t *testing.T) {
	b := testbed(t, 3)
	hosts := b.hosts(3)
	nodes := b.swarm(t, 2, 1)
	lead := nodes[0]
	for _, h := range hosts {
		if pol := h.run(t, "iptables", "-S", "FORWARD"); !strings.Contains(pol.stdout, "-P FORWARD DROP") {
			t.Fatalf("%s's FORWARD policy is not DROP (a fresh Docker host's):\n%s", h.name, pol.stdout)
		}
	}

	// One task, on host3: every host's published port reaches it.
	lead.ok("service", "create", "--name", "web", "--replicas", "1", "--constraint", "node.hostname==host3", "-p", "18080:8080", demoImage)
	for _, h := range hosts {
		url := "http://" + h.addr + ":18080/"
		eventually(t, 20*time.Second, "the mesh at "+h.name+" reaching web.1 on host3", func() (bool, string) {
			got := answering(url, 1)
			return len(got) == 1 && got["error"] == 0, fmt.Sprint(got)
		})
	}
	if body, err := b.client(t, 2).get("http://" + hosts[0].addr + ":18080/"); err != nil || !strings.Contains(body, "hello from web.1.") {
		t.Fatalf("from client namespace 2 to host1 (no task there): %q, %v", body, err)
	}

	// Three tasks, one per host: each host's port balances over all three.
	lead.ok("service", "update", "--replicas", "3", "--constraint-rm", "node.hostname==host3", "web")
	eventually(t, 60*time.Second, "web's 3 tasks running, one per host", func() (bool, string) {
		ctrs := bedContainers(t, "web", hosts, nodes)
		return len(ctrs) == 3 && sum(ctrs) == 3 && sum(runningTasksByNode(lead, "web")) == 3, fmt.Sprint(ctrs)
	})
	for _, h := range hosts {
		url := "http://" + h.addr + ":18080/"
		eventually(t, 20*time.Second, "the mesh at "+h.name+" reaching the tasks of all three hosts", func() (bool, string) {
			got := answering(url, 9)
			return len(got) == 3 && got["error"] == 0, fmt.Sprint(got)
		})
	}
	// Swarm-wide addresses: distinct, all in the default network's subnet.
	subnet := strings.TrimSpace(lead.ok("service", "inspect", "--format", "{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}", "web"))
	_, sub, err := net.ParseCIDR(subnet)
	if err != nil {
		t.Fatalf("web's VIP %q", subnet)
	}
	var ips []string
	for i, h := range hosts {
		ip := containerIP(t, h, nodes[i].id, "web")
		if !sub.Contains(net.ParseIP(ip)) {
			t.Fatalf("%s's web container has %s, outside the swarm network %s", h.name, ip, sub)
		}
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	if ips[0] == ips[1] || ips[1] == ips[2] {
		t.Fatalf("web containers share an address: %v", ips)
	}

	// From inside a task on host1: tasks.web names the three, and the VIP
	// reaches all three.
	lead.ok("service", "create", "--name", "cli", "--constraint", "node.hostname==host1", shellImage, "sleep", "600")
	cli := strings.TrimSpace(hosts[0].dockerOK(t, "ps", "-q", "--filter", "label=com.sw.service.name=cli"))
	eventually(t, 20*time.Second, "tasks.web from host1's task", func() (bool, string) {
		r := hosts[0].docker(t, "exec", cli, "nslookup", "tasks.web")
		got := 0
		for _, ip := range ips {
			if strings.Contains(r.stdout, "Address: "+ip) {
				got++
			}
		}
		return got == 3, r.stdout + r.stderr
	})
	eventually(t, 20*time.Second, "the VIP from host1's task reaching the tasks of all three hosts", func() (bool, string) {
		r := hosts[0].docker(t, "exec", cli, "sh", "-c",
			`for i in 1 2 3 4 5 6 7 8 9; do printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 web 8080 | grep -o 'hello from [^ ]*'; done`)
		seen := map[string]bool{}
		for _, m := range taskName.FindAllStringSubmatch(r.stdout, -1) {
			seen[m[1]] = true
		}
		return len(seen) == 3, r.stdout + r.stderr
	})

	// A VIP whose service runs no task is refused, not answered by what
	// listens on the host's wildcard address (the VIP is local there).
	srv := exec.Command("nsenter", "--net="+hosts[0].ns, "--", "python3", "-m", "http.server", "--bind", "0.0.0.0", "8080")
	srv.Dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(srv.Dir, "index.html"), []byte("host1 itself\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("a listener on host1: %v", err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	lead.ok("service", "scale", "web=0")
	eventually(t, 30*time.Second, "web's VIP, with no task, refused from host1's task", func() (bool, string) {
		r := hosts[0].docker(t, "exec", cli, "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 web 8080; echo "exit $?"`)
		return !strings.Contains(r.stdout, "host1 itself") && !strings.Contains(r.stdout, "hello from") &&
			strings.Contains(r.stdout, "exit 1"), r.stdout + r.stderr
	})
	// The control: the listener does answer on host1's own address.
	if r := hosts[0].run(t, "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 "+hosts[0].addr+" 8080"); !strings.Contains(r.stdout, "host1 itself") {
		t.Fatalf("the host's own listener does not answer (the check above proves nothing): %+v", r)
	}
}

// TestTestbedHostLoss: a host killed (engine and sw gone, link down) —
// its task is rescheduled, and the mesh answers only from live tasks
// within the failure-detection time; when the host comes back, its
// stale container does not run again and no slot runs twice.
func TestTestbedHostLoss(t *testing.T) {
	b := testbed(t, 3)
	hosts := b.hosts(3)
	nodes := b.swarm(t, 2, 1)
	lead := nodes[0]
	lead.ok("service", "create", "--name", "hl", "--replicas", "3", "-p", "18081:8080", demoImage)
	eventually(t, 60*time.Second, "hl's 3 tasks running, one per host", func() (bool, string) {
		ctrs := bedContainers(t, "hl", hosts, nodes)
		return len(ctrs) == 3 && sum(ctrs) == 3, fmt.Sprint(ctrs)
	})
	url := "http://" + hosts[0].addr + ":18081/"
	eventually(t, 20*time.Second, "the mesh reaching all three", func() (bool, string) {
		got := answering(url, 9)
		return len(got) == 3 && got["error"] == 0, fmt.Sprint(got)
	})

	killed := time.Now()
	if out, err := b.script(60*time.Second, "kill", "3"); err != nil {
		t.Fatalf("hosts.sh kill 3: %v\n%s", err, out)
	}
	_, _ = nodes[2].cmd.Process.Wait()
	nodes[2].stopped = true
	// Healed: six answers in a row, none an error (the dead task's
	// connections time out after 2 s each, so they show as errors).
	healed := eventually(t, 30*time.Second, "the mesh answering only from live tasks", func() (bool, string) {
		got := answering(url, 6)
		return got["error"] == 0, fmt.Sprint(got)
	})
	t.Logf("host killed → mesh healed in %v (since the kill: %v)", healed, time.Since(killed).Round(time.Millisecond))
	eventually(t, 60*time.Second, "hl back to 3 running tasks on the live hosts", func() (bool, string) {
		by := runningTasksByNode(lead, "hl")
		return sum(by) == 3 && by["host3"] == 0, fmt.Sprint(by)
	})

	if out, err := b.script(90*time.Second, "revive", "3"); err != nil {
		t.Fatalf("hosts.sh revive 3: %v\n%s", err, out)
	}
	nodes[2].start()
	eventually(t, 60*time.Second, "host3 Ready again", func() (bool, string) {
		st := nodeStates(lead)
		return st["host3"].status == "Ready", fmt.Sprint(st)
	})
	// No slot runs twice: three running tasks, three running containers
	// over the three engines, host3's old one not among them.
	eventually(t, 30*time.Second, "one running container per slot", func() (bool, string) {
		ctrs := bedContainers(t, "hl", hosts, nodes)
		return sum(ctrs) == 3 && ctrs["host3"] == 0 && sum(runningTasksByNode(lead, "hl")) == 3, fmt.Sprint(ctrs)
	})
	// Its stale containers are removed, not kept stopped: the slots they
	// served run elsewhere now.
	eventually(t, 30*time.Second, "host3's stale hl containers removed", func() (bool, string) {
		ids := hosts[2].dockerOK(t, "ps", "-aq", "--filter", "label=com.sw.service.name=hl")
		return strings.TrimSpace(ids) == "", "host3 still has containers " + strings.Join(strings.Fields(ids), " ")
	})
	// host3's daemon restarted: its mesh answers again once it has made
	// its rules, reaching the three live tasks.
	for _, h := range hosts {
		url := "http://" + h.addr + ":18081/"
		eventually(t, 20*time.Second, "after host3's return, the mesh at "+h.name, func() (bool, string) {
			got := answering(url, 6)
			return got["error"] == 0 && len(got) == 3, fmt.Sprint(got)
		})
	}
}

// TestTestbedImageRejected: an image no host can get is REJECTED on the
// host that tried, and the error names that host.
func TestTestbedImageRejected(t *testing.T) {
	b := testbed(t, 3)
	nodes := b.swarm(t, 1, 1)
	lead := nodes[0]
	r := lead.sw("service", "create", "--name", "noimg", "--constraint", "node.hostname==host2", "127.0.0.1:5999/none:1")
	if r.code == 0 || !strings.Contains(r.stderr, "No such image: 127.0.0.1:5999/none:1") || !strings.Contains(r.stderr, "on node host2") {
		t.Fatalf("create with a missing image: exit %d, stderr %q; want a rejection naming host2", r.code, r.stderr)
	}
	if ps := lead.ok("service", "ps", "--no-trunc", "noimg"); !strings.Contains(ps, "Rejected") || !strings.Contains(ps, "host2") {
		t.Fatalf("service ps:\n%s", ps)
	}
}

// TestTestbedNetworks: services on a network of their own across hosts —
// a task there resolves the service's name to its VIP on that network and
// tasks.<service> to its tasks on other hosts, and the VIP balances over
// them; a task on another network resolves neither and cannot reach the
// tasks' addresses.
func TestTestbedNetworks(t *testing.T) {
	b := testbed(t, 3)
	hosts := b.hosts(3)
	nodes := b.swarm(t, 2, 1)
	lead := nodes[0]
	lead.ok("network", "create", "appnet")
	lead.ok("network", "create", "othernet")
	lead.ok("service", "create", "--name", "api", "--network", "appnet", "--replicas", "2", "--constraint", "node.hostname!=host1", demoImage)
	lead.ok("service", "create", "--name", "cli", "--network", "appnet", "--constraint", "node.hostname==host1", shellImage, "sleep", "600")
	lead.ok("service", "create", "--name", "outsider", "--network", "othernet", "--constraint", "node.hostname==host1", shellImage, "sleep", "600")
	vip := strings.TrimSpace(lead.ok("service", "inspect", "--format", "{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}", "api"))
	vipIP, appnet, err := net.ParseCIDR(vip)
	if err != nil {
		t.Fatalf("api's VIP %q: want one, on appnet", vip)
	}
	var taskIPs []string
	for i, h := range hosts[1:] {
		ip := containerIP(t, h, nodes[i+1].id, "api")
		if !appnet.Contains(net.ParseIP(ip)) {
			t.Fatalf("%s's api container has %s, outside appnet %s", h.name, ip, appnet)
		}
		taskIPs = append(taskIPs, ip)
	}
	cli := strings.TrimSpace(hosts[0].dockerOK(t, "ps", "-q", "--filter", "label=com.sw.service.name=cli"))
	out := strings.TrimSpace(hosts[0].dockerOK(t, "ps", "-q", "--filter", "label=com.sw.service.name=outsider"))
	eventually(t, 20*time.Second, "api and tasks.api from a task on appnet", func() (bool, string) {
		r := hosts[0].docker(t, "exec", cli, "sh", "-c", "nslookup api; nslookup tasks.api")
		ok := strings.Contains(r.stdout, "Address: "+vipIP.String())
		for _, ip := range taskIPs {
			ok = ok && strings.Contains(r.stdout, "Address: "+ip)
		}
		return ok, r.stdout + r.stderr
	})
	eventually(t, 20*time.Second, "the VIP on appnet reaching both hosts' tasks", func() (bool, string) {
		r := hosts[0].docker(t, "exec", cli, "sh", "-c",
			`for i in 1 2 3 4 5 6; do printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 api 8080 | grep -o 'hello from [^ ]*'; done`)
		seen := map[string]bool{}
		for _, m := range taskName.FindAllStringSubmatch(r.stdout, -1) {
			seen[m[1]] = true
		}
		return len(seen) == 2, r.stdout + r.stderr
	})
	// From othernet: no name, no way in.
	if r := hosts[0].docker(t, "exec", out, "nslookup", "api"); strings.Contains(r.stdout, "Address: "+vipIP.String()) {
		t.Fatalf("a task on othernet resolved api:\n%s", r.stdout)
	}
	for _, ip := range append(taskIPs, vipIP.String()) {
		r := hosts[0].docker(t, "exec", out, "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "+ip+" 8080")
		if strings.Contains(r.stdout, "hello from") {
			t.Fatalf("a task on othernet reached %s:8080: %q", ip, r.stdout)
		}
	}
	// In use, the network stays; free, it goes.
	if r := lead.sw("network", "rm", "appnet"); r.code == 0 || !strings.Contains(r.stderr, "api") {
		t.Fatalf("network rm of a network in use: exit %d, %q", r.code, r.stderr)
	}
}
