// Package consensustest starts single-manager Raft nodes for the tests of
// the packages built on consensus (daemon, forward): one voter in a
// temporary directory on a free loopback port, with short timeouts.
package consensustest

import (
	"context"
	"net"
	"testing"
	"time"

	"sw/cluster/consensus"
	"sw/cluster/seal"
	"sw/cluster/store"
)

// FreeAddr returns a loopback TCP address no one listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Open starts a single Raft node over a new store, closed at the test's
// end; bootstrapped, it returns once the node leads and has applied its
// barrier.
func Open(t testing.TB, bootstrap bool) (*consensus.Node, *store.Store) {
	t.Helper()
	st := store.New()
	addr := FreeAddr(t)
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
