package loadbalancer

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestTCPRoundRobin(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "tcp")
	backends := []string{tcpBackend(t, "a"), tcpBackend(t, "b"), tcpBackend(t, "c")}
	if err := p.Sync(map[Frontend][]string{fe: backends}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 6 {
		got = append(got, tcpRequest(t, fe.Addr, "hi"))
	}
	want := []string{"a:hi", "b:hi", "c:hi", "a:hi", "b:hi", "c:hi"}
	if !slices.Equal(got, want) {
		t.Errorf("answers = %q, want %q", got, want)
	}
}

func TestTCPBackendChangeKeepsConnections(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "tcp")
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	if err := p.Sync(map[Frontend][]string{fe: {a}}); err != nil {
		t.Fatal(err)
	}
	old := dialLines(t, fe.Addr)
	if got := old.exchange("1"); got != "a:1" {
		t.Fatalf("before change: got %q, want a:1", got)
	}

	if err := p.Sync(map[Frontend][]string{fe: {b}}); err != nil {
		t.Fatal(err)
	}
	if got := old.exchange("2"); got != "a:2" {
		t.Errorf("established connection after change: got %q, want a:2", got)
	}
	if got := tcpRequest(t, fe.Addr, "3"); got != "b:3" {
		t.Errorf("new connection after change: got %q, want b:3", got)
	}
	if got := old.exchange("4"); got != "a:4" {
		t.Errorf("established connection still: got %q, want a:4", got)
	}
}

func TestTCPSkipsDeadBackends(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "tcp")
	alive := tcpBackend(t, "alive")
	backends := []string{freeAddr(t, "tcp"), alive, freeAddr(t, "tcp")}
	if err := p.Sync(map[Frontend][]string{fe: backends}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * len(backends) {
		if got := tcpRequest(t, fe.Addr, "x"); got != "alive:x" {
			t.Fatalf("request %d: got %q, want alive:x", i, got)
		}
	}
}

func TestTCPNoUsableBackendClosesQuickly(t *testing.T) {
	tests := []struct {
		name     string
		backends func(t *testing.T) []string
	}{
		{"no backends", func(*testing.T) []string { return nil }},
		{"all backends dead", func(t *testing.T) []string {
			return []string{freeAddr(t, "tcp"), freeAddr(t, "tcp")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProxy(t)
			fe := frontend(t, "tcp")
			if err := p.Sync(map[Frontend][]string{fe: tt.backends(t)}); err != nil {
				t.Fatal(err)
			}
			c, err := net.DialTimeout("tcp", fe.Addr, ioTimeout)
			if errors.Is(err, syscall.ECONNRESET) {
				// The reset beat the end of the client's connect.
				t.Logf("client saw: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Well under the dial timeout of a single backend: a hang shows.
			c.SetDeadline(time.Now().Add(time.Second))
			n, err := c.Read(make([]byte, 1))
			if err == nil {
				t.Fatalf("read %d bytes, want EOF or reset", n)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("connection left open, want it closed at once")
			}
			t.Logf("client saw: %v", err)
		})
	}
}

func TestTCPLargeTransferBothWays(t *testing.T) {
	p := newTestProxy(t)
	fe := frontend(t, "tcp")
	// The backend echoes everything back verbatim, then closes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	if err := p.Sync(map[Frontend][]string{fe: {ln.Addr().String()}}); err != nil {
		t.Fatal(err)
	}

	c, err := net.DialTimeout("tcp", fe.Addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	payload := make([]byte, 8<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, not equal to the %d sent", len(got), len(payload))
	}
}
