// Package clustertest runs a whole swarm in one test process: N managers
// and M workers, each a real daemon (Raft, store, gossip, dispatcher,
// sessions, agent, API on its own unix socket) on a fake engine (package
// fakeengine) and its own loopback address, with short Raft timeouts.
// Join, failover, quorum loss, role changes, drain and rescheduling are
// tested here in seconds; the real engine is left to the end-to-end suite.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/daemon"
	"sw/cluster/fakeengine"
	"sw/cluster/types"
)

var _ daemon.Engine = (*fakeengine.Engine)(nil)

// Options shape a cluster.
type Options struct {
	Managers, Workers int
	// RaftTimeout is Raft's heartbeat and election timeout (default
	// DefaultRaftTimeout).
	RaftTimeout time.Duration
	// StartDelay, if set, is how long each fake container start takes.
	StartDelay func() time.Duration
	// Log, if set, receives every daemon's log (default: discarded).
	Log io.Writer
	// Resources are what every node's engine reports (zero: none, which
	// the scheduler takes as no limit).
	Resources types.Resources
}

// DefaultRaftTimeout is the clusters' Raft heartbeat and election
// timeout. A leader steps down when a quorum has not answered within half
// of it (its lease), so it must stay well above the scheduling delays of a
// loaded machine under -race: at 50 ms, two live managers of three lost
// and re-took the lead over and over, and a new leader's node-state loop
// never got past its grace period to record the third one Down.
const DefaultRaftTimeout = 200 * time.Millisecond

// Cluster is a running in-process swarm.
type Cluster struct {
	t     testing.TB
	opts  Options
	Nodes []*Node
}

// Node is one daemon of the cluster.
type Node struct {
	// Name is its hostname: m1, m2… for managers, w1, w2… for workers.
	Name string
	// IP is its own loopback address; the swarm port is IP:2377.
	IP string
	// ID is its node ID once in the swarm.
	ID     string
	Dir    string
	Engine *fakeengine.Engine
	// Client talks to its API socket.
	Client *api.Client

	socket  string
	log     *logBuffer
	d       *daemon.Daemon
	cancel  context.CancelFunc
	done    chan error
	running bool
}

// ipPrefix is this process's own loopback /24 (127.X.Y.0), so that test
// binaries running at once never share an address.
var ipPrefix = fmt.Sprintf("127.%d.%d.", 1+(os.Getpid()>>8)%250, 1+os.Getpid()%250)

var nextIP atomic.Int32

func newIP() string {
	k := nextIP.Add(1)
	if k > 250 {
		panic("clustertest: out of loopback addresses for this process")
	}
	return fmt.Sprintf("%s%d", ipPrefix, 3+k)
}

// New starts the cluster: the first manager inits the swarm, the other
// managers and the workers join it, and it returns once every node is
// Ready. Everything stops at the test's end.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Managers < 1 {
		opts.Managers = 1
	}
	if opts.RaftTimeout == 0 {
		opts.RaftTimeout = DefaultRaftTimeout
	}
	c := &Cluster{t: t, opts: opts}
	t.Cleanup(c.stopAll)
	t.Cleanup(c.logOnFailure) // runs before stopAll: cleanups run last first
	for i := 1; i <= opts.Managers; i++ {
		c.Nodes = append(c.Nodes, c.newNode(fmt.Sprintf("m%d", i)))
	}
	for i := 1; i <= opts.Workers; i++ {
		c.Nodes = append(c.Nodes, c.newNode(fmt.Sprintf("w%d", i)))
	}
	for _, n := range c.Nodes {
		c.Start(n)
	}
	first := c.Nodes[0]
	ctx := c.ctx(20 * time.Second)
	if _, err := first.Client.Init(ctx, api.InitRequest{ListenAddr: first.IP + ":2377", AdvertiseAddr: first.IP + ":2377"}); err != nil {
		t.Fatalf("clustertest: init on %s: %v", first.Name, err)
	}
	c.fillID(first)
	sw, err := first.Client.Swarm(ctx)
	if err != nil {
		t.Fatalf("clustertest: swarm inspect: %v", err)
	}
	for i, n := range c.Nodes[1:] {
		token := sw.JoinTokens.Worker
		if i+1 < opts.Managers {
			token = sw.JoinTokens.Manager
		}
		c.Join(n, first, token)
		if i+1 < opts.Managers {
			// With two voters the leader needs both: the next manager
			// joins once the leader has outlasted this one's catch-up.
			c.Leader(20 * time.Second)
		}
	}
	for _, n := range c.Nodes {
		c.fillID(n)
	}
	c.Eventually(30*time.Second, "every node Ready", func() (bool, string) {
		nodes, err := first.Client.Nodes(c.ctx(5 * time.Second))
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range nodes {
			if n.State == types.NodeReady {
				ready++
			}
		}
		return ready == len(c.Nodes), fmt.Sprintf("%d of %d Ready", ready, len(c.Nodes))
	})
	return c
}

