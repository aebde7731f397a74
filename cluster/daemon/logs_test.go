package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sw/cluster/consensus/consensustest"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/pkg/stdcopy"

	"sw/cluster/api"
	"sw/cluster/executor"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

func TestPeerAddrOf(t *testing.T) {
	cases := []struct {
		name string
		node types.Node
		want string // "" = an error
	}{
		{"manager: its control address", types.Node{Role: types.RoleManager, ManagerAddr: "10.0.0.1:2377", PeerAddr: "10.0.0.1:4000", Addr: "10.0.0.1"}, "10.0.0.1:2377"},
		{"manager without a control address: its peer address", types.Node{Role: types.RoleManager, PeerAddr: "10.0.0.1:4000", Addr: "10.0.0.1"}, "10.0.0.1:4000"},
		{"worker: its peer address", types.Node{Role: types.RoleWorker, PeerAddr: "10.0.0.2:4001", Addr: "10.0.0.2"}, "10.0.0.2:4001"},
		{"worker with a stale control address: not that", types.Node{Role: types.RoleWorker, ManagerAddr: "10.0.0.9:2377", PeerAddr: "10.0.0.2:4001"}, "10.0.0.2:4001"},
		{"record from before peer addresses: the default port", types.Node{Role: types.RoleWorker, Addr: "10.0.0.3"}, "10.0.0.3:2377"},
		{"bad peer address: the default port", types.Node{Role: types.RoleWorker, PeerAddr: "10.0.0.4", Addr: "10.0.0.4"}, "10.0.0.4:2377"},
		{"IPv6 host", types.Node{Role: types.RoleWorker, Addr: "[fd00::1]"}, "[fd00::1]:2377"},
		{"IPv6 peer address", types.Node{Role: types.RoleWorker, PeerAddr: "[fd00::1]:4002"}, "[fd00::1]:4002"},
		{"no address at all", types.Node{ID: "n1", Role: types.RoleWorker}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := peerAddrOf(&tc.node)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestWorkerPeerAuth(t *testing.T) {
	mgr := &pki.NodeIdentity{NodeID: "m1", Role: pki.RoleManager, ClusterID: "c1"}
	wrk := &pki.NodeIdentity{NodeID: "w2", Role: pki.RoleWorker, ClusterID: "c1"}
	cases := []struct {
		name string
		kind byte
		id   *pki.NodeIdentity
		msg  string // "" = admitted
	}{
		{"api, a manager", peer.KindAPI, mgr, ""},
		{"api, a worker", peer.KindAPI, wrk, "only managers"},
		{"api, no certificate", peer.KindAPI, nil, "certificate is required"},
		{"raft, a manager", peer.KindRaft, mgr, "runs no raft"},
		{"raft, a worker", peer.KindRaft, wrk, "runs no raft"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := workerPeerAuth(tc.kind, tc.id)
			if tc.msg == "" && err != nil || tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

// mirrorOf is a worker's mirror holding nodes and tasks.
func mirrorOf(t *testing.T, c *types.Cluster, nodes []*types.Node, tasks []*types.Task) *store.Store {
	t.Helper()
	st := store.New()
	if err := st.Replace(1, store.Objects{Cluster: c, Nodes: nodes, Tasks: tasks}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestManagerIn: a worker admits to its logs the nodes its session has
// as managers, judged on the session, not on the certificate alone.
func TestManagerIn(t *testing.T) {
	v := mirrorOf(t, &types.Cluster{ID: "c1", RemovedNodes: []string{"gone"}}, []*types.Node{
		{ID: "m1", Role: types.RoleManager}, {ID: "w1", Role: types.RoleWorker}, {ID: "demoted", Role: types.RoleWorker},
	}, nil).View()
	cases := []struct {
		name string
		id   pki.NodeIdentity
		msg  string // "" = admitted
	}{
		{"a manager", pki.NodeIdentity{NodeID: "m1", Role: pki.RoleManager}, ""},
		{"a worker", pki.NodeIdentity{NodeID: "w1", Role: pki.RoleWorker}, "only managers"},
		{"a worker with a forged role it cannot have", pki.NodeIdentity{NodeID: "w1", Role: pki.RoleManager}, "not a manager of this swarm"},
		{"a demoted manager's certificate", pki.NodeIdentity{NodeID: "demoted", Role: pki.RoleManager}, "not a manager of this swarm"},
		{"a removed node", pki.NodeIdentity{NodeID: "gone", Role: pki.RoleManager}, "was removed"},
		{"a node the session does not have", pki.NodeIdentity{NodeID: "stranger", Role: pki.RoleManager}, "not part of this swarm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := managerIn(v, tc.id)
			if tc.msg == "" && err != nil || tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestOwnTask(t *testing.T) {
	v := mirrorOf(t, &types.Cluster{ID: "c1"}, nil, []*types.Task{
		{ID: "mine", ServiceID: "s1", NodeID: "w1", Status: types.TaskStatus{ContainerID: "c1"}},
		{ID: "unstarted", ServiceID: "s1", NodeID: "w1"},
		{ID: "theirs", ServiceID: "s1", NodeID: "w2", Status: types.TaskStatus{ContainerID: "c2"}},
	}).View()
	cases := []struct {
		id string
		ok bool
	}{{"mine", true}, {"unstarted", false}, {"theirs", false}, {"unknown", false}, {"", false}}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			got, err := ownTask(v, "w1", tc.id)
			if tc.ok != (err == nil) || tc.ok && got.ID != tc.id {
				t.Fatalf("got %+v, %v; want ok=%v", got, err, tc.ok)
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v, want a not-found error", err)
			}
		})
	}
}

func TestValidTail(t *testing.T) {
	for s, want := range map[string]bool{"": true, "all": true, "0": true, "25": true, "-1": false, "x": false, "1e3": false, "5 ": false} {
		if got := validTail(s); got != want {
			t.Errorf("validTail(%q) = %v, want %v", s, got, want)
		}
	}
}

// chunkWriter records each Write, to check that lines are written whole.
type chunkWriter struct{ writes []string }

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func TestCopyLines(t *testing.T) {
	long := strings.Repeat("x", maxLogLine+10)
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"lines, one write each", "a | 1\nb | 2\n", []string{"a | 1\n", "b | 2\n"}},
		{"a last line without newline", "a | 1\nb | 2", []string{"a | 1\n", "b | 2"}},
		{"an error line from the node is dropped", "a | 1\n" + api.LogErrorMark + "forged\nb | 2\n", []string{"a | 1\n", "b | 2\n"}},
		{"a line too long goes in pieces", long + "\n", []string{long[:maxLogLine], long[maxLogLine:] + "\n"}},
		{"nothing", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w chunkWriter
			if err := copyLines(&w, strings.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", w.writes) != fmt.Sprintf("%q", tc.want) {
				if len(w.writes) != len(tc.want) {
					t.Fatalf("%d writes, want %d", len(w.writes), len(tc.want))
				}
				t.Fatalf("writes %.200q, want %.200q", w.writes, tc.want)
			}
		})
	}
}

// fakeEngine answers the Docker API calls a log read makes: the ping,
// and the logs of container "c-t1" (two lines on stdout, one on stderr;
// with follow, then nothing until the caller goes); any other container
// does not exist.
func fakeEngine(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Header().Set("API-Version", "1.45")
			_, _ = io.WriteString(w, "OK")
		case strings.HasSuffix(r.URL.Path, "/containers/c-t1/logs"):
			w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
			w.WriteHeader(http.StatusOK)
			_, _ = stdcopy.NewStdWriter(w, stdcopy.Stdout).Write([]byte("hello\nworld\n"))
			_, _ = stdcopy.NewStdWriter(w, stdcopy.Stderr).Write([]byte("oops\n"))
			w.(http.Flusher).Flush()
			if r.URL.Query().Get("follow") == "1" {
				<-r.Context().Done()
			}
		case strings.Contains(r.URL.Path, "/containers/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"No such container"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return "tcp://" + srv.Listener.Addr().String()
}

// logsBed is a worker (w1) serving its peer port on a fake engine, and a
// manager (m1) of the same swarm to read from it; the other identities
// are callers that must be refused.
type logsBed struct {
	ca       *pki.CA
	mats     map[string]*tlsMaterial // by node ID
	addr     string                  // the worker's peer port
	manager  *swarm
	daemon   *Daemon
	tasks    map[string]*types.Task
	workerSW *swarm
}

func newLogsBed(t *testing.T) *logsBed {
	t.Setenv("DOCKER_HOST", fakeEngine(t))
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := &logsBed{ca: ca, mats: map[string]*tlsMaterial{}}
	for id, role := range map[string]string{"m1": pki.RoleManager, "w1": pki.RoleWorker, "w2": pki.RoleWorker, "demoted": pki.RoleManager} {
		certPEM, keyPEM, err := ca.IssueNodeCert(id, role, "c1", []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if b.mats[id], err = newTLSMaterial(ca.CertPEM, certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := executor.New(ctx, "w1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	b.daemon = &Daemon{cfg: Config{Hostname: "cfg-name"}, log: slog.New(slog.DiscardHandler), exec: ex}

	b.addr = freeLoopbackAddr(t)
	task := func(id, slot, node, ctr string) *types.Task {
		tk := &types.Task{ID: id + strings.Repeat("0", 25-len(id)), ServiceID: "s1", ServiceName: "web", NodeID: node, Status: types.TaskStatus{ContainerID: ctr}}
		fmt.Sscan(slot, &tk.Slot)
		return tk
	}
	b.tasks = map[string]*types.Task{
		"t1":      task("t1", "1", "w1", "c-t1"),
		"gone":    task("gone", "2", "w1", "c-gone"),
		"w2s":     task("w2s", "3", "w2", "c-w2"),
		"down":    task("down", "4", "dn", "c-dn"),
		"nowhere": task("nowhere", "5", "nw", "c-nw"),
	}
	// The worker's session: itself, the managers, its own tasks (and
	// another node's, which it must not serve).
	mirror := mirrorOf(t, &types.Cluster{ID: "c1"}, []*types.Node{
		{ID: "m1", Role: types.RoleManager}, {ID: "w1", Role: types.RoleWorker, Hostname: "host-w1"},
		{ID: "w2", Role: types.RoleWorker}, {ID: "demoted", Role: types.RoleWorker},
	}, []*types.Task{b.tasks["t1"], b.tasks["gone"], b.tasks["w2s"]})
	b.workerSW = &swarm{id: &identity{NodeID: "w1", ListenAddr: b.addr}}
	b.workerSW.tls.Store(b.mats["w1"])
	wctx, wcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.daemon.serveWorkerPeers(wctx, b.workerSW, mirror) }()
	t.Cleanup(func() { wcancel(); wg.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker's peer port %s never opened: %v", b.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The manager's store: w1 at its peer port; w2 "at" w1's port too (a
	// record pointing at the wrong node); a node down; one unreachable.
	mstore := mirrorOf(t, &types.Cluster{ID: "c1"}, []*types.Node{
		{ID: "m1", Role: types.RoleManager, State: types.NodeReady},
		{ID: "w1", Role: types.RoleWorker, State: types.NodeReady, PeerAddr: b.addr, Hostname: "host-w1"},
		{ID: "w2", Role: types.RoleWorker, State: types.NodeReady, PeerAddr: b.addr},
		{ID: "dn", Role: types.RoleWorker, State: types.NodeDown, PeerAddr: b.addr},
		{ID: "nw", Role: types.RoleWorker, State: types.NodeReady, PeerAddr: deadLoopbackAddr(t)},
	}, nil)
	b.manager = &swarm{id: &identity{NodeID: "m1"}, store: mstore}
	b.manager.tls.Store(b.mats["m1"])
	return b
}

// freeLoopbackAddr is a loopback address with a port free a moment ago.
func freeLoopbackAddr(t *testing.T) string { return consensustest.FreeAddr(t) }

// deadLoopbackAddr is an address where nothing listens.
func deadLoopbackAddr(t *testing.T) string { return freeLoopbackAddr(t) }

// TestRemoteLogsFromWorker: a manager reads a worker's task log over the
// worker's peer port, prefixed by the worker; nothing (and no error) for a
// container gone or a task the worker does not run; an error for a node
// down, unreachable, or answering as another node.
func TestRemoteLogsFromWorker(t *testing.T) {
	b := newLogsBed(t)
	cases := []struct {
		task string
		tail string
		want string // the lines
		err  string // in the error, "" = none
	}{
		{"t1", "", "web.1.t10000000000@host-w1    | hello\nweb.1.t10000000000@host-w1    | world\nweb.1.t10000000000@host-w1    | oops\n", ""},
		{"t1", "2", "web.1.t10000000000@host-w1    | hello\nweb.1.t10000000000@host-w1    | world\nweb.1.t10000000000@host-w1    | oops\n", ""},
		{"gone", "", "", ""},
		{"w2s", "", "", "certificate is valid for"}, // w2's record points at w1: the handshake refuses
		{"down", "", "", "node is down"},
		{"nowhere", "", "", "node unreachable"},
	}
	for _, tc := range cases {
		t.Run(tc.task, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := b.daemon.remoteLogs(ctx, b.manager, b.tasks[tc.task], false, tc.tail, &out)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if out.String() != tc.want {
				t.Fatalf("logs %q, want %q", out.String(), tc.want)
			}
		})
	}

	t.Run("task the worker does not have", func(t *testing.T) {
		tk := *b.tasks["w2s"]
		tk.NodeID = "w1" // the manager thinks w1 runs it; w1 knows better
		var out bytes.Buffer
		if err := b.daemon.remoteLogs(context.Background(), b.manager, &tk, false, "", &out); err != nil || out.Len() != 0 {
			t.Fatalf("got %q, %v; want nothing", out.String(), err)
		}
	})

	t.Run("a node that never answers", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var held sync.WaitGroup
		held.Add(1)
		go func() { // accept and say nothing
			defer held.Done()
			c, err := l.Accept()
			if err == nil {
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}
		}()
		defer held.Wait()
		defer l.Close()
		old := peerLogsTimeout
		peerLogsTimeout = 300 * time.Millisecond
		defer func() { peerLogsTimeout = old }()
		st := mirrorOf(t, &types.Cluster{ID: "c1"}, []*types.Node{{ID: "mute", Role: types.RoleWorker, State: types.NodeReady, PeerAddr: l.Addr().String()}}, nil)
		sw := &swarm{id: &identity{NodeID: "m1"}, store: st}
		sw.tls.Store(b.mats["m1"])
		tk := *b.tasks["t1"]
		tk.NodeID = "mute"
		start := time.Now()
		err = b.daemon.remoteLogs(context.Background(), sw, &tk, true, "", io.Discard)
		if err == nil || !strings.Contains(err.Error(), "no answer in") {
			t.Fatalf("err = %v, want no answer", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("gave up after %s", d)
		}
	})

	t.Run("follow ends with the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- b.daemon.remoteLogs(ctx, b.manager, b.tasks["t1"], true, "", pw)
			pw.Close()
		}()
		br := bufio.NewReader(pr)
		for i := 0; i < 3; i++ {
			if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "web.1.t10000000000@host-w1    | ") {
				t.Fatalf("line %d: %q, %v", i, l, err)
			}
		}
		cancel()
		go func() { _, _ = io.Copy(io.Discard, pr) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("a follow ended by its caller: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the follow outlived its context")
		}
	})
}

// TestWorkerPeerPortRefuses: the worker's peer port serves its logs to a
// manager of the swarm only: another worker, a demoted manager, a caller
// without a certificate, or Raft are refused.
func TestWorkerPeerPortRefuses(t *testing.T) {
	b := newLogsBed(t)
	q := url.Values{"task": {b.tasks["t1"].ID}}
	client := func(mat *tlsMaterial) *peer.Client {
		return peer.NewClient(&peer.Dialer{TLS: func() *tls.Config {
			var cert *tls.Certificate
			if mat != nil {
				cert = &mat.cert
			}
			return pki.NodeClientTLS(b.ca.Cert, cert, "w1")
		}})
	}
	cases := []struct {
		name   string
		caller *tlsMaterial
		status int // a peer Error's status; 0 = success; -1 = the connection refused
	}{
		{"a manager", b.mats["m1"], 0},
		{"another worker", b.mats["w2"], -1},
		{"a demoted manager's certificate", b.mats["demoted"], http.StatusForbidden},
		{"no certificate", nil, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := client(tc.caller)
			defer cl.CloseIdle()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rc, err := cl.Stream(ctx, b.addr, peer.PathLogs, q)
			var pe *peer.Error
			switch {
			case tc.status == 0:
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(rc)
				rc.Close()
				if !strings.Contains(string(body), "| hello\n") {
					t.Fatalf("body %q", body)
				}
			case tc.status > 0:
				if !errors.As(err, &pe) || pe.Status != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
			default:
				if err == nil {
					rc.Close()
					t.Fatal("served")
				}
				if errors.As(err, &pe) {
					t.Fatalf("err = %v, want the connection refused", err)
				}
			}
		})
	}
	t.Run("raft", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := (&peer.Dialer{TLS: func() *tls.Config { return pki.NodeClientTLS(b.ca.Cert, &b.mats["m1"].cert, "w1") }}).Dial(ctx, b.addr, peer.KindRaft)
		if err != nil {
			return // refused in the handshake: fine too
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			t.Fatalf("raft connection not closed: %v", err)
		}
	})
	t.Run("bad tail", func(t *testing.T) {
		cl := client(b.mats["m1"])
		defer cl.CloseIdle()
		_, err := cl.Stream(context.Background(), b.addr, peer.PathLogs, url.Values{"task": {b.tasks["t1"].ID}, "tail": {"-3"}})
		if !peer.IsCode(err, peer.CodeBadRequest) {
			t.Fatalf("err = %v, want bad request", err)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
