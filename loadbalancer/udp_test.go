package loadbalancer

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestUDPRoundRobinAndReplyRouting(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "udp")
	a, b := udpBackend(t, "a"), udpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {a, b}}); err != nil {
		t.Fatal(err)
	}

	// Sessions are made in order, so client i lands on backend i%2, and
	// each reply must reach the client that asked.
	names := []string{"a", "b"}
	clients := make([]*udpClient, 4)
	for i := range clients {
		clients[i] = dialUDP(t, fe.Addr)
		msg := fmt.Sprintf("hello %d", i)
		want := names[i%2] + ":" + msg
		if got := clients[i].exchange(msg); got != want {
			t.Errorf("client %d first datagram: got %q, want %q", i, got, want)
		}
	}
	// Later datagrams stick to the session's backend, interleaved.
	for round := range 3 {
		for i, c := range clients {
			msg := fmt.Sprintf("round %d from %d", round, i)
			want := names[i%2] + ":" + msg
			if got := c.exchange(msg); got != want {
				t.Errorf("client %d round %d: got %q, want %q", i, round, got, want)
			}
		}
	}
}

func TestUDPBackendChangeKeepsSessions(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "udp")
	a, b := udpBackend(t, "a"), udpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {a}}); err != nil {
		t.Fatal(err)
	}
	old := dialUDP(t, fe.Addr)
	if got := old.exchange("1"); got != "a:1" {
		t.Fatalf("before change: got %q, want a:1", got)
	}
	if err := p.Sync(map[Frontend][]string{fe: {b}}); err != nil {
		t.Fatal(err)
	}
	if got := old.exchange("2"); got != "a:2" {
		t.Errorf("live session after change: got %q, want a:2", got)
	}
	if got := dialUDP(t, fe.Addr).exchange("3"); got != "b:3" {
		t.Errorf("new session after change: got %q, want b:3", got)
	}
}

func TestUDPSessionExpires(t *testing.T) {
	p := newTestProxy(t)
	p.udpIdleTimeout = 50 * time.Millisecond
	fe := frontend(t, "udp")
	a, b := udpBackend(t, "a"), udpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {a, b}}); err != nil {
		t.Fatal(err)
	}
	l := listenerOf(p, fe).(*udpListener)
	c := dialUDP(t, fe.Addr)
	if got := c.exchange("1"); got != "a:1" {
		t.Fatalf("got %q, want a:1", got)
	}
	eventually(t, "the idle session to expire", func() bool { return l.sessionCount() == 0 })
	// Same client address, new session: the next backend round-robin.
	if got := c.exchange("2"); got != "b:2" {
		t.Errorf("after expiry: got %q, want b:2", got)
	}
}

func TestUDPSkipsDeadBackend(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "udp")
	alive := udpBackend(t, "alive")
	if err := p.Sync(map[Frontend][]string{fe: {freeAddr(t, "udp"), alive}}); err != nil {
		t.Fatal(err)
	}
	// The first client's session goes to the dead backend; the refusal
	// ends it and the client's resend opens one on the live backend.
	for i := range 3 {
		msg := fmt.Sprint(i)
		if got := dialUDP(t, fe.Addr).exchange(msg); got != "alive:"+msg {
			t.Errorf("client %d: got %q, want alive:%s", i, got, msg)
		}
	}
}

func TestUDPNoBackendDrops(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "udp")
	if err := p.Sync(map[Frontend][]string{fe: nil}); err != nil {
		t.Fatal(err)
	}
	l := listenerOf(p, fe).(*udpListener)
	c := dialUDP(t, fe.Addr)
	if _, err := c.c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	c.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("without backends: read %d bytes, err %v; want nothing", n, err)
	}
	if n := l.sessionCount(); n != 0 {
		t.Errorf("sessions without backends = %d, want 0", n)
	}

	// Once a backend appears, the same client is served.
	b := udpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {b}}); err != nil {
		t.Fatal(err)
	}
	if got := c.exchange("y"); got != "b:y" {
		t.Errorf("got %q, want b:y", got)
	}
	if n := l.sessionCount(); n != 1 {
		t.Errorf("sessions = %d, want 1", n)
	}
}

func TestUDPSessionCap(t *testing.T) {
	p := newTestProxy(t)
	p.udpMaxSessions = 1
	fe := frontend(t, "udp")
	b := udpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {b}}); err != nil {
		t.Fatal(err)
	}
	first := dialUDP(t, fe.Addr)
	if got := first.exchange("1"); got != "b:1" {
		t.Fatalf("got %q, want b:1", got)
	}
	second := dialUDP(t, fe.Addr)
	if _, err := second.c.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	second.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := second.c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("client over the cap: read %d bytes, err %v; want nothing", n, err)
	}
	// The session within the cap still works.
	if got := first.exchange("3"); got != "b:3" {
		t.Errorf("got %q, want b:3", got)
	}
}
