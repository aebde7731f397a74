// Package peer carries all node-to-node traffic on one TLS port per
// manager: each connection announces what it is with its first byte —
// Raft's stream or the control API (HTTP) — and the mux hands it, once its
// Authorizer admits the peer for that kind, to the right consumer. Raft
// uses it through StreamLayer. The control API's requests and answers are
// in wire.go, its client in client.go, and what its handlers share — the
// error codes that carry a kind of error across (EncodeError,
// DecodeError), the strict reading of bodies and the writing of answers —
// in errors.go and server.go.
package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"golang.org/x/time/rate"

	"sw/cluster/backoff"
	"sw/cluster/pki"
)

// Connection kinds, the first byte a dialer writes.
const (
	KindRaft byte = 'R'
	KindAPI  byte = 'H'
)

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("peer: listener closed")

// Authorizer decides whether a peer may open a connection of a kind. id is
// the peer's verified node identity, nil when it showed no certificate (a
// joining node). A non-nil error refuses the connection.
type Authorizer func(kind byte, id *pki.NodeIdentity) error

// ManagersOnRaft is the base policy every Authorizer should start from:
// the Raft stream is open only to a verified manager certificate (its
// cluster and CA were checked in the handshake); the API is open to all,
// its routes checking what each needs.
func ManagersOnRaft(kind byte, id *pki.NodeIdentity) error {
	if kind != KindRaft {
		return nil
	}
	if id == nil {
		return errors.New("raft needs a manager certificate; the peer showed none")
	}
	if !id.IsManager() {
		return fmt.Errorf("raft needs a manager certificate; node %s is a %s", id.NodeID, id.Role)
	}
	return nil
}

// Mux splits one TLS listener into per-kind listeners.
type Mux struct {
	ln     net.Listener
	log    *slog.Logger
	auth   Authorizer
	queues map[byte]*queue
	once   sync.Once
	done   chan struct{}
	// refusals limits the logging of refused connections, so that a flood
	// of them cannot flood the log.
	refusals rate.Sometimes

	// raftConns are the Raft connections handed on and not yet closed,
	// which Recheck judges again.
	connMu    sync.Mutex
	raftConns map[*trackedConn]struct{}
	// routing are the connections accepted whose kind byte has not been
	// read yet (guarded by connMu): Close closes them, so that their
	// handshakes end at once. closing says Close has taken them.
	routing map[net.Conn]struct{}
	closing bool
	// wg counts the accept loop and the connections being routed: Close
	// returns once they are done.
	wg sync.WaitGroup
}

// Listen opens the TLS port. Handshakes and kind bytes are read off the
// accept loop, so a slow peer cannot stall others. Every connection must
// pass auth for its kind before it is handed on; nil means ManagersOnRaft.
func Listen(addr string, conf *tls.Config, auth Authorizer, log *slog.Logger) (*Mux, error) {
	ln, err := tls.Listen("tcp", addr, conf)
	if err != nil {
		return nil, fmt.Errorf("peer: listen on %s: %w", addr, err)
	}
	if auth == nil {
		auth = ManagersOnRaft
	}
	m := &Mux{ln: ln, log: log, auth: auth, done: make(chan struct{}), queues: map[byte]*queue{},
		refusals: rate.Sometimes{First: 10, Interval: 10 * time.Second}, raftConns: map[*trackedConn]struct{}{},
		routing: map[net.Conn]struct{}{}}
	for _, k := range []byte{KindRaft, KindAPI} {
		m.queues[k] = &queue{mux: m, ch: make(chan net.Conn, 64), done: make(chan struct{})}
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.accept() }()
	return m, nil
}

func (m *Mux) accept() {
	retry := backoff.Backoff{Initial: 50 * time.Millisecond, Jitter: backoff.Equal}
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			m.log.Warn("peer: accept failed", "err", err)
			select {
			case <-m.done:
				return
			case <-retry.After(retry.Next()):
			}
			continue
		}
		retry.Reset()
		m.connMu.Lock()
		if m.closing {
			m.connMu.Unlock()
			c.Close()
			return
		}
		m.routing[c] = struct{}{}
		m.wg.Add(1)
		m.connMu.Unlock()
		go func() { defer m.wg.Done(); m.route(c) }()
	}
}

func (m *Mux) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var kind [1]byte
	_, err := c.Read(kind[:])
	m.connMu.Lock()
	delete(m.routing, c) // from here on, route closes c or hands it on
	m.connMu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	q := m.queues[kind[0]]
	if q == nil {
		c.Close()
		return
	}
	id := peerIdentity(c)
	if err := m.auth(kind[0], id); err != nil {
		m.refused(kind[0], c, err)
		c.Close()
		return
	}
	if kind[0] == KindRaft {
		c = m.track(c, id)
	}
	if !q.put(c) {
		c.Close()
	}
}

func (m *Mux) refused(kind byte, c net.Conn, err error) {
	m.refusals.Do(func() {
		m.log.Warn("peer: connection refused", "kind", kindName(kind), "from", c.RemoteAddr().String(), "err", err)
	})
}

