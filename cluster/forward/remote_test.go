package forward

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/store"
)

// follower is a Raft node that does not lead; leader is whom it names.
type follower struct {
	mu     sync.Mutex
	leader string
}

func (f *follower) Propose(context.Context, *store.Command) error { return consensus.ErrNotLeader }
func (f *follower) ReadIndex(context.Context) (uint64, error)     { return 0, consensus.ErrNotLeader }
func (f *follower) Leader() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader, "L"
}

// call is one peer call a fakePeers saw.
type call struct {
	addr, method, path string
	in                 any
}

// fakePeers answers peer calls with answer, in turn.
type fakePeers struct {
	calls  []call
	answer func(n int, c call, out any) error
}

func (p *fakePeers) Do(_ context.Context, addr, method, path string, _ url.Values, in, out any) error {
	c := call{addr, method, path, in}
	p.calls = append(p.calls, c)
	return p.answer(len(p.calls), c, out)
}

// fakeStore has applied up to index, and records the waits.
type fakeStore struct {
	index uint64
	waits []uint64
}

func (s *fakeStore) Index() uint64 { return s.index }
func (s *fakeStore) WaitPast(_ context.Context, idx uint64, _ time.Duration) {
	s.waits = append(s.waits, idx)
}

// TestForwarderToLeader: on a follower a write goes to the leader's peer
// API, is retried while the leader says it is not one any more, carries
// the same request ID every time, and waits until this manager has
// applied it; the leader's error comes back with its kind.
func TestForwarderToLeader(t *testing.T) {
	st := &fakeStore{}
	peers := &fakePeers{answer: func(n int, c call, out any) error {
		if n == 1 {
			return &peer.Error{Status: http.StatusServiceUnavailable, Code: peer.CodeNotLeader, Message: "not the leader"}
		}
		out.(*peer.ProposeResponse).Index = 42
		return nil
	}}
	f := New(&follower{leader: "10.0.0.9:2377"}, st, peers)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := createService("s1", "web")
	if err := f.Propose(ctx, cmd); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if cmd.RequestID == "" || len(peers.calls) != 2 {
		t.Fatalf("request ID %q, %d calls; want an ID and 2 calls", cmd.RequestID, len(peers.calls))
	}
	for _, c := range peers.calls {
		req, ok := c.in.(peer.ProposeRequest)
		if c.addr != "10.0.0.9:2377" || c.method != http.MethodPost || c.path != peer.PathPropose || !ok || req.Command.RequestID != cmd.RequestID {
			t.Fatalf("call %+v, want the command with request ID %s posted to the leader", c, cmd.RequestID)
		}
	}
	if len(st.waits) != 1 || st.waits[0] != 41 {
		t.Fatalf("waits %v, want [41] (read your writes)", st.waits)
	}

	peers.calls = nil
	peers.answer = func(int, call, any) error {
		return &peer.Error{Status: http.StatusConflict, Code: peer.CodeNameInUse, Message: `service "web" already exists`}
	}
	err := f.Propose(ctx, createService("s2", "web"))
	if !errors.Is(err, store.ErrNameInUse) || err.Error() != `service "web" already exists` || len(peers.calls) != 1 {
		t.Fatalf("leader's refusal: %v after %d calls, want ErrNameInUse at once", err, len(peers.calls))
	}
}

// TestForwarderMaybeApplied: a write that reached a leader which then went
// away, with no leader after it, may still be applied: the error says so
// and is still ErrNoLeader.
func TestForwarderMaybeApplied(t *testing.T) {
	r := &follower{leader: "10.0.0.9:2377"}
	peers := &fakePeers{answer: func(int, call, any) error {
		r.mu.Lock()
		r.leader = "" // it died with the write in flight
		r.mu.Unlock()
		return errors.New("connection reset")
	}}
	f := New(r, &fakeStore{}, peers)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := f.Propose(ctx, createService("s1", "web"))
	if !errors.Is(err, ErrNoLeader) || !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "may still be applied") {
		t.Fatalf("err = %v, want ErrNoLeader saying it may still be applied", err)
	}
	// One that never went out is plain ErrNoLeader.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := f.Propose(ctx2, createService("s2", "db")); !errors.Is(err, ErrNoLeader) || strings.Contains(err.Error(), "may still be applied") {
		t.Fatalf("err = %v, want plain ErrNoLeader", err)
	}
}

// TestCatchUpOnFollower: a follower asks the leader for its read index and
// waits for its store to reach it; a store still behind is unavailable.
func TestCatchUpOnFollower(t *testing.T) {
	st := &fakeStore{index: 7}
	peers := &fakePeers{answer: func(_ int, c call, out any) error {
		if c.method != http.MethodGet || c.path != peer.PathReadIndex {
			t.Errorf("call %+v, want GET %s", c, peer.PathReadIndex)
		}
		out.(*peer.ReadIndexResponse).Index = 7
		return nil
	}}
	f := New(&follower{leader: "10.0.0.9:2377"}, st, peers)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.CatchUp(ctx); err != nil || len(st.waits) != 1 || st.waits[0] != 6 {
		t.Fatalf("CatchUp = %v, waits %v; want nil after waiting past 6", err, st.waits)
	}
	st.index = 5
	if err := f.CatchUp(ctx); !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "applied index 5 of 7") {
		t.Fatalf("CatchUp behind = %v, want unavailable", err)
	}
}
