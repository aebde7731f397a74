package allocator

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// TestNeedsAddrs: the loop's test for whether a commit may have left
// something to allocate among the services it touched.
func TestNeedsAddrs(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	b.settle()
	svc := &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", EndpointMode: types.EndpointVIP,
		Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}}}}
	b.must(store.Change{CreateService: svc})
	def := b.st.View().NetworkByName(types.DefaultNetworkName)
	ids := map[string]struct{}{"s1": {}}
	if !needsAddrs(b.st.View(), ids) {
		t.Fatal("a new service with a published port lacks its VIP: want true")
	}
	b.settle()
	if needsAddrs(b.st.View(), ids) {
		t.Fatal("all allocated: want false")
	}
	b.must(store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", Slot: 1, DesiredState: types.TaskRunning,
		Networks: []types.Attachment{{NetworkID: def.ID}}, Status: types.TaskStatus{State: types.TaskNew}}})
	if !needsAddrs(b.st.View(), ids) {
		t.Fatal("a task without its address: want true")
	}
	if needsAddrs(b.st.View(), map[string]struct{}{"other": {}}) {
		t.Fatal("another service: want false")
	}
	b.settle()
	if needsAddrs(b.st.View(), ids) {
		t.Fatal("the task allocated: want false")
	}
}

// TestRunAllocates: the loop itself gives a new task its address, after
// commits it passed over.
func TestRunAllocates(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := &Allocator{Store: b.st, Proposer: b.l, Log: discard(), NewID: b.newID}
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	wait("the default network", func() bool {
		n := b.st.View().NetworkByName(types.DefaultNetworkName)
		return n != nil && n.Allocated()
	})
	def := b.st.View().NetworkByName(types.DefaultNetworkName)
	b.must(store.Change{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web"}}})
	b.must(store.Change{ServiceProblem: &store.ServiceProblem{ServiceID: "s1", Message: "x"}}) // nothing to allocate
	b.must(store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", Slot: 1, DesiredState: types.TaskRunning,
		Networks: []types.Attachment{{NetworkID: def.ID}}, Status: types.TaskStatus{State: types.TaskNew}}})
	wait("t1's address", func() bool { return types.Allocated(b.st.View().Task("t1").Networks) })
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