// Recheck judges every open Raft connection again and closes those whose
// peer the authorizer refuses now: a connection opened while its peer was
// a member must not outlive the membership (Raft keeps connections open
// as long as they work).
func (m *Mux) Recheck() {
	for _, c := range m.openRaftConns() {
		if err := m.auth(KindRaft, c.id); err != nil {
			m.refused(KindRaft, c, fmt.Errorf("an open connection closed: %w", err))
			c.Close()
		}
	}
}

// openRaftConns lists the Raft connections handed on and still open.
func (m *Mux) openRaftConns() []*trackedConn {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	conns := make([]*trackedConn, 0, len(m.raftConns))
	for c := range m.raftConns {
		conns = append(conns, c)
	}
	return conns
}

// track wraps a Raft connection so that Recheck can find it until it is
// closed.
func (m *Mux) track(c net.Conn, id *pki.NodeIdentity) *trackedConn {
	tc := &trackedConn{Conn: c, mux: m, id: id}
	m.connMu.Lock()
	m.raftConns[tc] = struct{}{}
	m.connMu.Unlock()
	return tc
}

// trackedConn is an admitted Raft connection; closing it forgets it.
type trackedConn struct {
	net.Conn
	mux  *Mux
	id   *pki.NodeIdentity
	once sync.Once
}

// Close closes the connection and takes it off the mux's list.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.mux.connMu.Lock()
		delete(c.mux.raftConns, c)
		c.mux.connMu.Unlock()
	})
	return c.Conn.Close()
}

// ConnectionState is the TLS state of the connection, as on a *tls.Conn.
func (c *trackedConn) ConnectionState() tls.ConnectionState {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

func kindName(k byte) string {
	if k == KindRaft {
		return "raft"
	}
	return "api"
}

// peerIdentity is the verified identity of a connection's peer, nil if it
// showed no certificate. The handshake is done: the kind byte was read.
func peerIdentity(c net.Conn) *pki.NodeIdentity {
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return nil
	}
	id, ok := pki.IdentityFromConnState(tc.ConnectionState())
	if !ok {
		return nil
	}
	return &id
}

// Addr is the listening address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Listener returns the listener of one kind of connection.
func (m *Mux) Listener(kind byte) net.Listener { return m.queues[kind] }

// Close stops accepting; connections queued but not yet accepted, and
// those still in their handshake, are closed. It returns once the mux's
// goroutines (the accept loop, the routing of each new connection) have.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
		m.connMu.Lock()
		m.closing = true
		routing := m.routing
		m.routing = nil
		m.connMu.Unlock()
		for c := range routing {
			c.Close()
		}
		for _, q := range m.queues {
			q.drain()
		}
		for _, c := range m.openRaftConns() {
			c.Close()
		}
	})
	m.wg.Wait()
	return err
}

// queue is a net.Listener fed by the mux. Closing it ends its Accept (so
// a server on it can shut down) without closing the mux.
type queue struct {
	mux  *Mux
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (q *queue) Accept() (net.Conn, error) {
	if q.closed() {
		return nil, ErrClosed
	}
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.mux.done:
		return nil, ErrClosed
	case <-q.done:
		return nil, ErrClosed
	}
}

// Close ends Accept and closes the connections still queued.
func (q *queue) Close() error {
	q.once.Do(func() {
		close(q.done)
		q.drain()
	})
	return nil
}

// closed reports whether the queue or its mux is closed.
func (q *queue) closed() bool {
	select {
	case <-q.mux.done:
		return true
	case <-q.done:
		return true
	default:
		return false
	}
}

// put queues c for Accept; false means the queue is closed and c was not
// queued. A connection queued while the queue closes is closed here: the
// closer drains what was queued before it closed, the last putter what
// came after, so nothing is left for an Accept that will never come.
func (q *queue) put(c net.Conn) bool {
	if q.closed() {
		return false
	}
	select {
	case q.ch <- c:
	case <-q.mux.done:
		return false
	case <-q.done:
		return false
	}
	if q.closed() {
		q.drain()
	}
	return true
}

// drain closes every connection waiting in the queue.
func (q *queue) drain() {
	for {
		select {
		case c := <-q.ch:
			c.Close()
		default:
			return
		}
	}
}
func (q *queue) Addr() net.Addr { return q.mux.Addr() }

// Dialer opens kind-tagged TLS connections to peers.
type Dialer struct {
	// TLS returns the client config to use now (certificates rotate).
	TLS func() *tls.Config
}

// Dial connects to addr and announces kind.
func (d *Dialer) Dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	var nd net.Dialer
	td := tls.Dialer{NetDialer: &nd, Config: d.TLS()}
	c, err := td.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// StreamLayer is Raft's transport over the mux.
type StreamLayer struct {
	net.Listener
	Dialer    *Dialer
	Advertise net.Addr
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// Dial opens a Raft stream to a peer.
func (s *StreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Dialer.Dial(ctx, string(addr), KindRaft)
}

// Addr is the address peers reach this node's Raft at.
func (s *StreamLayer) Addr() net.Addr { return s.Advertise }
