package membership

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/serf/serf"
)

// startPool starts a pool on a loopback port of its own and returns it
// with its gossip address.
func startPool(t *testing.T, nodeID string, key []byte, events chan<- serf.Event) (*Pool, string) {
	t.Helper()
	p, err := Start(Config{NodeID: nodeID, BindIP: "127.0.0.1", AdvIP: "127.0.0.1", Port: 0, Key: key, EventsCh: events,
		Tags: map[string]string{"role": "worker", "id": nodeID}})
	if err != nil {
		t.Fatalf("Start(%s): %v", nodeID, err)
	}
	// Close leaves gracefully, which takes serf a second; tests that do
	// not look at leaving just stop.
	t.Cleanup(func() { _ = p.serf.Shutdown() })
	for _, m := range p.Members() {
		if m.Name == nodeID {
			if m.Port == 0 {
				t.Fatalf("%s gossips on port 0", nodeID)
			}
			return p, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(m.Port)))
		}
	}
	t.Fatalf("%s is not a member of its own pool", nodeID)
	return nil, ""
}

// waitAlive waits until p sees exactly want alive.
func waitAlive(t *testing.T, p *Pool, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := p.Alive()
		ok := len(got) == len(want)
		for _, w := range want {
			ok = ok && got[w]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alive %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPoolsJoin(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	a, _ := startPool(t, "node-a", key, nil)
	b, addrB := startPool(t, "node-b", key, nil)
	waitAlive(t, a, "node-a")

	n, err := a.Join([]string{addrB})
	if err != nil || n != 1 {
		t.Fatalf("Join = %d, %v; want 1", n, err)
	}
	waitAlive(t, a, "node-a", "node-b")
	waitAlive(t, b, "node-a", "node-b")
	for name, p := range map[string]*Pool{"a": a, "b": b} {
		if hosts := p.AliveHosts(); len(hosts) != 1 || !hosts["127.0.0.1"] {
			t.Fatalf("%s: AliveHosts = %v", name, hosts)
		}
	}
	// The tags travel with the member.
	for _, m := range a.Members() {
		if m.Name == "node-b" && (m.Tags["id"] != "node-b" || m.Tags["role"] != "worker") {
			t.Fatalf("node-b's tags as a sees them: %v", m.Tags)
		}
	}

	// Joining nothing is a no-op; joining a member again is fine.
	if n, err := a.Join(nil); n != 0 || err != nil {
		t.Fatalf("Join(nil) = %d, %v", n, err)
	}
	if n, err := b.Join([]string{addrB}); err != nil || n != 1 {
		t.Fatalf("joining itself = %d, %v", n, err)
	}

	// A member that leaves is no longer alive for the others.
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitAlive(t, a, "node-a")
	if hosts := a.AliveHosts(); len(hosts) != 1 || !hosts["127.0.0.1"] {
		t.Fatalf("AliveHosts after leave = %v (a itself is still there)", hosts)
	}
}

// TestPoolEvents: the events channel hears of a member joining.
func TestPoolEvents(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{1}, 32)
	events := make(chan serf.Event, 64)
	var mu sync.Mutex
	joined := map[string]bool{}
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case e := <-events:
				if me, ok := e.(serf.MemberEvent); ok && me.Type == serf.EventMemberJoin {
					mu.Lock()
					for _, m := range me.Members {
						joined[m.Name] = true
					}
					mu.Unlock()
				}
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()

	a, _ := startPool(t, "ev-a", key, events)
	_, addrB := startPool(t, "ev-b", key, nil)
	if _, err := a.Join([]string{addrB}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		ok := joined["ev-b"]
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no join event for ev-b")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPoolsWrongKey: gossip is encrypted, so a pool with another key (or
// none) cannot join, and neither side sees the other.
func TestPoolsWrongKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	cases := []struct {
		name           string
		joinerKey      []byte
		targetKey      []byte
		joiner, target string
	}{
		{"different key", bytes.Repeat([]byte{8}, 32), key, "k-joiner", "k-target"},
		{"no key joining an encrypted pool", nil, key, "nokey-joiner", "nokey-target"},
		{"key joining a clear pool", key, nil, "clear-joiner", "clear-target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target, addr := startPool(t, tc.target, tc.targetKey, nil)
			joiner, _ := startPool(t, tc.joiner, tc.joinerKey, nil)
			n, err := joiner.Join([]string{addr})
			if err == nil || n != 0 {
				t.Fatalf("Join = %d, %v; want a failure", n, err)
			}
			if got := joiner.Alive(); len(got) != 1 || !got[tc.joiner] {
				t.Fatalf("the joiner sees %v", got)
			}
			if got := target.Alive(); len(got) != 1 || !got[tc.target] {
				t.Fatalf("the target sees %v", got)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"bad key length", Config{NodeID: "bad-key", BindIP: "127.0.0.1", AdvIP: "127.0.0.1", Key: []byte("short")}},
		{"bind address not local", Config{NodeID: "bad-ip", BindIP: "203.0.113.7", AdvIP: "203.0.113.7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Start(tc.cfg)
			if err == nil {
				_ = p.Close()
				t.Fatal("Start succeeded")
			}
		})
	}
}

func TestGossipAddr(t *testing.T) {
	cases := map[string]string{
		"10.0.0.1": "10.0.0.1:7946",
		"::1":      "[::1]:7946",
		"node1":    "node1:7946",
	}
	for in, want := range cases {
		if got := GossipAddr(in); got != want {
			t.Errorf("GossipAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
