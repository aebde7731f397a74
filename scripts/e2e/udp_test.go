package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestPublishedUDP: a published UDP port answers from the service's tasks,
// round robin per client session.
func TestPublishedUDP(t *testing.T) {
	t.Parallel()
	n := newNode(t, "udp")
	n.initSwarm()
	port := freePort(t, n.ip)
	n.ok("service", "create", "--name", "echo", "--replicas", "2", "-p", fmt.Sprintf("%d:8080/udp", port), demoImage)
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		reply := udpAsk(t, fmt.Sprintf("%s:%d", n.ip, port), "ping")
		name, msg, _ := strings.Cut(reply, ": ")
		if msg != "ping" || !strings.HasPrefix(name, "echo.") {
			t.Fatalf("udp reply %q", reply)
		}
		seen[name] = true
	}
	if len(seen) != 2 {
		t.Fatalf("want replies from both tasks, got %v", seen)
	}
}

// udpAsk sends one datagram from a fresh socket (a new session) and
// returns the reply, retrying while the listener comes up.
func udpAsk(t *testing.T, addr, msg string) string {
	t.Helper()
	var last error
	for try := 0; try < 20; try++ {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err = c.Write([]byte(msg)); err == nil {
			buf := make([]byte, 512)
			var k int
			if k, err = c.Read(buf); err == nil {
				c.Close()
				return strings.TrimSpace(string(buf[:k]))
			}
		}
		c.Close()
		last = err
	}
	t.Fatalf("no UDP reply from %s: %v", addr, last)
	return ""
}