func (c *Cluster) newNode(name string) *Node {
	dir := c.t.TempDir()
	// A unix socket path has at most 107 bytes; the temp dir may be long.
	sock, err := os.MkdirTemp("", "swct")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = os.RemoveAll(sock) })
	n := &Node{Name: name, IP: newIP(), Dir: dir, socket: filepath.Join(sock, "sw.sock"),
		Engine: fakeengine.New("engine-" + name), log: &logBuffer{}}
	n.Engine.Resources = c.opts.Resources
	return n
}

// AddWorker starts one more node, whose engine reports res, and joins it
// to the swarm as a worker through via.
func (c *Cluster) AddWorker(name string, res types.Resources, via *Node) *Node {
	c.t.Helper()
	sw, err := via.Client.Swarm(c.ctx(5 * time.Second))
	if err != nil {
		c.t.Fatalf("clustertest: swarm inspect: %v", err)
	}
	n := c.newNode(name)
	n.Engine.Resources = res
	c.Nodes = append(c.Nodes, n)
	c.Start(n)
	c.Join(n, via, sw.JoinTokens.Worker)
	return n
}

func (c *Cluster) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	c.t.Cleanup(cancel)
	return ctx
}

// Start runs a node's daemon (again, after Stop: it rejoins the swarm
// from its data dir, as after a restart).
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	if n.running {
		c.t.Fatalf("clustertest: %s is running already", n.Name)
	}
	if c.opts.StartDelay != nil {
		n.Engine.StartDelay = c.opts.StartDelay
	}
	w := c.opts.Log
	if w == nil {
		w = io.Discard
	}
	w = io.MultiWriter(w, n.log)
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", n.Name)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, daemon.Config{DataDir: n.Dir, Socket: n.socket, Hostname: n.Name, Logger: log,
		Engine: n.Engine, Fabric: fakeengine.Fabric{}, RaftTimeout: c.opts.RaftTimeout})
	if err != nil {
		cancel()
		c.t.Fatalf("clustertest: %s: %v", n.Name, err)
	}
	n.d, n.cancel, n.done, n.running = d, cancel, make(chan error, 1), true
	go func() { n.done <- d.Run(ctx) }()
	cl, err := api.NewClient("unix://" + n.socket)
	if err != nil {
		c.t.Fatal(err)
	}
	n.Client = cl
	c.Eventually(10*time.Second, n.Name+"'s API answering", func() (bool, string) {
		if _, err := os.Stat(n.socket); err != nil {
			return false, err.Error()
		}
		conn, err := net.Dial("unix", n.socket)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// Kill takes a node's host away: its daemon stops and its engine's
// containers die with it.
func (c *Cluster) Kill(n *Node) {
	c.t.Helper()
	c.Stop(n)
	n.Engine.KillAll()
}

// Stop ends a node's daemon and waits for it; its containers keep
// running, as through a restart of the daemon alone.
func (c *Cluster) Stop(n *Node) {
	c.t.Helper()
	if !n.running {
		return
	}
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			c.t.Logf("clustertest: %s stopped: %v", n.Name, err)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatalf("clustertest: %s did not stop within 30 s", n.Name)
	}
	n.running = false
}

// failureLogLines is how much of each daemon's log a failed test shows.
const failureLogLines = 60

// logOnFailure shows the end of every daemon's log if the test failed.
func (c *Cluster) logOnFailure() {
	if !c.t.Failed() {
		return
	}
	for _, n := range c.Nodes {
		lines := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
		if len(lines) > failureLogLines {
			lines = lines[len(lines)-failureLogLines:]
		}
		c.t.Logf("clustertest: the last %d lines of %s's log:\n%s", len(lines), n.Name, strings.Join(lines, "\n"))
	}
}

// stopAll stops the running nodes at once (each takes about a second to
// leave the gossip pool).
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		if !n.running {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.cancel()
			select {
			case <-n.done:
			case <-time.After(30 * time.Second):
				c.t.Errorf("clustertest: %s did not stop within 30 s", n.Name)
			}
			n.running = false
		}()
	}
	wg.Wait()
}

