package loadbalancer

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSyncRemovesFrontends(t *testing.T) {
	p := newTestProxy(t)
	tcpFE, udpFE := frontend(t, "tcp"), frontend(t, "udp")
	tb, ub := tcpBackend(t, "t"), udpBackend(t, "u")
	if err := p.Sync(map[Frontend][]string{tcpFE: {tb}, udpFE: {ub}}); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Frontends(), []Frontend{tcpFE, udpFE}; !slices.Equal(got, want) {
		t.Fatalf("Frontends = %v, want %v", got, want)
	}
	established := dialLines(t, tcpFE.Addr)
	if got := established.exchange("1"); got != "t:1" {
		t.Fatalf("got %q, want t:1", got)
	}
	if got := dialUDP(t, udpFE.Addr).exchange("1"); got != "u:1" {
		t.Fatalf("got %q, want u:1", got)
	}

	if err := p.Sync(nil); err != nil {
		t.Fatal(err)
	}
	if got := p.Frontends(); len(got) != 0 {
		t.Errorf("Frontends = %v, want none", got)
	}
	if c, err := net.DialTimeout("tcp", tcpFE.Addr, ioTimeout); err == nil {
		c.Close()
		t.Error("tcp dial after removal succeeded, want refused")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("tcp dial after removal: %v, want connection refused", err)
	}
	// Nothing listens on the UDP port any more: the kernel refuses.
	u := dialUDP(t, udpFE.Addr)
	u.c.Write([]byte("2"))
	u.c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := u.c.Read(make([]byte, 64)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("udp after removal: %v, want connection refused", err)
	}
	// Removing the listener lets established TCP connections finish.
	if got := established.exchange("2"); got != "t:2" {
		t.Errorf("established connection after removal: got %q, want t:2", got)
	}
}

func TestSyncAddressInUse(t *testing.T) {
	p := newTestProxy(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyFE := Frontend{Proto: "tcp", Addr: busy.Addr().String()}
	freeTCP, freeUDP := frontend(t, "tcp"), frontend(t, "udp")
	b := tcpBackend(t, "b")
	want := map[Frontend][]string{busyFE: {b}, freeTCP: {b}, freeUDP: nil}

	err = p.Sync(want)
	if err == nil {
		t.Fatal("Sync with an address in use: no error")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q does not wrap EADDRINUSE", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "loadbalancer: ") || !strings.Contains(msg, busyFE.Addr) {
		t.Errorf("error %q: want it prefixed loadbalancer: and naming %s", msg, busyFE.Addr)
	}
	if got, want := p.Frontends(), []Frontend{freeTCP, freeUDP}; !slices.Equal(got, want) {
		t.Errorf("Frontends = %v, want %v", got, want)
	}
	if got := tcpRequest(t, freeTCP.Addr, "x"); got != "b:x" {
		t.Errorf("free frontend: got %q, want b:x", got)
	}

	// Once the address is released, the next Sync opens it.
	busy.Close()
	if err := p.Sync(want); err != nil {
		t.Fatalf("Sync after release: %v", err)
	}
	if got := tcpRequest(t, busyFE.Addr, "y"); got != "b:y" {
		t.Errorf("formerly busy frontend: got %q, want b:y", got)
	}
}

func TestSyncInvalidInput(t *testing.T) {
	good := Frontend{Proto: "tcp", Addr: "127.0.0.1:0"}
	tests := []struct {
		name      string
		fe        Frontend
		backends  []string
		errSubstr string
		listening bool
	}{
		{"unknown protocol", Frontend{Proto: "sctp", Addr: "127.0.0.1:1"}, nil, `unsupported protocol "sctp"`, false},
		{"bad listen address", Frontend{Proto: "tcp", Addr: "not-an-address"}, nil, "not-an-address", false},
		{"bad backend", good, []string{"nonsense", "127.0.0.1:9"}, `invalid backend "nonsense"`, true},
		{"backend without port", good, []string{"127.0.0.1"}, `invalid backend "127.0.0.1"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProxy(t)
			fe := tt.fe
			if fe == good {
				fe = frontend(t, "tcp")
			}
			err := p.Sync(map[Frontend][]string{fe: tt.backends})
			if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("Sync error = %v, want one containing %q", err, tt.errSubstr)
			}
			if got := len(p.Frontends()) == 1; got != tt.listening {
				t.Errorf("listening = %v, want %v", got, tt.listening)
			}
		})
	}
}

func TestSyncInvalidBackendSkipped(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "tcp")
	b := tcpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {"bogus", b}}); err == nil {
		t.Fatal("want an error for the bogus backend")
	}
	for range 3 {
		if got := tcpRequest(t, fe.Addr, "x"); got != "b:x" {
			t.Fatalf("got %q, want b:x", got)
		}
	}
}

func TestSyncSameInputIsCheap(t *testing.T) {
	p := newTestProxy(t)
	tcpFE, udpFE := frontend(t, "tcp"), frontend(t, "udp")
	want := map[Frontend][]string{
		tcpFE: {"127.0.0.1:1001", "127.0.0.1:1002"},
		udpFE: {"127.0.0.1:1003"},
	}
	if err := p.Sync(want); err != nil {
		t.Fatal(err)
	}
	tl, ul := listenerOf(p, tcpFE), listenerOf(p, udpFE)
	set := tl.(*tcpListener).set.Load()

	allocs := testing.AllocsPerRun(100, func() {
		if err := p.Sync(want); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Sync with unchanged input allocates %v times, want 0", allocs)
	}
	if listenerOf(p, tcpFE) != tl || listenerOf(p, udpFE) != ul {
		t.Error("Sync with unchanged input reopened a listener")
	}
	if tl.(*tcpListener).set.Load() != set {
		t.Error("Sync with unchanged input swapped the backend set")
	}

	// A different slice with the same content is still no change; the
	// caller's slice is not retained.
	same := map[Frontend][]string{tcpFE: slices.Clone(want[tcpFE]), udpFE: want[udpFE]}
	if err := p.Sync(same); err != nil {
		t.Fatal(err)
	}
	same[tcpFE][0] = "127.0.0.1:9999"
	if got := tl.(*tcpListener).set.Load(); got != set || got.raw[0] != "127.0.0.1:1001" {
		t.Errorf("backend set = %v, want the original one", got.raw)
	}
}

func TestClose(t *testing.T) {
	p := New(nil)
	tcpFE, udpFE := frontend(t, "tcp"), frontend(t, "udp")
	tb, ub := tcpBackend(t, "t"), udpBackend(t, "u")
	if err := p.Sync(map[Frontend][]string{tcpFE: {tb}, udpFE: {ub}}); err != nil {
		t.Fatal(err)
	}
	established := dialLines(t, tcpFE.Addr)
	if got := established.exchange("1"); got != "t:1" {
		t.Fatalf("got %q, want t:1", got)
	}
	if got := dialUDP(t, udpFE.Addr).exchange("1"); got != "u:1" {
		t.Fatalf("got %q, want u:1", got)
	}

	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return")
	}

	// The established connection is cut.
	established.c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := established.r.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on established connection after Close: %v, want EOF or reset", err)
	}
	if c, err := net.DialTimeout("tcp", tcpFE.Addr, ioTimeout); err == nil {
		c.Close()
		t.Error("dial after Close succeeded")
	}
	if got := p.Frontends(); len(got) != 0 {
		t.Errorf("Frontends after Close = %v", got)
	}
	if err := p.Sync(map[Frontend][]string{tcpFE: {tb}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
