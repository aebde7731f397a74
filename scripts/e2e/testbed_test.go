package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The multi-host test bed (scripts/hosts.sh): simulated hosts, each a
// network namespace on a private bridge with a Docker engine of its own,
// as on separate machines. A test asks for it with testbed(t, n); the bed
// comes up once per test process, is shared by the tests that use it, and
// TestMain's run takes it down at the end (testbedDown). Its sw daemons
// are the tests' own: bedHost.daemon starts one in a host's namespace
// against that host's engine, stopped and its containers removed at the
// test's end.
//
// This process's bed is SW_TESTBED_ID=K (from the pid, like ipBase), on
// 198.18.K.0/24, so it never touches a bed brought up by hand (the default
// one, 198.18.0.0/24) or another test process's.

// bedDNSUpstream is the resolver the bed's sw daemons are given: the
// bridge's address, where nothing answers (the root namespace refuses
// whatever the hosts send it), so no name lookup ever leaves the bed.
var bedDNSUpstream string

var theBed struct {
	mu  sync.Mutex
	bed *testBed
	err error
}

// testBed is the running bed.
type testBed struct {
	id  string // SW_TESTBED_ID
	net string // "198.18.K", the bed's /24 without its last byte
	n   int    // hosts up
	env []string
}

// bedHost is host i (1-based) of the bed.
type bedHost struct {
	bed    *testBed
	i      int
	name   string // "host1"
	addr   string // its eth0 address, 198.18.K.(10+i)
	ns     string // its network namespace, /run/netns/swtbK-hi
	engine string // its engine's DOCKER_HOST
}

// testbedMinHosts is how many hosts the bed has at least, so that tests
// asking for fewer share it.
const testbedMinHosts = 3

// testbed returns the bed with at least n hosts, bringing it up on first
// use (it fails the test if it cannot).
func testbed(t *testing.T, n int) *testBed {
	t.Helper()
	theBed.mu.Lock()
	defer theBed.mu.Unlock()
	if theBed.err != nil {
		t.Fatalf("test bed: %v", theBed.err)
	}
	if theBed.bed == nil {
		if os.Geteuid() != 0 {
			t.Fatal("test bed: needs root (namespaces, bridges, iptables, dockerd)")
		}
		removeStaleBeds(t)
		size := max(n, testbedMinHosts)
		id := freeBedID()
		b := &testBed{id: id, net: "198.18." + id, n: size, env: bedEnv("SW_TESTBED_ID="+id, "SW_BIN="+swBin)}
		bedDNSUpstream = b.net + ".1:53"
		theBed.bed = b // from here on testbedDown takes it down, even half up
		start := time.Now()
		out, err := b.script(5*time.Minute, "up", strconv.Itoa(size))
		if err != nil {
			theBed.err = fmt.Errorf("scripts/hosts.sh up %d: %v\n%s", size, err, out)
			t.Fatal(theBed.err)
		}
		// Whose bed this is, for removeStaleBeds after a crash.
		_ = os.WriteFile(filepath.Join("/run", "sw-testbed"+id, "e2e-owner"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		t.Logf("test bed %s: %d hosts up in %s", id, size, time.Since(start).Round(10*time.Millisecond))
	}
	if n > theBed.bed.n {
		t.Fatalf("test bed has %d hosts, the test wants %d (raise testbedMinHosts)", theBed.bed.n, n)
	}
	return theBed.bed
}

// testbedDown takes the bed down if this process brought it up.
func testbedDown() {
	theBed.mu.Lock()
	defer theBed.mu.Unlock()
	if theBed.bed == nil {
		return
	}
	if out, err := theBed.bed.script(2*time.Minute, "down"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: scripts/hosts.sh down (test bed %s): %v\n%s", theBed.bed.id, err, out)
	}
	theBed.bed = nil
}

// freeBedID picks this process's bed ID: from the pid, the first one
// (cycling through 1..254) that no bed uses.
func freeBedID() string {
	for k := 0; k < 254; k++ {
		id := strconv.Itoa(1 + (os.Getpid()+k)%254)
		if _, err := os.Stat("/run/sw-testbed" + id); os.IsNotExist(err) {
			return id
		}
	}
	return strconv.Itoa(1 + os.Getpid()%254)
}

// bedEnv is the environment for scripts/hosts.sh: this process's, less any
// SW_TESTBED_* or SW_BIN of the caller's (the bed's dirs are its ID's
// defaults), plus extra.
func bedEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SW_TESTBED_") && !strings.HasPrefix(kv, "SW_BIN=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// removeStaleBeds takes down the beds that e2e runs left behind when they
// died (a test binary killed by -timeout runs no deferred cleanup): those
// whose owner process is gone.
func removeStaleBeds(t *testing.T) {
	owners, _ := filepath.Glob("/run/sw-testbed[0-9]*/e2e-owner")
	for _, f := range owners {
		b, err := os.ReadFile(f)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil {
			continue
		}
		id := strings.TrimPrefix(filepath.Base(filepath.Dir(f)), "sw-testbed")
		stale := &testBed{id: id, env: bedEnv("SW_TESTBED_ID=" + id)}
		if out, err := stale.script(2*time.Minute, "down"); err != nil {
			t.Logf("removing stale test bed %s: %v\n%s", id, err, out)
		} else {
			t.Logf("removed stale test bed %s (its e2e run, pid %d, is gone)", id, pid)
		}
	}
}

// script runs scripts/hosts.sh on this bed.
func (b *testBed) script(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	root, _ := filepath.Abs("../..")
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "scripts", "hosts.sh")}, args...)...)
	cmd.Dir, cmd.Env = root, b.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// host is host i (1-based).
