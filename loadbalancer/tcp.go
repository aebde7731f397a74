package loadbalancer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// maxAcceptBackoff caps the pause after a failed Accept (e.g. out of file
// descriptors).
const maxAcceptBackoff = time.Second

// tcpListener accepts TCP connections on one frontend and pipes each to a
// backend chosen round-robin.
type tcpListener struct {
	balancer
	p      *Proxy
	ln     *net.TCPListener
	dialer net.Dialer
	log    *slog.Logger
}

// listenTCP opens fe and starts accepting.
func (p *Proxy) listenTCP(fe Frontend) (listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(p.ctx, "tcp", fe.Addr)
	if err != nil {
		return nil, err
	}
	l := &tcpListener{
		p:      p,
		ln:     ln.(*net.TCPListener),
		dialer: net.Dialer{Timeout: p.dialTimeout},
		log:    p.logger.With("frontend", fe.String()),
	}
	p.wg.Go(l.serve)
	return l, nil
}

func (l *tcpListener) setBackends(raw []string) error { return l.update(raw) }

// close stops accepting. Established connections are left to finish; the
// Proxy's Close ends them.
func (l *tcpListener) close() error {
	if err := l.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// serve is the accept loop; it returns once the listener is closed.
func (l *tcpListener) serve() {
	var backoff time.Duration
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxAcceptBackoff)
			l.log.Warn("loadbalancer: accept failed", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.p.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		l.p.wg.Go(func() { l.handle(c) })
	}
}

// handle proxies one accepted connection until both directions are done or
// the Proxy is closed.
func (l *tcpListener) handle(client *net.TCPConn) {
	stopClient := context.AfterFunc(l.p.ctx, func() { client.Close() })
	defer stopClient()

	backend, addr := l.dial()
	if backend == nil {
		// No backend: reset the client at once rather than let it hang.
		client.SetLinger(0)
		client.Close()
		return
	}
	stopBackend := context.AfterFunc(l.p.ctx, func() { backend.Close() })
	defer stopBackend()

	if l.log.Enabled(l.p.ctx, slog.LevelDebug) {
		l.log.Debug("loadbalancer: connection opened", "client", client.RemoteAddr().String(), "backend", addr)
	}
	up, down := pipe(client, backend)
	if l.log.Enabled(l.p.ctx, slog.LevelDebug) {
		l.log.Debug("loadbalancer: connection closed", "backend", addr, "bytes_up", up, "bytes_down", down)
	}
}

// dial connects to the next backend round-robin, trying each of the others
// once if it fails. It returns nil if there is no backend or none answers.
func (l *tcpListener) dial() (*net.TCPConn, string) {
	set, start := l.pick()
	if set == nil || len(set.strs) == 0 {
		l.log.Debug("loadbalancer: no backend, closing connection")
		return nil, ""
	}
	n := len(set.strs)
	var errs []error
	for i := range n {
		addr := set.strs[(start+i)%n]
		c, err := l.dialer.DialContext(l.p.ctx, "tcp", addr)
		if err == nil {
			return c.(*net.TCPConn), addr
		}
		if l.p.ctx.Err() != nil {
			return nil, ""
		}
		// Per-connection noise while another backend may still answer.
		l.log.Debug("loadbalancer: backend dial failed, trying the next", "backend", addr, "err", err)
		errs = append(errs, err)
	}
	l.log.Warn("loadbalancer: no backend reachable, closing connection", "backends", n, "err", errors.Join(errs...))
	return nil, ""
}

// pipe copies both directions between client and backend, propagating
// half-closes, and closes both connections when done. It returns the bytes
// sent to the backend (up) and to the client (down).
//
// io.Copy between two *net.TCPConn uses splice(2) on Linux, so no data goes
// through a userspace buffer there.
func pipe(client, backend *net.TCPConn) (up, down int64) {
	var wg sync.WaitGroup
	wg.Go(func() { up = copyHalf(backend, client) })
	down = copyHalf(client, backend)
	wg.Wait()
	client.Close()
	backend.Close()
	return up, down
}

// copyHalf copies src to dst until EOF, then half-closes dst so its peer
// sees EOF too. On an error (reset, closed) it closes both connections, so
// the opposite direction does not wait forever.
func copyHalf(dst, src *net.TCPConn) int64 {
	n, err := io.Copy(dst, src)
	if err != nil {
		src.Close()
		dst.Close()
		return n
	}
	dst.CloseWrite()
	return n
}
