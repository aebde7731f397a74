package consensus

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"sw/cluster/seal"
	"sw/cluster/store"
	"sw/cluster/types"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testKeys is the data key the tests' Raft data is sealed with.
var testKeys = seal.NewKeyring(seal.Key{1, 2, 3}, nil)

func open(t *testing.T, dir, addr string, bootstrap bool) (*Node, *store.Store) {
	t.Helper()
	return openWith(t, dir, addr, bootstrap, testKeys)
}

func openWith(t *testing.T, dir, addr string, bootstrap bool, keys *seal.Keyring) (*Node, *store.Store) {
	t.Helper()
	st := store.New()
	n, err := Open(Config{Dir: dir, NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr, Bootstrap: bootstrap,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, Keys: keys}, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !n.IsLeader() {
		if ctx.Err() != nil {
			t.Fatal("single voter never became leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	return n, st
}

// TestSingleVoterPersists: a bootstrapped single voter commits writes, and
// after a restart from the same directory replays them.
func TestSingleVoterPersists(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	n, st := open(t, dir, addr, true)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		svc := &types.Service{ID: fmt.Sprintf("s%d", i), Spec: types.ServiceSpec{Name: fmt.Sprintf("svc%d", i)}}
		if err := n.Propose(ctx, &store.Command{Changes: []store.Change{{CreateService: svc}}}); err != nil {
			t.Fatal(err)
		}
	}
	dup := &types.Service{ID: "other", Spec: types.ServiceSpec{Name: "svc1"}}
	if err := n.Propose(ctx, &store.Command{Changes: []store.Change{{CreateService: dup}}}); err == nil {
		t.Fatal("a duplicate name was accepted")
	}
	if got := len(st.View().Services()); got != 3 {
		t.Fatalf("services after writes: %d", got)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2, st2 := open(t, dir, addr, false)
	defer n2.Close()
	if got := len(st2.View().Services()); got != 3 {
		t.Fatalf("services after restart: %d", got)
	}
	if st2.View().ServiceByName("svc2") == nil {
		t.Fatal("svc2 lost across restart")
	}
}
