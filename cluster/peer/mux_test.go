package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sw/cluster/pki"
)

// testPKI is a cluster CA with a manager and a worker certificate.
type testPKI struct {
	ca       *pki.CA
	manager  tls.Certificate
	worker   tls.Certificate
	clusterI string
}

func newTestPKI(t testing.TB, cluster string) *testPKI {
	t.Helper()
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatalf("NewRootCA: %v", err)
	}
	p := &testPKI{ca: ca, clusterI: cluster}
	p.manager = p.issue(t, "mgr1", pki.RoleManager)
	p.worker = p.issue(t, "wrk1", pki.RoleWorker)
	return p
}

func (p *testPKI) issue(t testing.TB, nodeID, role string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := p.ca.IssueNodeCert(nodeID, role, p.clusterI, []net.IP{net.ParseIP("127.0.0.1")}, time.Now(), 0)
	if err != nil {
		t.Fatalf("IssueNodeCert(%s): %v", nodeID, err)
	}
	kp, err := pki.KeyPair(certPEM, keyPEM, p.ca.Cert)
	if err != nil {
		t.Fatalf("KeyPair: %v", err)
	}
	return kp
}

func (p *testPKI) serverTLS() *tls.Config { return pki.ServerTLS(p.ca.Cert, p.manager, true) }

// dialer returns a Dialer presenting cert and trusting p's CA.
func (p *testPKI) dialer(cert tls.Certificate) *Dialer {
	return &Dialer{TLS: func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &cert) }}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startMux(t *testing.T, p *testPKI) *Mux {
	t.Helper()
	m, err := Listen("127.0.0.1:0", p.serverTLS(), nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type acceptResult struct {
	c   net.Conn
	err error
}

// acceptAsync runs one Accept on l in the background.
func acceptAsync(l net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func waitAccept(t *testing.T, ch <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return")
		return acceptResult{}
	}
}

// expectClosedByServer reads from c until the server's side ends it; a
// connection that the mux refused must not hang.
func expectClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the mux neither delivered nor closed the connection")
	}
	if err == nil {
		t.Fatal("read a byte from a connection the mux should have refused")
	}
}

func TestMuxRoutesByKind(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	d := p.dialer(p.manager)
	cases := []struct {
		name    string
		kind    byte
		payload []byte
	}{
		{"raft", KindRaft, []byte("raft stream bytes")},
		{"api", KindAPI, []byte("GET / HTTP/1.1\r\n\r\n")},
		{"payload starting with the other kind", KindRaft, []byte{KindAPI, KindRaft, 0, 1, 2}},
		{"one byte", KindAPI, []byte{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc := acceptAsync(m.Listener(tc.kind))
			c, err := d.Dial(testCtx(t), m.Addr().String(), tc.kind)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if _, err := c.Write(tc.payload); err != nil {
				t.Fatal(err)
			}
			r := waitAccept(t, acc)
			if r.err != nil {
				t.Fatalf("Accept: %v", r.err)
			}
			defer r.c.Close()
			_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(tc.payload))
			if _, err := io.ReadFull(r.c, got); err != nil {
				t.Fatalf("reading the payload: %v", err)
			}
			if !bytes.Equal(got, tc.payload) {
				t.Fatalf("payload %q, want %q", got, tc.payload)
			}
			// The server end is the TLS connection, with the client's identity.
			tc2, ok := r.c.(interface{ ConnectionState() tls.ConnectionState })
			if !ok {
				t.Fatalf("accepted %T, want a TLS connection", r.c)
			}
			id, ok := pki.IdentityFromConnState(tc2.ConnectionState())
			if !ok || id.NodeID != "mgr1" {
				t.Fatalf("peer identity %+v, %v", id, ok)
			}
			// And the bytes flow back.
			if _, err := r.c.Write([]byte("ok")); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, 2)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, back); err != nil || string(back) != "ok" {
				t.Fatalf("reply %q, %v", back, err)
			}
			for _, k := range []byte{KindRaft, KindAPI} {
				if n := len(m.queues[k].ch); n != 0 {
					t.Fatalf("%d connections left queued on kind %q", n, k)
				}
			}
		})
	}
}

