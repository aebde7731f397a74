package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/seal"
	"sw/cluster/store"
	"sw/cluster/types"
)

// TestPeerErrorRoundTrip: an error's kind survives toPeerError on the
// leader and fromPeerError on the manager that forwarded the write.
func TestPeerErrorRoundTrip(t *testing.T) {
	kinds := []error{store.ErrNameInUse, store.ErrConflict, store.ErrNotFound, api.ErrBadRequest, api.ErrUnavailable}
	cases := []struct {
		name       string
		err        error
		wantStatus int // 0: any error status
		wantCode   string
		wantKind   error // nil: no kind survives
	}{
		{"name in use", store.Errorf(store.ErrNameInUse, "service %q already exists", "web"), 0, codeNameInUse, store.ErrNameInUse},
		{"conflict", store.Errorf(store.ErrConflict, "service web was changed concurrently; retry"), 0, codeConflict, store.ErrConflict},
		{"not found", store.Errorf(store.ErrNotFound, "no such service: x"), 0, codeNotFound, store.ErrNotFound},
		{"not found error type", &store.NotFoundError{Kind: "node", Ref: "n9"}, 0, codeNotFound, store.ErrNotFound},
		{"bad request", store.Errorf(api.ErrBadRequest, "invalid role"), 0, codeBadRequest, api.ErrBadRequest},
		{"unavailable", store.Errorf(api.ErrUnavailable, "not ready"), 0, codeUnavail, api.ErrUnavailable},
		{"no leader", errNoLeader, 0, codeUnavail, api.ErrUnavailable},
		{"wrapped kind", fmt.Errorf("saving: %w", store.ErrConflict), 0, codeConflict, store.ErrConflict},
		{"not leader", consensus.ErrNotLeader, http.StatusServiceUnavailable, codeNotLeader, nil},
		{"wrapped not leader", fmt.Errorf("propose: %w", consensus.ErrNotLeader), http.StatusServiceUnavailable, codeNotLeader, nil},
		{"no kind", errors.New("disk full"), http.StatusInternalServerError, "", nil},
		// A kind error keeps its cause; the outer kind still decides the code.
		{"bad request made from a not found", store.Errorf(api.ErrBadRequest, "%w", store.Errorf(store.ErrNotFound, "network x not found")),
			http.StatusBadRequest, codeBadRequest, api.ErrBadRequest},
		{"unavailable made from not leader", store.Errorf(api.ErrUnavailable, "%w", consensus.ErrNotLeader),
			http.StatusServiceUnavailable, codeUnavail, api.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := toPeerError(tc.err)
			if (tc.wantStatus != 0 && status != tc.wantStatus) || status < 400 || body.Code != tc.wantCode || body.Message != tc.err.Error() {
				t.Fatalf("toPeerError = %d %+v; want %d code %q message %q", status, body, tc.wantStatus, tc.wantCode, tc.err.Error())
			}
			got := fromPeerError(&peer.Error{Status: status, Message: body.Message, Code: body.Code})
			if got.Error() != tc.err.Error() {
				t.Fatalf("message %q, want %q", got.Error(), tc.err.Error())
			}
			for _, k := range kinds {
				if errors.Is(got, k) != (k == tc.wantKind) {
					t.Fatalf("errors.Is(result, %v) = %v; want kind %v only", k, errors.Is(got, k), tc.wantKind)
				}
			}
		})
	}
}

func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// openRaft starts a single Raft node in a temporary directory;
// bootstrapped, it waits until it leads.
func openRaft(t *testing.T, bootstrap bool) (*consensus.Node, *store.Store) {
	t.Helper()
	st := store.New()
	addr := freeTCPAddr(t)
	n, err := consensus.Open(consensus.Config{Dir: t.TempDir(), NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr,
		Bootstrap: bootstrap, HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		Keys: seal.NewKeyring(seal.Key{1}, nil)}, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	if !bootstrap {
		return n, st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !n.IsLeader() {
		if ctx.Err() != nil {
			t.Fatal("the single voter never became leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	return n, st
}

func createService(id, name string) *store.Command {
	return &store.Command{Changes: []store.Change{{CreateService: &types.Service{ID: id, Spec: types.ServiceSpec{Name: name}}}}}
}

// TestForwarderOnLeader: on the leader a write is applied in place, and
// its own error comes back with its kind.
func TestForwarderOnLeader(t *testing.T) {
	n, st := openRaft(t, true)
	f := &forwarder{raft: n, store: st} // no peers: nothing may be forwarded
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
	f := &forwarder{raft: n, store: st, peers: peer.NewClient(&peer.Dialer{})}
	for _, d := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		start := time.Now()
		err := f.Propose(ctx, createService("s1", "web"))
		took := time.Since(start)
		cancel()
		if !errors.Is(err, errNoLeader) || !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("deadline %v: err = %v, want errNoLeader", d, err)
		}
		if took < d-10*time.Millisecond || took > d+time.Second {
			t.Fatalf("deadline %v: gave up after %v", d, took)
		}
	}
	// A context already over fails at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Propose(ctx, createService("s1", "web")); !errors.Is(err, errNoLeader) {
		t.Fatalf("cancelled context: %v", err)
	}
	if len(st.View().Services()) != 0 {
		t.Fatal("a write was applied without a leader")
	}
}