func (b *testBed) host(i int) *bedHost {
	if i < 1 || i > b.n {
		panic(fmt.Sprintf("test bed has hosts 1..%d, not %d", b.n, i))
	}
	return &bedHost{bed: b, i: i, name: fmt.Sprintf("host%d", i), addr: fmt.Sprintf("%s.%d", b.net, 10+i),
		ns: fmt.Sprintf("/run/netns/swtb%s-h%d", b.id, i), engine: fmt.Sprintf("unix:///run/sw-testbed%s/h%d/docker.sock", b.id, i)}
}

// hosts are hosts 1..n.
func (b *testBed) hosts(n int) []*bedHost {
	var hs []*bedHost
	for i := 1; i <= n; i++ {
		hs = append(hs, b.host(i))
	}
	return hs
}

// run runs a command in the host's network namespace with DOCKER_HOST set
// to its engine, within 60 s.
func (h *bedHost) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + h.ns, "--"}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+h.engine)
	return runCmd(t, cmd)
}

// docker runs docker against the host's engine (from the root namespace;
// the engine's own namespace is what counts for its containers).
func (h *bedHost) docker(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+h.engine)
	return runCmd(t, cmd)
}

// dockerOK is docker that fails the test unless it succeeds; it returns
// the trimmed stdout.
func (h *bedHost) dockerOK(t *testing.T, args ...string) string {
	t.Helper()
	r := h.docker(t, args...)
	if r.code != 0 {
		t.Fatalf("%s: docker %s: exit %d\n%s%s", h.name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// daemon starts an sw daemon on the host, named after it (hostname
// "host1", …): in its namespace, on its engine, its ingress, listen and
// advertise addresses the host's; its socket in a temporary dir of the
// root file system. One per host at a time (they all listen on :2377).
// Stopped, with its containers removed, when the test ends.
func (h *bedHost) daemon(t *testing.T, args ...string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{t: t, name: h.name, ip: h.addr, dir: dir, sock: filepath.Join(dir, "sw.sock"), args: args,
		pool: newPool(), netns: h.ns, engine: h.engine}
	n.start()
	t.Cleanup(n.cleanup)
	return n
}

// swarm starts a daemon on each of hosts 1..managers+workers and forms a
// swarm: host 1 inits, the next managers-1 hosts join as managers, the
// rest as workers; it waits until every node is Ready with one leader.
func (b *testBed) swarm(t *testing.T, managers, workers int) []*node {
	t.Helper()
	var nodes []*node
	for _, h := range b.hosts(managers + workers) {
		nodes = append(nodes, h.daemon(t))
	}
	lead := formSwarm(nodes, managers)
	eventually(t, 30*time.Second, "every node of the bed's swarm Ready", func() (bool, string) { return allReady(lead, nodes) })
	return nodes
}

// bedClient is a namespace on the bed's bridge with no engine: a client
// "on the network", like another machine on the LAN.
type bedClient struct {
	ns, addr string
}

// client makes (once) client namespace c (1..50), at 198.18.K.(200+c).
func (b *testBed) client(t *testing.T, c int) *bedClient {
	t.Helper()
	out, err := b.script(30*time.Second, "client", strconv.Itoa(c))
	if err != nil {
		t.Fatalf("scripts/hosts.sh client %d: %v\n%s", c, err, out)
	}
	return &bedClient{ns: strings.TrimSpace(out), addr: fmt.Sprintf("%s.%d", b.net, 200+c)}
}

// httpClient is a client whose connections are made in network namespace
// ns ("" for the test process's own, the root namespace, which reaches
// the hosts through the bridge): short timeout, no keep-alive.
func httpClient(ns string) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	if ns != "" {
		tr.DialContext = dialIn(ns)
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: tr}
}

// get fetches a URL from the client's namespace.
func (c *bedClient) get(url string) (string, error) { return httpGetWith(httpClient(c.ns), url) }

// bedGet fetches a URL from the root namespace, through the bridge.
func bedGet(url string) (string, error) { return httpGetWith(httpClient(""), url) }

func httpGetWith(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// dialIn dials from network namespace ns: the socket is made on an OS
// thread moved into ns (a socket stays in the namespace it was made in);
// that thread is never moved back, but ends with its goroutine, locked.
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			// The thread goes back to its own namespace before it is
			// unlocked: one left in the client's (the process's main
			// thread, which Go never ends, say) would make the whole test
			// process look like a process of that namespace, which
			// hosts.sh down kills. If it cannot go back, it stays locked
			// and goes with the goroutine.
			runtime.LockOSThread()
			own, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				runtime.UnlockOSThread()
				ch <- res{nil, err}
				return
			}
			defer own.Close()
			f, err := os.Open(ns)
			if err != nil {
				runtime.UnlockOSThread()
				ch <- res{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				ch <- res{nil, fmt.Errorf("setns %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			ch <- res{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// bedContainers counts, on each host's engine, the running containers of
// service svc that the node on that host runs, by host name.
func bedContainers(t *testing.T, svc string, hosts []*bedHost, nodes []*node) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i, h := range hosts {
		ids := h.dockerOK(t, "ps", "-q", "--filter", "label=com.sw.node.id="+nodes[i].id, "--filter", "label=com.sw.service.name="+svc)
		if k := len(strings.Fields(ids)); k > 0 {
			out[h.name] = k
		}
	}
	return out
}

// TestTestbedSwarmAcrossHosts: a swarm over three simulated hosts, each
// with its own engine — host1 inits, host2 joins as a manager, host3 as a
// worker; node ls shows the three Ready; a three-replica service runs as
// real containers, one on each host's own engine, none on the local one.
func TestTestbedSwarmAcrossHosts(t *testing.T) {
	b := testbed(t, 3)
	hosts := b.hosts(3)
	engines := map[string]bool{}
	for _, h := range hosts {
		engines[h.dockerOK(t, "info", "--format", "{{.ID}}")] = true
		if r := h.run(t, "ip", "-4", "-o", "addr", "show", "eth0"); r.code != 0 || !strings.Contains(r.stdout, " "+h.addr+"/24 ") {
			t.Fatalf("%s: eth0 in its namespace: %+v, want %s/24", h.name, r, h.addr)
		}
	}
	if len(engines) != 3 {
		t.Fatalf("the three hosts share engines: IDs %v", engines)
	}
	if r := hosts[0].run(t, "ip", "route", "show", "default"); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("host1 has a default route (nothing may leave the bed): %+v", r)
	}
	// The bed's network, with a container that host2's engine publishes
	// itself (not sw): reached from the root namespace through the bridge,
	// and from a client namespace on the bridge.
	c := hosts[1].dockerOK(t, "run", "-d", "-p", "18080:8080", demoImage)
	url := "http://" + hosts[1].addr + ":18080/"
	eventually(t, 10*time.Second, "host2's published demo container from the root namespace", func() (bool, string) {
		body, err := bedGet(url)
		return err == nil && strings.HasPrefix(body, "hello from "), fmt.Sprint(body, err)
	})
	if body, err := b.client(t, 1).get(url); err != nil || !strings.HasPrefix(body, "hello from ") {
		t.Fatalf("GET %s from client namespace 1: %q, %v", url, body, err)
	}
	hosts[1].dockerOK(t, "rm", "-f", c)

	nodes := b.swarm(t, 2, 1)
	lead := nodes[0]
	st := nodeStates(lead)
	want := map[string]string{"host1": "Leader", "host2": "Reachable", "host3": ""}
	for name, mgr := range want {
		if s, ok := st[name]; !ok || s.status != "Ready" || s.manager != mgr {
			t.Fatalf("node ls on host1: %s is %+v, want Ready with manager status %q; all: %v", name, s, mgr, st)
		}
	}
	if len(st) != 3 {
		t.Fatalf("node ls on host1 lists %d nodes, want 3: %v", len(st), st)
	}
	if ls := lead.ok("node", "ls"); len(lines(ls)) != 4 {
		t.Fatalf("node ls:\n%s", ls)
	}

	lead.ok("service", "create", "--name", "web", "--replicas", "3", demoImage)
	eventually(t, 60*time.Second, "web's 3 tasks running, one per host", func() (bool, string) {
		tasks := runningTasksByNode(lead, "web")
		ctrs := bedContainers(t, "web", hosts, nodes)
		ok := sum(tasks) == 3 && sum(ctrs) == 3 && len(ctrs) == 3
		return ok, fmt.Sprintf("tasks %s; containers %s", describe(tasks), describe(ctrs))
	})
	for i, h := range hosts {
		id := h.dockerOK(t, "ps", "-q", "--filter", "label=com.sw.node.id="+nodes[i].id, "--filter", "label=com.sw.service.name=web")
		info := h.dockerOK(t, "inspect", "-f", "{{.State.Running}} {{.Config.Image}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", id)
		if !strings.HasPrefix(info, "true "+demoImage+" ") {
			t.Fatalf("%s: web's container %s: %q, want running %s", h.name, id, info, demoImage)
		}
		t.Logf("%s (%s): web container %s, %s", h.name, h.addr, id, info)
	}
	for _, n := range nodes {
		if ids := dockerOut(t, "ps", "-aq", "--filter", "label=com.sw.node.id="+n.id); ids != "" {
			t.Fatalf("the local engine has containers of bed node %s: %s", n.name, ids)
		}
	}
}