// TestMuxRefuses: connections the mux must not hand to anyone are closed,
// never queued.
func TestMuxRefuses(t *testing.T) {
	p := newTestPKI(t, "c1")
	other := newTestPKI(t, "c1") // another CA, same cluster name
	m := startMux(t, p)
	cases := []struct {
		name string
		conf func() *tls.Config
		kind byte
	}{
		{"unknown kind byte", func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &p.worker) }, 'X'},
		{"zero kind byte", func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &p.worker) }, 0},
		// The client trusts the server but shows a certificate of another CA.
		{"client cert from another CA", func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &other.worker) }, KindAPI},
		// The client trusts only another CA, so it refuses the server.
		{"server from another CA", func() *tls.Config { return pki.ClientTLS(other.ca.Cert, &other.worker) }, KindAPI},
		{"no client certificate", func() *tls.Config { return pki.ClientTLS(p.ca.Cert, nil) }, KindRaft},
		{"manager of another CA", func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &other.manager) }, KindRaft},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &Dialer{TLS: tc.conf}
			c, err := d.Dial(testCtx(t), m.Addr().String(), tc.kind)
			if err == nil {
				// With TLS 1.3 the server judges the client's certificate
				// after the client's handshake is done: the refusal shows
				// on the first read.
				expectClosedByServer(t, c)
				c.Close()
			}
			for _, k := range []byte{KindRaft, KindAPI} {
				if n := len(m.queues[k].ch); n != 0 {
					t.Fatalf("a refused connection was queued on kind %q", k)
				}
			}
		})
	}
	// The mux still serves good clients.
	acc := acceptAsync(m.Listener(KindRaft))
	c, err := p.dialer(p.manager).Dial(testCtx(t), m.Addr().String(), KindRaft)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := waitAccept(t, acc); r.err != nil {
		t.Fatal(r.err)
	} else {
		r.c.Close()
	}
}

