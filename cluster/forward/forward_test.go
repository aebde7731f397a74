package forward

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/consensus/consensustest"
	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// TestNoLeaderRoundTrip: ErrNoLeader reaches a forwarding manager as
// unavailable, with its message.
func TestNoLeaderRoundTrip(t *testing.T) {
	status, body := peer.EncodeError(ErrNoLeader)
	if status != http.StatusServiceUnavailable || body.Code != peer.CodeUnavailable || body.Message != ErrNoLeader.Error() {
		t.Fatalf("EncodeError(ErrNoLeader) = %d %+v", status, body)
	}
	got := peer.DecodeError(&peer.Error{Status: status, Message: body.Message, Code: body.Code})
	if !errors.Is(got, api.ErrUnavailable) || got.Error() != ErrNoLeader.Error() {
		t.Fatalf("DecodeError = %v, want ErrUnavailable with the same message", got)
	}
}

func freeTCPAddr(t *testing.T) string { return consensustest.FreeAddr(t) }

func openRaft(t *testing.T, bootstrap bool) (*consensus.Node, *store.Store) {
	return consensustest.Open(t, bootstrap)
}

func createService(id, name string) *store.Command {
	return &store.Command{Changes: []store.Change{{CreateService: &types.Service{ID: id, Spec: types.ServiceSpec{Name: name}}}}}
}

// TestForwarderOnLeader: on the leader a write is applied in place, and
// its own error comes back with its kind.
func TestForwarderOnLeader(t *testing.T) {
	n, st := openRaft(t, true)
	f := New(n, st, nil) // no peers: nothing may be forwarded
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Propose(ctx, createService("s1", "web")); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if st.View().ServiceByName("web") == nil {
		t.Fatal("the write was not applied to the store")
	}
	err := f.Propose(ctx, createService("s2", "web"))
	if !errors.Is(err, store.ErrNameInUse) {
		t.Fatalf("duplicate name: %v, want ErrNameInUse", err)
	}
	// Without a deadline of its own it still commits.
	if err := f.Propose(context.Background(), createService("s3", "db")); err != nil {
		t.Fatalf("Propose without deadline: %v", err)
	}
	if got := len(st.View().Services()); got != 2 {
		t.Fatalf("%d services, want 2", got)
	}
}

// TestForwarderNoLeader: a manager that knows no leader keeps trying until
// the context's deadline, then says quorum is lost.
func TestForwarderNoLeader(t *testing.T) {
	n, st := openRaft(t, false)
	f := New(n, st, peer.NewClient(&peer.Dialer{}))
	for _, d := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		start := time.Now()
		err := f.Propose(ctx, createService("s1", "web"))
		took := time.Since(start)
		cancel()
		if !errors.Is(err, ErrNoLeader) || !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("deadline %v: err = %v, want ErrNoLeader", d, err)
		}
		if took < d-10*time.Millisecond || took > d+time.Second {
			t.Fatalf("deadline %v: gave up after %v", d, took)
		}
	}
	// A context already over fails at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Propose(ctx, createService("s1", "web")); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("cancelled context: %v", err)
	}
	if len(st.View().Services()) != 0 {
		t.Fatal("a write was applied without a leader")
	}
}

// TestCatchUpOnLeader: a read on the leader waits for nothing beyond what
// it applied, and sees every acknowledged write.
func TestCatchUpOnLeader(t *testing.T) {
	n, st := openRaft(t, true)
	f := New(n, st, peer.NewClient(&peer.Dialer{}))
	if err := f.Propose(context.Background(), createService("s1", "web")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if st.View().ServiceByName("web") == nil {
		t.Fatal("a caught-up store misses an acknowledged write")
	}
}
