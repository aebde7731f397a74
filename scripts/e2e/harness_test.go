// Package e2e drives the built sw binary against the real Docker engine:
// daemons on loopback addresses, services whose tasks are real containers,
// checked through sw's output and through the engine itself.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	swBin     string
	demoImage = "sw-demo:latest"
	// shellImage has busybox's sh, nslookup and wget, for tests that look
	// from inside a task container.
	shellImage = "sw-shell:latest"
	// unhealthyImage is demoImage with a HEALTHCHECK that always fails.
	unhealthyImage = "sw-demo:unhealthy"
	nextIP         atomic.Int32
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot reach the Docker engine (these tests need it): %v\n%s", err, out)
		return 1
	}
	dir, err := os.MkdirTemp("", "sw-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	swBin = filepath.Join(dir, "sw")
	root, _ := filepath.Abs("../..")
	build := exec.Command("go", "build", "-o", swBin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building sw: %v\n%s", err, out)
		return 1
	}
	img := exec.Command("bash", "-c", "source scripts/lib/images.sh && build_demo_image "+demoImage+" && build_shell_image "+shellImage+
		" && build_unhealthy_image "+demoImage+" "+unhealthyImage)
	img.Dir = root
	if out, err := img.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the demo image: %v\n%s", err, out)
		return 1
	}
	up, err := startUpstream()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: fake upstream DNS: %v\n", err)
		return 1
	}
	defer up.Close()
	started := time.Now()
	defer removeTaskNetworks(started)
	defer testbedDown() // the multi-host bed, if a test brought it up
	return m.Run()
}

// removeTaskNetworks deletes the empty swarm task networks made since
// start: those whose nodes' cleanup could not name them (a node that left
// its swarm, or was removed from it, no longer knows its cluster).
func removeTaskNetworks(start time.Time) {
	out, err := exec.Command("docker", "network", "ls", "-q", "--filter", "label=com.sw.cluster.id").Output()
	if err != nil {
		return
	}
	for _, id := range strings.Fields(string(out)) {
		info, err := exec.Command("docker", "network", "inspect", "-f", "{{len .Containers}} {{.Created.Unix}}", id).Output()
		f := strings.Fields(string(info))
		if err != nil || len(f) != 2 || f[0] != "0" {
			continue
		}
		if created, err := strconv.ParseInt(f[1], 10, 64); err == nil && created >= start.Unix()-1 {
			_ = exec.Command("docker", "network", "rm", id).Run()
		}
	}
}

// node is one sw daemon under test.
type node struct {
	t       *testing.T
	name    string
	ip      string
	dir     string
	sock    string
	cmd     *exec.Cmd
	log     *syncBuffer
	id      string
	stopped bool
	// args are extra daemon flags.
	args []string
	// pool is the address pool a swarm this node inits gets.
	pool string
	// netns and engine, for a node on a test bed host (testbed_test.go):
	// the daemon runs in that network namespace, against that engine
	// (DOCKER_HOST); empty for the local engine in the root namespace.
	netns, engine string
}

// nextPool numbers the /20s of 10.0.0.0/8 handed to the nodes of this
// run, from an offset of the process's own.
var nextPool atomic.Int32

// newPool returns an address pool no other node of this run has, never in
// 10.0.0.0/16: the first subnet of Docker's default pool, which a swarm
// made outside the tests (scripts/demo.sh, a benchmark) may hold on the
// engine.
func newPool() string {
	k := 16 + (os.Getpid()*17+int(nextPool.Add(1)))%(4096-16)
	return fmt.Sprintf("10.%d.%d.0/20", k/16, (k%16)*16)
}

// ipBase is this test process's own loopback /24 (127.X.Y.0), so that two
// runs on one machine never share an address.
var ipBase = fmt.Sprintf("127.%d.%d.", 1+(os.Getpid()>>8)%250, 1+os.Getpid()%250)

// newNode starts a daemon on its own loopback address (ipBase + N).
func newNode(t *testing.T, name string) *node {
	t.Helper()
	return newNodeWith(t, name, nil)
}

// newNodeWith is newNode with prepare run on the data dir's path before
// the daemon starts (to mount something there, say), and extra daemon
// flags.
func newNodeWith(t *testing.T, name string, prepare func(dataDir string), args ...string) *node {
	t.Helper()
	dir := t.TempDir()
	n := &node{t: t, name: name, ip: fmt.Sprintf("%s%d", ipBase, nextIP.Add(1)), dir: dir,
		sock: filepath.Join(dir, "sw.sock"), args: args, pool: newPool()}
	if prepare != nil {
		prepare(filepath.Join(dir, "data"))
	}
	n.start()
	t.Cleanup(n.cleanup)
	return n
}

func (n *node) start() {
	n.t.Helper()
	n.log = &syncBuffer{}
	n.cmd = exec.Command(swBin, append([]string{"-H", "unix://" + n.sock, "daemon", "--data-dir", filepath.Join(n.dir, "data"),
		"--hostname", n.name, "--ingress-addr", n.ip}, n.args...)...)
	if n.netns != "" {
		n.cmd = exec.Command("nsenter", append([]string{"--net=" + n.netns, "--"}, n.cmd.Args...)...)
		n.cmd.Env = append(os.Environ(), "DOCKER_HOST="+n.engine, "SW_DNS_UPSTREAM="+bedDNSUpstream)
	}
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("starting daemon: %v", err)
	}
	n.stopped = false
	waitFor(n.t, 10*time.Second, "daemon socket", func() bool {
		_, err := os.Stat(n.sock)
		return err == nil
	})
}

