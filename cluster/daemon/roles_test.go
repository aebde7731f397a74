package daemon

import (
	"context"
	"log/slog"
	"testing"

	"sw/cluster/types"
)

// TestRequestRoleLatestWins: requests the role loop has not taken yet are
// replaced, never queued, and asking never blocks.
func TestRequestRoleLatestWins(t *testing.T) {
	a, b := &swarm{id: &identity{}}, &swarm{id: &identity{}}
	for _, tc := range []struct {
		name string
		reqs []roleRequest
		want roleRequest
	}{
		{"one", []roleRequest{{a, types.RoleManager}}, roleRequest{a, types.RoleManager}},
		{"same, many times", []roleRequest{{a, types.RoleManager}, {a, types.RoleManager}, {a, types.RoleManager}},
			roleRequest{a, types.RoleManager}},
		{"the latest wins", []roleRequest{{a, types.RoleWorker}, {b, types.RoleManager}, {b, types.RoleWorker}},
			roleRequest{b, types.RoleWorker}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Daemon{}
			for _, r := range tc.reqs {
				d.requestRole(r.sw, r.role)
			}
			if got := <-d.roleRequests(); got != tc.want {
				t.Fatalf("request taken = %+v, want %+v", got, tc.want)
			}
			select {
			case r := <-d.roleRequests():
				t.Fatalf("a second request was queued: %+v", r)
			default:
			}
		})
	}
}

// TestSwitchRoleDropsStale: a request for a swarm the node is no longer
// in, or for the role it has, is dropped at once (no certificate asked
// for, the swarm left alone).
func TestSwitchRoleDropsStale(t *testing.T) {
	cur := &swarm{id: &identity{Role: string(types.RoleWorker)}}
	for _, tc := range []struct {
		name string
		sw   *swarm
		role types.NodeRole
	}{
		{"another swarm", &swarm{id: &identity{}}, types.RoleManager},
		{"its role already", cur, types.RoleWorker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Daemon{log: slog.New(slog.DiscardHandler), swarm: cur}
			d.switchRole(context.Background(), tc.sw, tc.role)
			if d.active() != cur {
				t.Fatal("a stale request changed the node's swarm")
			}
		})
	}
}

// TestRoleLoopEnds: the loop carries out what it is given and returns
// when its ctx ends.
func TestRoleLoopEnds(t *testing.T) {
	cur := &swarm{id: &identity{Role: string(types.RoleWorker)}}
	d := &Daemon{log: slog.New(slog.DiscardHandler), swarm: cur}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.roleLoop(ctx) }()
	d.requestRole(cur, types.RoleWorker)
	cancel()
	<-done
}