// Join makes n join the swarm through via's swarm port with token.
func (c *Cluster) Join(n, via *Node, token string) {
	c.t.Helper()
	req := api.JoinRequest{RemoteAddr: via.IP + ":2377", Token: token, ListenAddr: n.IP + ":2377", AdvertiseAddr: n.IP + ":2377"}
	// A join during an election is refused (no leader to commit it) and
	// leaves the node outside the swarm: it may try again, as a user would.
	var err error
	for try := 0; try < 3; try++ {
		if _, err = n.Client.Join(c.ctx(30*time.Second), req); err == nil || !strings.Contains(err.Error(), "no leader") {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		c.t.Fatalf("clustertest: %s joining through %s: %v", n.Name, via.Name, err)
	}
	c.fillID(n)
}

func (c *Cluster) fillID(n *Node) {
	info, err := n.Client.Info(c.ctx(5 * time.Second))
	if err != nil {
		c.t.Fatalf("clustertest: info of %s: %v", n.Name, err)
	}
	n.ID = info.NodeID
}

// Node returns the node named name.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("clustertest: no node %s", name)
	return nil
}

// Leader waits until the running managers agree on a leader and returns
// it.
func (c *Cluster) Leader(timeout time.Duration) *Node {
	c.t.Helper()
	var lead *Node
	c.Eventually(timeout, "a leader", func() (bool, string) {
		lead = nil
		seen := map[string]bool{}
		for _, n := range c.Nodes {
			if !n.running {
				continue
			}
			info, err := n.Client.Info(c.ctx(2 * time.Second))
			if err != nil || !info.IsManager {
				continue
			}
			seen[info.LeaderID] = true
			if info.LeaderID == n.ID {
				lead = n
			}
		}
		return lead != nil && len(seen) == 1, fmt.Sprintf("leaders seen: %v", seen)
	})
	return lead
}

// Running counts the running fake containers on every running node, by
// node name.
func (c *Cluster) Running() map[string]int {
	out := map[string]int{}
	for _, n := range c.Nodes {
		if k := len(n.Engine.Running()); k > 0 {
			out[n.Name] = k
		}
	}
	return out
}

// Ctx returns a context that ends after d or with the test.
func (c *Cluster) Ctx(d time.Duration) context.Context { return c.ctx(d) }

// Eventually polls cond every 20 ms until it holds, failing the test after
// timeout with what cond said last.
func (c *Cluster) Eventually(timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	c.t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		ok, msg := cond()
		if ok {
			return time.Since(start)
		}
		last = msg
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("clustertest: timed out after %v waiting for %s; last: %s", timeout, what, last)
	return 0
}

// Sum adds up a count by node.
func Sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Log returns what the node's daemon has logged (every level, across its
// restarts; the most recent few MiB if it logged more).
func (n *Node) Log() string { return n.log.String() }

