package dns

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

// start runs a server on a free loopback port.
func start(t *testing.T, s *Server) string {
	t.Helper()
	if s.Addr == "" {
		s.Addr = "127.0.0.1:0"
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.LocalAddr().String()
}

func ask(t *testing.T, addr, name string, qtype uint16, proto string) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	c := &mdns.Client{Net: proto}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return resp
}

func answers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestAnswers(t *testing.T) {
	upstream := &Server{}
	upstream.SetRecords(Records{"example.org.": {net.ParseIP("192.0.2.7")}})
	upAddr := start(t, upstream)

	s := &Server{Upstreams: []string{upAddr}}
	s.SetRecords(Records{
		"web.":       {net.ParseIP("10.0.0.2")},
		"tasks.web.": {net.ParseIP("172.18.0.2"), net.ParseIP("172.18.0.3")},
	})
	addr := start(t, s)

	tests := []struct {
		name, q string
		qtype   uint16
		proto   string
		rcode   int
		want    []string
	}{
		{"service VIP", "web.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"10.0.0.2"}},
		{"case-insensitive", "WEB.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"10.0.0.2"}},
		{"task addresses", "tasks.web.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"172.18.0.2", "172.18.0.3"}},
		{"over TCP", "tasks.web.", mdns.TypeA, "tcp", mdns.RcodeSuccess, []string{"172.18.0.2", "172.18.0.3"}},
		{"known name, no IPv6: no data, not forwarded", "web.", mdns.TypeAAAA, "udp", mdns.RcodeSuccess, nil},
		{"other names go upstream", "example.org.", mdns.TypeA, "udp", mdns.RcodeSuccess, []string{"192.0.2.7"}},
		{"an upstream's failure comes back", "nothere.example.", mdns.TypeA, "udp", mdns.RcodeServerFailure, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ask(t, addr, tt.q, tt.qtype, tt.proto)
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if got := answers(resp); !slices.Equal(got, tt.want) {
				t.Fatalf("answers %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRotatesAddresses(t *testing.T) {
	s := &Server{}
	s.SetRecords(Records{"tasks.web.": {net.ParseIP("172.18.0.2"), net.ParseIP("172.18.0.3")}})
	addr := start(t, s)
	firsts := map[string]bool{}
	for range 4 {
		resp := ask(t, addr, "tasks.web.", mdns.TypeA, "udp")
		firsts[resp.Answer[0].(*mdns.A).A.String()] = true
	}
	if len(firsts) != 2 {
		t.Fatalf("first answers %v: want both addresses in turn", firsts)
	}
}

func TestSetRecordsReplaces(t *testing.T) {
	s := &Server{}
	s.SetRecords(Records{"web.": {net.ParseIP("10.0.0.2")}})
	addr := start(t, s)
	s.SetRecords(Records{"api.": {net.ParseIP("10.0.0.3")}})
	if got := answers(ask(t, addr, "api.", mdns.TypeA, "udp")); !slices.Equal(got, []string{"10.0.0.3"}) {
		t.Fatalf("api. = %v", got)
	}
	if resp := ask(t, addr, "web.", mdns.TypeA, "udp"); resp.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("removed name answered %v (no upstream: want SERVFAIL)", resp.Answer)
	}
}

func TestReusePort(t *testing.T) {
	a := &Server{ReusePort: true}
	addr := start(t, a)
	b := &Server{Addr: addr, ReusePort: true}
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("second server on %s: %v", addr, err)
	}
	b.Close()
	c := &Server{Addr: addr}
	if err := c.Start(context.Background()); err == nil {
		c.Close()
		t.Fatal("a server without ReusePort took a used address")
	}
}

func TestHostUpstreams(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("search example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"), 0o644)
	got := HostUpstreams(p)
	if !slices.Equal(got, []string{"192.0.2.53:53", "192.0.2.54:53"}) {
		t.Fatalf("got %v", got)
	}
	if HostUpstreams(filepath.Join(t.TempDir(), "none")) != nil {
		t.Fatal("missing file should give no upstreams")
	}
}

func TestName(t *testing.T) {
	if Name("Web") != "web." || Name("tasks.web.") != "tasks.web." {
		t.Fatal(Name("Web"), Name("tasks.web."))
	}
}

func TestTruncatesLargeUDPAnswers(t *testing.T) {
	s := &Server{}
	var ips []net.IP
	for i := range 60 {
		ips = append(ips, net.IPv4(172, 18, 1, byte(i+1)))
	}
	s.SetRecords(Records{"tasks.big.": ips})
	addr := start(t, s)
	udpResp := ask(t, addr, "tasks.big.", mdns.TypeA, "udp")
	if !udpResp.Truncated || len(udpResp.Answer) == 0 || len(udpResp.Answer) >= 60 {
		t.Fatalf("UDP: truncated %v with %d answers; want a truncated, partial answer", udpResp.Truncated, len(udpResp.Answer))
	}
	tcpResp := ask(t, addr, "tasks.big.", mdns.TypeA, "tcp")
	if tcpResp.Truncated || len(tcpResp.Answer) != 60 {
		t.Fatalf("TCP: truncated %v with %d answers; want all 60", tcpResp.Truncated, len(tcpResp.Answer))
	}
}