// kill stops the daemon abruptly (SIGKILL), leaving its containers.
func (n *node) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = n.cmd.Process.Wait()
	n.stopped = true
	_ = os.Remove(n.sock)
}

func (n *node) cleanup() {
	if !n.stopped {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = n.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = n.cmd.Process.Kill()
		}
	}
	if n.id != "" {
		ids := n.dockerOut("ps", "-aq", "--filter", "label=com.sw.node.id="+n.id)
		if ids != "" {
			_ = n.docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...).Run()
		}
	}
	n.removeTaskNetwork()
	if n.t.Failed() {
		n.t.Logf("daemon %s log:\n%s", n.name, n.log.String())
	}
}

// removeTaskNetwork deletes the swarm's task network (named after the
// cluster ID in the node's identity file); the engine refuses while other
// nodes of the swarm still have containers on it, so the last one wins.
func (n *node) removeTaskNetwork() {
	b, err := os.ReadFile(filepath.Join(n.dir, "data", "node.json"))
	if err != nil {
		return
	}
	var id struct{ ClusterID string }
	if json.Unmarshal(b, &id) != nil || len(id.ClusterID) < 12 {
		return
	}
	name := "sw_" + id.ClusterID[:12]
	// Refused while another node of the swarm still has containers on it
	// (its own cleanup removes it then); refused for a moment, too, while
	// the engine is still tearing down the endpoints of the containers
	// just removed. A network left behind would collide with the next
	// test's swarm (the same default address pool): retry that a while.
	for try := 0; try < 25; try++ {
		out, err := n.docker("network", "rm", name).CombinedOutput()
		if err == nil || strings.Contains(string(out), "No such network") || strings.Contains(string(out), "not found") {
			return
		}
		if inUse := strings.TrimSpace(n.dockerQuiet("network", "inspect", "-f", "{{len .Containers}}", name)); inUse != "0" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	n.t.Logf("network %s of node %s could not be removed (no container on it): it may collide with the next swarm on this engine", name, n.name)
}

// dockerQuiet runs docker against the node's engine and returns its
// output, whatever the outcome (for cleanup).
func (n *node) dockerQuiet(args ...string) string {
	out, _ := n.docker(args...).Output()
	return string(out)
}

// docker is a docker command against the node's engine.
func (n *node) docker(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	if n.engine != "" {
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+n.engine)
	}
	return cmd
}

// dockerOut runs docker against the node's engine; it fails the test
// unless that succeeds, and returns the output.
func (n *node) dockerOut(args ...string) string {
	n.t.Helper()
	out, err := n.docker(args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("docker %v (engine %s): %v\n%s", args, n.engine, err, out)
	}
	return strings.TrimSpace(string(out))
}

// result is one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// sw runs the CLI against this node.
func (n *node) sw(args ...string) result {
	n.t.Helper()
	return n.run("", nil, args...)
}

// swIn runs the CLI against n with stdin.
func (n *node) swIn(stdin string, args ...string) result {
	n.t.Helper()
	return n.run(stdin, nil, args...)
}

// swEnv runs the CLI against this node with extra environment variables.
func (n *node) swEnv(env []string, args ...string) result {
	n.t.Helper()
	return n.run("", env, args...)
}

// run runs the CLI against this node with stdin and extra environment
// variables (either may be empty), within 90 s.
func (n *node) run(stdin string, env []string, args ...string) result {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, swBin, append([]string{"-H", "unix://" + n.sock}, args...)...)
	// Every swarm of this run on the one shared engine has an address
	// pool of its own (read by `swarm init`): the engine refuses two
	// bridge networks with overlapping subnets.
	cmd.Env = append(append(os.Environ(), "SW_DEFAULT_ADDR_POOL="+n.pool), env...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("sw %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs the CLI and fails the test unless it succeeds; it returns stdout.
func (n *node) ok(args ...string) string {
	n.t.Helper()
	r := n.sw(args...)
	if r.code != 0 {
		n.t.Fatalf("sw %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// initSwarm makes the node a single-manager swarm.
func (n *node) initSwarm() {
	n.t.Helper()
	n.ok("swarm", "init", "--listen-addr", n.ip+":2377")
	n.id = strings.TrimSpace(n.ok("info", "--format", "{{.NodeID}}"))
	if len(n.id) != 25 {
		n.t.Fatalf("node ID %q is not 25 characters", n.id)
	}
}

// containers lists this node's task containers as name -> ID, running only
// unless all.
func (n *node) containers(all bool) map[string]string {
	n.t.Helper()
	args := []string{"ps", "--filter", "label=com.sw.node.id=" + n.id, "--format", "{{.Names}} {{.ID}}"}
	if all {
		args = append(args, "-a")
	}
	out := map[string]string{}
	for _, line := range strings.Split(n.dockerOut(args...), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]] = f[1]
		}
	}
	return out
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpGet fetches a URL with a short timeout and no keep-alive.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return strings.TrimSpace(b.String()), err
}

// freePort finds a TCP port free on ip.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lines splits output into trimmed, non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe to read while a daemon writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