// TestQueueClose: closing one kind's listener ends its Accept, refuses its
// later connections, and leaves the mux and the other kind running.
func TestQueueClose(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	d := p.dialer(p.worker)

	blocked := acceptAsync(m.Listener(KindAPI))
	select {
	case r := <-blocked:
		t.Fatalf("Accept returned before Close: %v", r.err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := m.Listener(KindAPI).Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Listener(KindAPI).Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if r := waitAccept(t, blocked); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Accept after Close = %v, want ErrClosed", r.err)
	}
	if _, err := m.Listener(KindAPI).Accept(); !errors.Is(err, ErrClosed) {
		t.Fatalf("a later Accept = %v, want ErrClosed", err)
	}
	if got := m.Listener(KindAPI).Addr().String(); got != m.Addr().String() {
		t.Fatalf("queue address %s, mux %s", got, m.Addr())
	}

	// Connections of the closed kind are closed at once, every time (not
	// left in the queue for an Accept that will never come).
	for i := 0; i < 20; i++ {
		c, err := d.Dial(testCtx(t), m.Addr().String(), KindAPI)
		if err != nil {
			t.Fatal(err)
		}
		expectClosedByServer(t, c)
		c.Close()
	}

	// The other kind still works.
	acc := acceptAsync(m.Listener(KindRaft))
	c, err := p.dialer(p.manager).Dial(testCtx(t), m.Addr().String(), KindRaft)
	if err != nil {
		t.Fatalf("Dial after closing the API listener: %v", err)
	}
	defer c.Close()
	r := waitAccept(t, acc)
	if r.err != nil {
		t.Fatalf("Accept on the raft listener: %v", r.err)
	}
	r.c.Close()
}

// TestMuxClose: closing the mux ends every Accept, stops the port, and
// closes connections that were queued but never accepted.
func TestMuxClose(t *testing.T) {
	p := newTestPKI(t, "c1")
	m, err := Listen("127.0.0.1:0", p.serverTLS(), nil, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	d := p.dialer(p.worker)

	// A connection that is routed but not accepted yet.
	queued, err := p.dialer(p.manager).Dial(testCtx(t), m.Addr().String(), KindRaft)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(m.queues[KindRaft].ch) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never queued")
		}
		time.Sleep(time.Millisecond)
	}

	accs := []<-chan acceptResult{acceptAsync(m.Listener(KindAPI)), acceptAsync(m.Listener(KindAPI))}
	select {
	case r := <-accs[0]:
		t.Fatalf("Accept returned before Close: %v", r.err)
	case <-time.After(20 * time.Millisecond):
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, acc := range accs {
		if r := waitAccept(t, acc); !errors.Is(r.err, ErrClosed) {
			t.Fatalf("API Accept after mux Close = %v, want ErrClosed", r.err)
		}
	}
	// The raft queue may hand out what it held or say it is closed; a
	// connection nobody accepts must not be left open.
	for _, k := range []byte{KindRaft, KindAPI} {
		if _, err := m.Listener(k).Accept(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Accept(%q) after mux Close = %v, want ErrClosed", k, err)
		}
	}
	expectClosedByServer(t, queued)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := d.Dial(ctx, m.Addr().String(), KindAPI); err == nil {
		c.Close()
		t.Fatal("dialled a closed mux")
	}
}

func TestListenError(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	if _, err := Listen(m.Addr().String(), p.serverTLS(), nil, discardLog()); err == nil {
		t.Fatal("listened twice on one port")
	}
}

func TestStreamLayer(t *testing.T) {
	p := newTestPKI(t, "c1")
	m := startMux(t, p)
	adv := m.Addr()
	server := &StreamLayer{Listener: m.Listener(KindRaft), Dialer: p.dialer(p.manager), Advertise: adv}
	client := &StreamLayer{Listener: m.Listener(KindRaft), Dialer: p.dialer(p.manager), Advertise: adv}
	if server.Addr() != adv {
		t.Fatalf("Addr %v, want %v", server.Addr(), adv)
	}

	acc := acceptAsync(server)
	c, err := client.Dial(raft.ServerAddress("127.0.0.1:"+portOf(t, adv)), 5*time.Second)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("append entries")); err != nil {
		t.Fatal(err)
	}
	r := waitAccept(t, acc)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	got := make([]byte, len("append entries"))
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(r.c, got); err != nil || string(got) != "append entries" {
		t.Fatalf("got %q, %v", got, err)
	}

	// Nothing listens there: Dial fails within its timeout.
	dead := deadAddr(t)
	start := time.Now()
	if c, err := client.Dial(raft.ServerAddress(dead), 2*time.Second); err == nil {
		c.Close()
		t.Fatal("dialled a closed port")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("Dial overran its timeout")
	}

	// Closing the stream layer closes the raft queue only.
	if err := server.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Accept(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close = %v", err)
	}
	acc = acceptAsync(m.Listener(KindAPI))
	c2, err := p.dialer(p.worker).Dial(testCtx(t), adv.String(), KindAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if r := waitAccept(t, acc); r.err != nil {
		t.Fatal(r.err)
	} else {
		r.c.Close()
	}
}

func portOf(t *testing.T, a net.Addr) string {
	t.Helper()
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// deadAddr is a loopback address nothing listens on (a port just freed).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestMuxAuthorizes: a connection reaches its kind's listener only if the
// authorizer admits its peer; the default policy keeps Raft to managers.
func TestMuxAuthorizes(t *testing.T) {
	p := newTestPKI(t, "c1")
	onlyMgr1 := func(kind byte, id *pki.NodeIdentity) error {
		if err := ManagersOnRaft(kind, id); err != nil {
			return err
		}
		if kind == KindRaft && id.NodeID != "mgr1" {
			return errors.New("not a member")
		}
		return nil
	}
	mgr2 := p.issue(t, "mgr2", pki.RoleManager)
	cases := []struct {
		name      string
		auth      Authorizer
		cert      *tls.Certificate
		kind      byte
		delivered bool
	}{
		{"default: manager on raft", nil, &p.manager, KindRaft, true},
		{"default: worker on raft", nil, &p.worker, KindRaft, false},
		{"default: no certificate on raft", nil, nil, KindRaft, false},
		{"default: worker on the API", nil, &p.worker, KindAPI, true},
		{"default: no certificate on the API", nil, nil, KindAPI, true},
		{"members only: a member", onlyMgr1, &p.manager, KindRaft, true},
		{"members only: a manager not a member", onlyMgr1, &mgr2, KindRaft, false},
		{"members only: the API is open", onlyMgr1, &mgr2, KindAPI, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Listen("127.0.0.1:0", pki.ServerTLS(p.ca.Cert, p.manager, false), tc.auth, discardLog())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			acc := acceptAsync(m.Listener(tc.kind))
			d := &Dialer{TLS: func() *tls.Config { return pki.ClientTLS(p.ca.Cert, tc.cert) }}
			c, err := d.Dial(testCtx(t), m.Addr().String(), tc.kind)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if !tc.delivered {
				expectClosedByServer(t, c)
				select {
				case r := <-acc:
					t.Fatalf("a refused connection was accepted: %v", r.err)
				case <-time.After(50 * time.Millisecond):
				}
				return
			}
			r := waitAccept(t, acc)
			if r.err != nil {
				t.Fatal(r.err)
			}
			r.c.Close()
		})
	}
}

// benchRaftConnect measures opening one Raft connection through the mux
// (TCP, TLS handshake with both certificates verified, the kind byte, the
// authorizer, the hand-over to Accept).
func benchRaftConnect(b *testing.B, auth Authorizer) {
	p := newTestPKI(b, "c1")
	m, err := Listen("127.0.0.1:0", p.serverTLS(), auth, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	d := p.dialer(p.manager)
	addr := m.Addr().String()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		acc := acceptAsync(m.Listener(KindRaft))
		c, err := d.Dial(ctx, addr, KindRaft)
		if err != nil {
			b.Fatal(err)
		}
		r := <-acc
		if r.err != nil {
			b.Fatal(r.err)
		}
		r.c.Close()
		c.Close()
	}
}

// BenchmarkRaftConnect compares the connection with no authorization at
// all against the default policy and one that also looks the peer up, as
// the daemon's does in the Raft configuration.
func BenchmarkRaftConnect(b *testing.B) {
	members := map[string]bool{"mgr1": true}
	b.Run("open", func(b *testing.B) { benchRaftConnect(b, func(byte, *pki.NodeIdentity) error { return nil }) })
	b.Run("managers", func(b *testing.B) { benchRaftConnect(b, ManagersOnRaft) })
	b.Run("members", func(b *testing.B) {
		benchRaftConnect(b, func(k byte, id *pki.NodeIdentity) error {
			if err := ManagersOnRaft(k, id); err != nil {
				return err
			}
			if !members[id.NodeID] {
				return errors.New("not a member")
			}
			return nil
		})
	})
}

// TestMuxRecheck: an open Raft connection whose peer the authorizer
// refuses later is closed by Recheck; one it still admits stays open, and
// closed connections are forgotten.
func TestMuxRecheck(t *testing.T) {
	p := newTestPKI(t, "c1")
	mgr2 := p.issue(t, "mgr2", pki.RoleManager)
	var mu sync.Mutex
	members := map[string]bool{"mgr1": true, "mgr2": true}
	auth := func(kind byte, id *pki.NodeIdentity) error {
		if err := ManagersOnRaft(kind, id); err != nil || kind != KindRaft {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if !members[id.NodeID] {
			return errors.New("not a member")
		}
		return nil
	}
	m, err := Listen("127.0.0.1:0", p.serverTLS(), auth, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	open := func(cert tls.Certificate) (client, server net.Conn) {
		acc := acceptAsync(m.Listener(KindRaft))
		c, err := (&Dialer{TLS: func() *tls.Config { return pki.ClientTLS(p.ca.Cert, &cert) }}).Dial(testCtx(t), m.Addr().String(), KindRaft)
		if err != nil {
			t.Fatal(err)
		}
		r := waitAccept(t, acc)
		if r.err != nil {
			t.Fatal(r.err)
		}
		return c, r.c
	}
	c1, s1 := open(p.manager)
	defer c1.Close()
	c2, s2 := open(mgr2)
	defer c2.Close()
	defer s1.Close()
	mu.Lock()
	delete(members, "mgr2") // mgr2 is demoted
	mu.Unlock()
	m.Recheck()
	expectClosedByServer(t, c2)
	if _, err := s2.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server end of a refused connection still reads")
	}
	// mgr1 still talks.
	if _, err := c1.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = s1.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s1, make([]byte, 1)); err != nil {
		t.Fatalf("an admitted connection was cut: %v", err)
	}
	m.connMu.Lock()
	n := len(m.raftConns)
	m.connMu.Unlock()
	if n != 1 {
		t.Fatalf("%d connections tracked, want the one still open", n)
	}
}
