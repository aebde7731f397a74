// Package dns is the mechanics of sw's name server: it answers A queries
// from a table of records it is handed, says "no such data" for the other
// types of those names, and forwards every other name to upstream
// resolvers. It knows nothing of the cluster; the dns plugin feeds it.
package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Records maps fully qualified, lower-case names ("web.") to addresses.
type Records map[string][]net.IP

// Server answers on one address, over UDP and TCP.
type Server struct {
	// Addr is "ip:port" to listen on.
	Addr string
	// Upstreams are "ip:port" resolvers for names not in the records.
	Upstreams []string
	// ReusePort lets several processes serve the same address (the nodes
	// of one swarm on one host); the kernel spreads queries among them.
	ReusePort bool
	// Logger receives forwarding failures; nil discards them.
	Logger *slog.Logger

	records atomic.Pointer[Records]
	views   atomic.Pointer[Views]
	rr      atomic.Uint32 // rotates multi-address answers
	mu      sync.Mutex
	servers []*mdns.Server
	sockets []io.Closer // the servers' UDP and TCP sockets
	// serving counts the servers' goroutines: Close waits for them.
	serving sync.WaitGroup
}

// Name turns a name as users write it ("web") into a record key ("web.").
func Name(s string) string { return mdns.Fqdn(strings.ToLower(s)) }

// SetRecords replaces the table; queries in flight see the old or the new.
func (s *Server) SetRecords(r Records) { s.records.Store(&r) }

// Views answer each client from tables of its own: a task sees the names
// of the networks it is on, and only those.
type Views struct {
	// Tables are record tables by name (a network's ID, say).
	Tables map[string]Records
	// Clients names, by client IP address, the tables it sees, searched
	// in order. A client not listed sees the SetRecords table.
	Clients map[string][]string
}

// SetViews replaces the views, as SetRecords the table.
func (s *Server) SetViews(v Views) { s.views.Store(&v) }

// lookup finds a name's addresses for a client.
func (s *Server) lookup(client net.Addr, name string) ([]net.IP, bool) {
	if v := s.views.Load(); v != nil {
		if tables, ok := v.Clients[hostOf(client)]; ok {
			for _, t := range tables {
				if ips, ok := v.Tables[t][name]; ok {
					return ips, true
				}
			}
			return nil, false
		}
	}
	if p := s.records.Load(); p != nil {
		ips, ok := (*p)[name]
		return ips, ok
	}
	return nil, false
}

// hostOf is a client address's IP.
func hostOf(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.String()
	case *net.TCPAddr:
		return a.IP.String()
	}
	return ""
}

// Start listens and serves in the background until Close.
func (s *Server) Start(ctx context.Context) error {
	lc := net.ListenConfig{}
	if s.ReusePort {
		lc.Control = reusePort
	}
	pc, err := lc.ListenPacket(ctx, "udp", s.Addr)
	if err != nil {
		return fmt.Errorf("dns: listen udp %s: %w", s.Addr, err)
	}
	ln, err := lc.Listen(ctx, "tcp", pc.LocalAddr().String()) // same port when Addr said 0
	if err != nil {
		pc.Close()
		return fmt.Errorf("dns: listen tcp %s: %w", s.Addr, err)
	}
	udp := &mdns.Server{PacketConn: pc, Handler: s}
	tcp := &mdns.Server{Listener: ln, Handler: s}
	s.mu.Lock()
	s.servers = []*mdns.Server{udp, tcp}
	s.sockets = []io.Closer{pc, ln}
	s.mu.Unlock()
	started := make(chan error, 4)
	for _, srv := range []*mdns.Server{udp, tcp} {
		srv.NotifyStartedFunc = func() { started <- nil }
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			if err := srv.ActivateAndServe(); err != nil {
				started <- err // before it started, or when it stops
			}
		}()
	}
	for range 2 {
		select {
		case err := <-started:
			if err != nil {
				s.Close()
				return fmt.Errorf("dns: serve %s: %w", s.Addr, err)
			}
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		}
	}
	return nil
}

// LocalAddr is the UDP address served (useful when Addr had port 0).
func (s *Server) LocalAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.servers) == 0 {
		return nil
	}
	return s.servers[0].PacketConn.LocalAddr()
}

// Close stops serving and returns once the server's goroutines have.
// (A server that had not started yet ignores Shutdown: closing its
// socket is what ends it, so the sockets are closed too.)
func (s *Server) Close() error {
	s.mu.Lock()
	servers, sockets := s.servers, s.sockets
	s.servers, s.sockets = nil, nil
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown())
	}
	for _, c := range sockets {
		_ = c.Close() // closed already by a Shutdown that worked
	}
	s.serving.Wait()
	return errors.Join(errs...)
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	if len(req.Question) != 1 {
		reply := new(mdns.Msg)
		reply.SetRcode(req, mdns.RcodeFormatError)
		_ = w.WriteMsg(reply)
		return
	}
	q := req.Question[0]
	ips, ok := s.lookup(w.RemoteAddr(), strings.ToLower(q.Name))
	if !ok {
		s.forward(w, req)
		return
	}
	reply := new(mdns.Msg)
	reply.SetReply(req)
	reply.Authoritative = true
	if q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY {
		start := 0
		if len(ips) > 1 {
			start = int(s.rr.Add(1) % uint32(len(ips)))
		}
		for i := range ips {
			ip := ips[(start+i)%len(ips)]
			reply.Answer = append(reply.Answer, &mdns.A{A: ip,
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET}})
		}
	}
	if udp(w) {
		// Too many tasks for one datagram: send what fits, flagged
		// truncated, and the client asks again over TCP.
		reply.Truncate(udpSize(req))
	}
	_ = w.WriteMsg(reply)
}

// udp reports whether the query came over UDP.
func udp(w mdns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.UDPAddr)
	return ok
}

// udpSize is the largest UDP answer the client takes: its EDNS0 size, or
// the classic 512 bytes.
func udpSize(req *mdns.Msg) int {
	if o := req.IsEdns0(); o != nil && o.UDPSize() > mdns.MinMsgSize {
		return int(o.UDPSize())
	}
	return mdns.MinMsgSize
}

// forward asks the upstreams in turn; SERVFAIL if none answers.
func (s *Server) forward(w mdns.ResponseWriter, req *mdns.Msg) {
	proto := "udp"
	if !udp(w) {
		proto = "tcp"
	}
	var lastErr error
	for _, up := range s.Upstreams {
		// Same transport as the client: a truncated UDP answer goes back
		// as it is, and the client retries over TCP.
		c := &mdns.Client{Net: proto, Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(req, up)
		if err == nil {
			_ = w.WriteMsg(resp)
			return
		}
		lastErr = err
	}
	if lastErr != nil && s.Logger != nil {
		s.Logger.Debug("dns: forwarding failed", "name", req.Question[0].Name, "err", lastErr)
	}
	reply := new(mdns.Msg)
	reply.SetRcode(req, mdns.RcodeServerFailure)
	_ = w.WriteMsg(reply)
}

// HostUpstreams reads the name servers of a resolv.conf file as
// "ip:port"; none if the file is missing.
func HostUpstreams(path string) []string {
	cfg, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(cfg.Servers))
	for _, srv := range cfg.Servers {
		out = append(out, net.JoinHostPort(srv, cfg.Port))
	}
	return out
}

func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	return errors.Join(err, serr)
}
