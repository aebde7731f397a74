package loadbalancer

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxDatagram is large enough for any UDP payload, so nothing is
	// truncated.
	maxDatagram = 64 << 10
	// udpSocketBuffer is the kernel buffer size asked for the listening
	// socket, so bursts are not dropped; the kernel may grant less.
	udpSocketBuffer = 4 << 20
)

// datagramPool recycles the receive buffers of UDP sessions.
var datagramPool = sync.Pool{New: func() any {
	b := make([]byte, maxDatagram)
	return &b
}}

// udpListener receives datagrams on one frontend and relays them through one
// session per client address.
type udpListener struct {
	balancer
	p    *Proxy
	conn *net.UDPConn
	idle time.Duration
	max  int
	log  *slog.Logger
	// epoch is the base of the sessions' monotonic activity clock.
	epoch time.Time

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession
}

// udpSession relays one client's datagrams to the backend it was given and
// the backend's replies back to the client.
type udpSession struct {
	l       *udpListener
	client  netip.AddrPort
	backend netip.AddrPort
	// conn is connected to backend.
	conn *net.UDPConn
	// last is the time of the latest datagram in either direction, in
	// nanoseconds since l.epoch.
	last atomic.Int64
}

// listenUDP opens fe and starts relaying.
func (p *Proxy) listenUDP(fe Frontend) (listener, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(p.ctx, "udp", fe.Addr)
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	// Best effort: without privileges the kernel caps it at rmem_max.
	conn.SetReadBuffer(udpSocketBuffer)
	conn.SetWriteBuffer(udpSocketBuffer)
	l := &udpListener{
		p:        p,
		conn:     conn,
		idle:     p.udpIdleTimeout,
		max:      p.udpMaxSessions,
		log:      p.logger.With("frontend", fe.String()),
		epoch:    time.Now(),
		sessions: make(map[netip.AddrPort]*udpSession),
	}
	p.wg.Go(l.serve)
	return l, nil
}

func (l *udpListener) setBackends(raw []string) error { return l.update(raw) }

// close closes the listening socket; serve then ends every session, since
// their replies could no longer be sent.
func (l *udpListener) close() error {
	if err := l.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// now returns the monotonic activity clock.
func (l *udpListener) now() int64 { return int64(time.Since(l.epoch)) }

// serve reads client datagrams until the socket is closed, then ends all
// sessions. It is the only goroutine that creates sessions.
func (l *udpListener) serve() {
	defer l.closeSessions()
	buf := make([]byte, maxDatagram)
	for {
		n, client, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("loadbalancer: udp read failed", "err", err)
			continue
		}
		l.forward(buf[:n], client)
	}
}

// forward sends one client datagram to the client's backend, creating the
// session if needed. If the session's socket fails (e.g. the backend refused
// an earlier datagram), the session is dropped and the datagram is retried
// once on a new session, so that a dead backend is skipped.
func (l *udpListener) forward(b []byte, client netip.AddrPort) {
	for range 2 {
		s := l.session(client)
		if s == nil {
			return
		}
		_, err := s.conn.Write(b)
		if err == nil {
			return
		}
		l.log.Debug("loadbalancer: udp send to backend failed", "client", client, "backend", s.backend, "err", err)
		l.remove(s)
	}
}

// session returns the live session of client, marking it active, or starts
// a new one. It returns nil if no backend could be used.
func (l *udpListener) session(client netip.AddrPort) *udpSession {
	now := l.now()
	l.mu.Lock()
	s := l.sessions[client]
	if s != nil {
		// Touch under the lock: expiry checks under it too, so a session
		// handed out here cannot expire before its idle timeout.
		s.last.Store(now)
		l.mu.Unlock()
		return s
	}
	full := len(l.sessions) >= l.max
	l.mu.Unlock()
	if full {
		l.log.Debug("loadbalancer: too many udp sessions, dropping datagram", "client", client, "max", l.max)
		return nil
	}

	s = l.dial(client)
	if s == nil {
		return nil
	}
	s.last.Store(now)
	l.mu.Lock()
	l.sessions[client] = s
	l.mu.Unlock()
	l.p.wg.Go(s.serve)
	if l.log.Enabled(l.p.ctx, slog.LevelDebug) {
		l.log.Debug("loadbalancer: udp session opened", "client", client, "backend", s.backend)
	}
	return s
}

// dial opens a socket connected to the next backend round-robin, trying
// the others once each if that fails.
func (l *udpListener) dial(client netip.AddrPort) *udpSession {
	set, start := l.pick()
	if set == nil || len(set.addrs) == 0 {
		l.log.Debug("loadbalancer: no backend, dropping datagram", "client", client)
		return nil
	}
	n := len(set.addrs)
	for i := range n {
		addr := set.addrs[(start+i)%n]
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
		if err == nil {
			return &udpSession{l: l, client: client, backend: addr, conn: c}
		}
		l.log.Warn("loadbalancer: udp backend dial failed", "backend", addr, "err", err)
	}
	return nil
}

// remove forgets s, if still current, and closes its socket.
func (l *udpListener) remove(s *udpSession) {
	l.mu.Lock()
	if l.sessions[s.client] == s {
		delete(l.sessions, s.client)
	}
	l.mu.Unlock()
	s.conn.Close()
}

// expire removes s if it has been idle for the whole timeout and reports
// whether it did; otherwise it returns how long s may still stay idle.
func (l *udpListener) expire(s *udpSession) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	left := time.Duration(s.last.Load()+int64(l.idle)) - time.Duration(l.now())
	if left > 0 {
		return false, left
	}
	if l.sessions[s.client] == s {
		delete(l.sessions, s.client)
	}
	return true, 0
}

// closeSessions ends every session.
func (l *udpListener) closeSessions() {
	l.mu.Lock()
	ss := l.sessions
	l.sessions = make(map[netip.AddrPort]*udpSession)
	l.mu.Unlock()
	for _, s := range ss {
		s.conn.Close()
	}
}

// sessionCount returns the number of live sessions.
func (l *udpListener) sessionCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sessions)
}

// serve relays the backend's replies to the client until the session idles
// out, its socket fails or it is closed.
func (s *udpSession) serve() {
	l := s.l
	defer func() {
		l.remove(s)
		if l.log.Enabled(l.p.ctx, slog.LevelDebug) {
			l.log.Debug("loadbalancer: udp session closed", "client", s.client, "backend", s.backend)
		}
	}()
	bp := datagramPool.Get().(*[]byte)
	defer datagramPool.Put(bp)
	buf := *bp

	// The deadline is only moved when it fires, not per datagram.
	s.conn.SetReadDeadline(time.Now().Add(l.idle))
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				expired, left := l.expire(s)
				if expired {
					return
				}
				s.conn.SetReadDeadline(time.Now().Add(left))
				continue
			}
			// Typically ECONNREFUSED: nobody listens at the backend.
			l.log.Debug("loadbalancer: udp backend read failed", "client", s.client, "backend", s.backend, "err", err)
			return
		}
		s.last.Store(l.now())
		if _, err := l.conn.WriteToUDPAddrPort(buf[:n], s.client); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("loadbalancer: udp send to client failed", "client", s.client, "err", err)
		}
	}
}
