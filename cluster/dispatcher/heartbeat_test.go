package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// fakeClock is a settable clock for Beats.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestBeats: a node is alive for a TTL after its last beat; before a whole
// TTL has passed since counting began, a node not heard from is not judged;
// Drain hands each node seen once; old entries are forgotten.
func TestBeats(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := &Beats{Now: clk.now}
	b.Start()
	if alive, known := b.Alive("n1"); alive || known {
		t.Fatalf("before any beat, within the TTL: alive=%v known=%v, want false false", alive, known)
	}
	b.Seen("n1", "n2")
	b.Seen("n1")
	if got := b.Drain(); len(got) != 2 || got[0] != "n1" || got[1] != "n2" {
		t.Errorf("Drain = %v, want [n1 n2]", got)
	}
	if got := b.Drain(); len(got) != 0 {
		t.Errorf("second Drain = %v, want nothing", got)
	}
	clk.add(types.HeartbeatTTL - time.Millisecond)
	if alive, _ := b.Alive("n1"); !alive {
		t.Error("n1 not alive within its TTL")
	}
	clk.add(2 * time.Millisecond)
	if alive, known := b.Alive("n1"); alive || !known {
		t.Errorf("n1 past its TTL: alive=%v known=%v, want false true", alive, known)
	}
	if alive, known := b.Alive("n3"); alive || !known {
		t.Errorf("n3 never heard of, a TTL on: alive=%v known=%v, want false true", alive, known)
	}
	b.Seen("n2")
	clk.add(Forget + time.Second)
	b.Seen("n3") // sweeps
	b.mu.Lock()
	_, kept := b.seen["n1"]
	b.mu.Unlock()
	if kept {
		t.Error("n1 still remembered past Forget")
	}
}

// TestHeartbeatHandler: a node's beat counts for itself; a relay counts
// only from a manager and only for nodes the store knows.
func TestHeartbeatHandler(t *testing.T) {
	st := store.New()
	if err := st.Apply(1, &store.Command{Time: time.Now(), Changes: []store.Change{
		{PutNode: &types.Node{ID: "w1", Hostname: "w1"}}, {PutNode: &types.Node{ID: "w2", Hostname: "w2"}}}}); err != nil {
		t.Fatal(err)
	}
	s := &Server{Store: st, Beats: &Beats{}}
	s.Beats.Start()
	call := func(caller pki.NodeIdentity, body any) int {
		var r *http.Request
		if body == nil {
			r = httptest.NewRequest(http.MethodPost, peer.PathHeartbeat, nil)
		} else {
			b, _ := json.Marshal(body)
			r = httptest.NewRequest(http.MethodPost, peer.PathHeartbeat, bytes.NewReader(b))
		}
		w := httptest.NewRecorder()
		s.Heartbeat(w, r, caller)
		return w.Code
	}
	worker := pki.NodeIdentity{NodeID: "w1", Role: pki.RoleWorker}
	if code := call(worker, nil); code != http.StatusOK {
		t.Fatalf("own beat: status %d", code)
	}
	if alive, _ := s.Beats.Alive("w1"); !alive {
		t.Error("w1's own beat not counted")
	}
	if code := call(worker, peer.Heartbeats{Nodes: []string{"w2"}}); code != http.StatusForbidden {
		t.Errorf("a worker relaying: status %d, want 403", code)
	}
	if alive, _ := s.Beats.Alive("w2"); alive {
		t.Error("a worker's relay counted for w2")
	}
	mgr := pki.NodeIdentity{NodeID: "m1", Role: pki.RoleManager}
	if code := call(mgr, peer.Heartbeats{Nodes: []string{"w2", "ghost"}}); code != http.StatusOK {
		t.Fatalf("a manager's relay: status %d", code)
	}
	if alive, _ := s.Beats.Alive("w2"); !alive {
		t.Error("a manager's relay not counted for w2")
	}
	if alive, _ := s.Beats.Alive("ghost"); alive {
		t.Error("a relay counted a node the store does not know")
	}
}

// recordingPeers records the relays sent.
type recordingPeers struct {
	mu   sync.Mutex
	sent [][]string
}

func (p *recordingPeers) Do(_ context.Context, addr, method, path string, _ url.Values, in, _ any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, append([]string{addr, method + " " + path}, in.(peer.Heartbeats).Nodes...))
	return nil
}

// TestRelayBeats: a follower hands the beats it took to the leader, each
// once; with no other leader it sends nothing.
func TestRelayBeats(t *testing.T) {
	b := &Beats{}
	b.Seen("w1", "w2")
	p := &recordingPeers{}
	var mu sync.Mutex
	leader := ""
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RelayBeats(ctx, b, func() string { mu.Lock(); defer mu.Unlock(); return leader }, p, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	time.Sleep(50 * time.Millisecond)
	p.mu.Lock()
	if len(p.sent) != 0 {
		t.Errorf("relayed with no leader elsewhere: %v", p.sent)
	}
	p.mu.Unlock()
	mu.Lock()
	leader = "10.0.0.1:2377"
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.sent)
		p.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) != 1 {
		t.Fatalf("relays = %v, want one", p.sent)
	}
	want := []string{"10.0.0.1:2377", "POST " + peer.PathHeartbeat, "w1", "w2"}
	for i, w := range want {
		if i >= len(p.sent[0]) || p.sent[0][i] != w {
			t.Fatalf("relay = %v, want %v", p.sent[0], want)
		}
	}
}
