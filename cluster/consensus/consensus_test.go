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

func freeAddr(t testing.TB) string {
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

func open(t testing.TB, dir, addr string, bootstrap bool) (*Node, *store.Store) {
	t.Helper()
	return openWith(t, dir, addr, bootstrap, testKeys)
}

func openWith(t testing.TB, dir, addr string, bootstrap bool, keys *seal.Keyring) (*Node, *store.Store) {
	t.Helper()
	st := store.New()
	n, err := Open(Config{Dir: dir, NodeID: "n1", BindAddr: addr, AdvertiseAddr: addr, Bootstrap: bootstrap,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, Keys: keys}, st)
	if err != nil {
		t.Fatal(err)
	}
	waitLead(t, n)
	return n, st
}

// waitLead waits until a single voter leads and has applied its log.
func waitLead(t testing.TB, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !n.IsLeader() {
		if ctx.Err() != nil {
			t.Fatal("the single voter never led")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
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

// TestReadIndexAndMembers: the leader's read index covers its last
// committed command; a follower has none to give; membership follows the
// configuration, unknown while a new manager's is still empty.
func TestReadIndexAndMembers(t *testing.T) {
	dir1, addr1 := t.TempDir(), freeAddr(t)
	n1, st1 := open(t, dir1, addr1, true)
	defer n1.Close()
	dir2, addr2 := t.TempDir(), freeAddr(t)
	st2 := store.New()
	n2, err := Open(Config{Dir: dir2, NodeID: "n2", BindAddr: addr2, AdvertiseAddr: addr2,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, Keys: testKeys}, st2)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if member, known := n2.Member("n1"); member || known {
		t.Fatalf("a manager not yet added: Member = %v, %v; want false, false", member, known)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n1.AddVoter(ctx, "n2", addr2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		svc := &types.Service{ID: fmt.Sprintf("s%d", i), Spec: types.ServiceSpec{Name: fmt.Sprintf("svc%d", i)}}
		if err := n1.Propose(ctx, &store.Command{Changes: []store.Change{{CreateService: svc}}}); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := n1.ReadIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if idx != st1.Index() || idx == 0 {
		t.Fatalf("read index %d, want the last command's index %d", idx, st1.Index())
	}
	if _, err := n2.ReadIndex(ctx); err != ErrNotLeader {
		t.Fatalf("a follower's ReadIndex: %v, want ErrNotLeader", err)
	}
	st2.WaitPast(ctx, idx-1, 5*time.Second)
	if st2.View().ServiceByName("svc2") == nil {
		t.Fatal("the follower reached the read index without the last write")
	}
	for _, tc := range []struct {
		n             *Node
		id            string
		member, known bool
	}{{n1, "n1", true, true}, {n1, "n2", true, true}, {n1, "n3", false, true}, {n2, "n1", true, true}} {
		if m, k := tc.n.Member(tc.id); m != tc.member || k != tc.known {
			t.Errorf("Member(%s) = %v, %v; want %v, %v", tc.id, m, k, tc.member, tc.known)
		}
	}
	if err := n1.RemoveServer(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if m, k := n1.Member("n2"); m || !k {
		t.Fatalf("a removed manager: Member = %v, %v; want false, true", m, k)
	}
}

// BenchmarkAdmit is the daemon's per-connection Raft admission: the
// membership lookup and the caught-up check, on a node with a few writes.
func BenchmarkAdmit(b *testing.B) {
	n, _ := open(b, b.TempDir(), freeAddr(b), true)
	defer n.Close()
	for i := 0; i < 3; i++ {
		svc := &types.Service{ID: fmt.Sprintf("s%d", i), Spec: types.ServiceSpec{Name: fmt.Sprintf("svc%d", i)}}
		if err := n.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateService: svc}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.Admit("n1"); err != nil {
			b.Fatal(err)
		}
	}
}
