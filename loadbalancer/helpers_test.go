package loadbalancer

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ioTimeout bounds every blocking test I/O, so a bug fails fast instead of
// hanging the test binary.
const ioTimeout = 5 * time.Second

// newTestProxy returns a Proxy logging to the test output and closed at the
// end of the test.
func newTestProxy(t testing.TB) *Proxy {
	t.Helper()
	h := slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})
	p := New(slog.New(h))
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// Ports handed out by freeAddr. They come from below the kernel's
// ephemeral range, so that no socket bound to port 0 (a test backend) or a
// client connection can take one between freeAddr and its use.
var (
	portsMu   sync.Mutex
	portsUsed = make(map[int]bool)
)

// ephemeralLow returns the lowest port the kernel assigns automatically.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}

// freeAddr returns a 127.0.0.1 address whose port is free for TCP and UDP,
// not handed out before by this test binary and, where possible, outside
// the ephemeral range. proto is checked only for being "tcp" or "udp".
func freeAddr(t testing.TB, proto string) string {
	t.Helper()
	if proto != "tcp" && proto != "udp" {
		t.Fatalf("freeAddr: bad proto %q", proto)
	}
	low, high := 10000, ephemeralLow()
	if high-low < 1000 {
		low, high = 1024, 65536 // odd setup; take our chances
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := low + rand.IntN(high-low)
		if portsUsed[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		portsUsed[port] = true
		return addr
	}
	t.Fatal("freeAddr: no free port found")
	return ""
}

// frontend returns a Frontend for proto on a free 127.0.0.1 port.
func frontend(t testing.TB, proto string) Frontend {
	t.Helper()
	return Frontend{Proto: proto, Addr: freeAddr(t, proto)}
}

// tcpBackend starts a TCP server that answers every line it reads with
// "name:line\n" and closes the connection after the client's EOF. It
// returns its address.
func tcpBackend(t testing.TB, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, name+":"+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// tcpRequest sends msg as one line to addr, half-closes, and returns the
// whole answer with its newline trimmed.
func tcpRequest(t testing.TB, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatalf("write %s: %v", addr, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("close write %s: %v", addr, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read %s: %v", addr, err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// lineConn is a long-lived client connection exchanging lines.
type lineConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// dialLines connects to addr for line exchanges.
func dialLines(t testing.TB, addr string) *lineConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &lineConn{t: t, c: c, r: bufio.NewReader(c)}
}

// exchange sends one line and returns the answer line, trimmed.
func (lc *lineConn) exchange(msg string) string {
	lc.t.Helper()
	lc.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(lc.c, msg+"\n"); err != nil {
		lc.t.Fatalf("write: %v", err)
	}
	line, err := lc.r.ReadString('\n')
	if err != nil {
		lc.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

// udpBackend starts a UDP server answering every datagram with
// "name:payload". It returns its address.
func udpBackend(t testing.TB, name string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte(name+":"), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().String()
}

// udpClient is a client socket connected to one address.
type udpClient struct {
	t testing.TB
	c *net.UDPConn
}

// dialUDP opens a client socket connected to addr.
func dialUDP(t testing.TB, addr string) *udpClient {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{t: t, c: c}
}

// exchange sends msg and returns the first reply that answers it (ends with
// ":"+msg), resending every 50ms meanwhile: UDP may lose a datagram, e.g.
// to a dead backend. Replies to earlier resends are skipped.
func (u *udpClient) exchange(msg string) string {
	u.t.Helper()
	buf := make([]byte, maxDatagram)
	deadline := time.Now().Add(ioTimeout)
	for time.Now().Before(deadline) {
		if _, err := u.c.Write([]byte(msg)); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			u.t.Fatalf("udp write: %v", err)
		}
		u.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		for {
			n, err := u.c.Read(buf)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, syscall.ECONNREFUSED) {
					u.t.Fatalf("udp read: %v", err)
				}
				break
			}
			reply := string(buf[:n])
			if strings.HasSuffix(reply, ":"+msg) {
				return reply
			}
			u.t.Logf("udp: skipping reply %q while waiting for one to %q", reply, msg)
		}
	}
	u.t.Fatalf("udp: no reply to %q from %s", msg, u.c.RemoteAddr())
	return ""
}

// eventually polls cond until it holds, failing the test after ioTimeout.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listenerOf returns the open listener of fe, or nil.
func listenerOf(p *Proxy, fe Frontend) listener {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listeners[fe]
}
