package loadbalancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// Default tunables. Tests shorten them through the Proxy's unexported fields.
const (
	defaultDialTimeout    = 2 * time.Second
	defaultUDPIdleTimeout = 30 * time.Second
	defaultUDPMaxSessions = 16384
)

// ErrClosed is returned by [Proxy.Sync] once the Proxy has been closed.
var ErrClosed = errors.New("loadbalancer: proxy closed")

// Frontend identifies one listener.
type Frontend struct {
	// Proto is "tcp" or "udp".
	Proto string
	// Addr is "ip:port"; ip may be empty or 0.0.0.0 to listen on all
	// addresses.
	Addr string
}

// String returns "proto/addr", e.g. "tcp/0.0.0.0:80".
func (f Frontend) String() string { return f.Proto + "/" + f.Addr }

// compareFrontends orders frontends by Proto, then Addr.
func compareFrontends(a, b Frontend) int {
	return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Addr, b.Addr))
}

// listener is one open frontend, TCP or UDP.
type listener interface {
	// setBackends swaps the backend set; a no-op if raw is unchanged.
	setBackends(raw []string) error
	// close stops the listener from taking new connections or packets.
	close() error
}

// Proxy owns a set of listeners, each balancing round-robin over its
// backends. All its methods are safe for concurrent use.
type Proxy struct {
	logger *slog.Logger

	// ctx is cancelled by Close; it aborts pending dials and closes every
	// proxied TCP connection.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts every goroutine the Proxy starts; Close waits for them.
	wg sync.WaitGroup

	// dialTimeout bounds each TCP dial to a backend.
	dialTimeout time.Duration
	// udpIdleTimeout is how long a UDP session lives without traffic in
	// either direction.
	udpIdleTimeout time.Duration
	// udpMaxSessions caps the live sessions of one UDP listener; datagrams
	// from further clients are dropped. Each session holds a socket, a
	// goroutine and a 64 KiB buffer. These tunables are read when a
	// listener opens.
	udpMaxSessions int

	mu        sync.Mutex
	listeners map[Frontend]listener
	closed    bool
}

// New returns a Proxy with no listeners. A nil logger discards logs.
func New(logger *slog.Logger) *Proxy {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Proxy{
		logger:         logger,
		ctx:            ctx,
		cancel:         cancel,
		dialTimeout:    defaultDialTimeout,
		udpIdleTimeout: defaultUDPIdleTimeout,
		udpMaxSessions: defaultUDPMaxSessions,
		listeners:      make(map[Frontend]listener),
	}
}

// Sync makes the open listeners exactly the keys of want, each with the
// given backends ("ip:port").
//
// It closes listeners not in want, opens missing ones and swaps backend sets
// atomically. Calling it again with the same input is cheap and reopens
// nothing. Established TCP connections and live UDP sessions keep their
// backend across backend changes. Closing a TCP listener stops new
// connections but lets established ones finish; closing a UDP listener ends
// its sessions.
//
// The returned error joins (see [errors.Join]) one error per frontend that
// could not be opened (e.g. address in use) or that was given invalid
// backend addresses; everything else is still applied. Frontends that failed
// to open are retried by the next Sync.
func (p *Proxy) Sync(want map[Frontend][]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}

	// Close first, so that a frontend replaced by an overlapping one
	// (e.g. ":80" by "0.0.0.0:80") can bind.
	for fe, l := range p.listeners {
		if _, ok := want[fe]; ok {
			continue
		}
		delete(p.listeners, fe)
		if err := l.close(); err != nil {
			p.logger.Warn("loadbalancer: closing listener", "frontend", fe, "err", err)
		}
		p.logger.Info("loadbalancer: listener closed", "frontend", fe)
	}

	var failed []failure
	for fe, backends := range want {
		var err error
		if l, ok := p.listeners[fe]; ok {
			err = l.setBackends(backends)
		} else {
			err = p.open(fe, backends)
		}
		if err != nil {
			failed = append(failed, failure{fe, err})
		}
	}
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b failure) int { return compareFrontends(a.fe, b.fe) })
	joined := make([]error, len(failed))
	for i, f := range failed {
		joined[i] = fmt.Errorf("loadbalancer: %s %s: %w", f.fe.Proto, f.fe.Addr, f.err)
	}
	return errors.Join(joined...)
}

// failure is one frontend Sync could not fully apply.
type failure struct {
	fe  Frontend
	err error
}

// open starts the listener for fe. A listener that opens but was given
// invalid backends is kept (with the valid ones) and the error is returned.
// p.mu must be held.
func (p *Proxy) open(fe Frontend, backends []string) error {
	var (
		l   listener
		err error
	)
	switch fe.Proto {
	case "tcp":
		l, err = p.listenTCP(fe)
	case "udp":
		l, err = p.listenUDP(fe)
	default:
		return fmt.Errorf("unsupported protocol %q (want tcp or udp)", fe.Proto)
	}
	if err != nil {
		// The *net.OpError repeats the address; keep only its cause.
		if oe, ok := errors.AsType[*net.OpError](err); ok {
			err = oe.Err
		}
		return err
	}
	p.listeners[fe] = l
	p.logger.Info("loadbalancer: listener opened", "frontend", fe, "backends", len(backends))
	return l.setBackends(backends)
}

// Frontends returns the frontends currently listening, sorted by Proto then
// Addr.
func (p *Proxy) Frontends() []Frontend {
	p.mu.Lock()
	out := make([]Frontend, 0, len(p.listeners))
	for fe := range p.listeners {
		out = append(out, fe)
	}
	p.mu.Unlock()
	slices.SortFunc(out, compareFrontends)
	return out
}

// Close closes every listener and every proxied connection and session, and
// waits for the Proxy's goroutines to finish. Later calls to Sync return
// [ErrClosed]; later calls to Close do nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ls := p.listeners
	p.listeners = nil
	p.mu.Unlock()

	p.cancel()
	var errs []error
	for fe, l := range ls {
		if err := l.close(); err != nil {
			errs = append(errs, fmt.Errorf("loadbalancer: closing %s: %w", fe, err))
		}
	}
	p.wg.Wait()
	return errors.Join(errs...)
}