// logBuffer keeps a daemon's log, safe to read while it writes; past
// logKeep bytes it drops its older half.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const logKeep = 4 << 20

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > logKeep {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-logKeep/2:]...)
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Status is one node as a manager sees it: the facts `node ls` shows as
// STATUS, AVAILABILITY and MANAGER STATUS (there, a manager that is Down
// is "Unreachable", the one named as leader "Leader", any other manager
// "Reachable").
type Status struct {
	ID           string
	Role         types.NodeRole
	State        types.NodeState
	Availability types.Availability
	// Leader: the manager asked names this node as the swarm's leader.
	Leader bool
}

// Manager reports whether the node is a manager.
func (s Status) Manager() bool { return s.Role == types.RoleManager }

// String renders the status compactly for failure messages.
func (s Status) String() string {
	out := string(s.State) + "/" + string(s.Availability) + "/" + string(s.Role)
	if s.Leader {
		out += "/leader"
	}
	return out
}

// Statuses lists the swarm's nodes as via sees them, by hostname.
func (c *Cluster) Statuses(via *Node) (map[string]Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := via.Client.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("info on %s: %w", via.Name, err)
	}
	nodes, err := via.Client.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("node list on %s: %w", via.Name, err)
	}
	out := make(map[string]Status, len(nodes))
	for _, n := range nodes {
		out[n.Hostname] = Status{ID: n.ID, Role: n.Role, State: n.State, Availability: n.Availability,
			Leader: info.LeaderID != "" && n.ID == info.LeaderID}
	}
	return out, nil
}

// Tasks lists a service's tasks, history included, as via's store has
// them.
func (c *Cluster) Tasks(via *Node, service string) ([]*types.Task, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tasks, _, err := via.Client.Tasks(ctx, api.TaskQuery{})
	if err != nil {
		return nil, fmt.Errorf("tasks on %s: %w", via.Name, err)
	}
	var out []*types.Task
	for _, t := range tasks {
		if t.ServiceName == service {
			out = append(out, t)
		}
	}
	return out, nil
}

// RunningTasks counts a service's tasks that via's store has desired
// running and running, by node name (as `service ps` shows them).
func (c *Cluster) RunningTasks(via *Node, service string) (map[string]int, error) {
	tasks, err := c.Tasks(via, service)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, t := range tasks {
		if t.DesiredState == types.TaskRunning && t.Status.State == types.TaskRunning {
			out[c.NameOf(t.NodeID)]++
		}
	}
	return out, nil
}

// NameOf returns the name of the node with ID id, or id itself if no node
// of the cluster has it.
func (c *Cluster) NameOf(id string) string {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n.Name
		}
	}
	return id
}

// RunningOn counts the running fake containers on the given nodes'
// engines, by node name (Running, for some nodes only: those of a stopped
// daemon keep running, but may not be counted).
func (c *Cluster) RunningOn(nodes ...*Node) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		if k := len(n.Engine.Running()); k > 0 {
			out[n.Name] = k
		}
	}
	return out
}

// Scale sets a replicated service's replica count through via, as
// `service scale -d` does: it reads the service and writes its spec back
// at the version read.
func (c *Cluster) Scale(via *Node, service string, replicas uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := via.Client.Service(ctx, service)
	if err != nil {
		return fmt.Errorf("inspect %s on %s: %w", service, via.Name, err)
	}
	spec := s.Spec
	spec.Replicas = replicas
	if err := via.Client.UpdateService(ctx, service, s.Version, spec); err != nil {
		return fmt.Errorf("scale %s to %d on %s: %w", service, replicas, via.Name, err)
	}
	return nil
}

// Steady polls cond every 50 ms for d and fails the test the first time
// it does not hold, with what it said.
func (c *Cluster) Steady(d time.Duration, what string, cond func() (bool, string)) {
	c.t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if ok, msg := cond(); !ok {
			c.t.Fatalf("clustertest: %s stopped holding %v into a %v watch: %s", what,
				time.Since(start).Round(time.Millisecond), d, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
