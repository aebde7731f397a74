package netplane

import (
	"context"
	"fmt"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

func mac(a string) string { return "mac-" + a }

func TestWant(t *testing.T) {
	st := store.New()
	l := &store.Local{Store: st}
	net := &types.Network{ID: "n1", Spec: types.NetworkSpec{Name: types.DefaultNetworkName}, Subnet: "10.0.0.0/16", Gateway: "10.0.0.1", VNI: 4096}
	node := func(id, engine, addr, vtep string, state types.NodeState) *types.Node {
		return &types.Node{ID: id, EngineID: engine, Addr: vtep, State: state}
	}
	must := func(cs ...store.Change) {
		t.Helper()
		if err := l.Propose(context.Background(), &store.Command{Changes: cs}); err != nil {
			t.Fatal(err)
		}
	}
	// a and b share engine e1 (one host); c is on e2, d on e3 but down.
	must(store.Change{PutCluster: &types.Cluster{ID: "c"}}, store.Change{CreateNetwork: net},
		store.Change{PutNode: node("a", "e1", "", "198.18.0.11", types.NodeReady)},
		store.Change{PutNode: node("b", "e1", "", "198.18.0.11", types.NodeReady)},
		store.Change{PutNode: node("c", "e2", "", "198.18.0.12", types.NodeReady)},
		store.Change{PutNode: node("d", "e3", "", "198.18.0.13", types.NodeDown)},
		store.Change{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web"}}})
	alloc := func(kind, id, addr string) store.Change {
		a := &store.NetworkAllocation{Attachments: []types.Attachment{{NetworkID: "n1", Addr: addr}}}
		switch kind {
		case "node":
			a.NodeID = id
		case "task":
			a.TaskID = id
		case "service":
			a.ServiceID = id
		}
		return store.Change{Allocate: a}
	}
	task := func(id, nodeID string, state types.TaskState) *types.Task {
		return &types.Task{ID: id, ServiceID: "s1", NodeID: nodeID, DesiredState: types.TaskRunning,
			Status: types.TaskStatus{State: state}, Networks: []types.Attachment{{NetworkID: "n1"}}}
	}
	must(store.Change{CreateTask: task("t-a", "a", types.TaskRunning)}, store.Change{CreateTask: task("t-b", "b", types.TaskRunning)},
		store.Change{CreateTask: task("t-c", "c", types.TaskRunning)}, store.Change{CreateTask: task("t-d", "d", types.TaskRunning)},
		store.Change{CreateTask: task("t-gone", "c", types.TaskFailed)})
	must(alloc("node", "a", "10.0.0.3"), alloc("node", "b", "10.0.0.2"), alloc("node", "c", "10.0.0.4"), alloc("node", "d", "10.0.0.5"),
		alloc("service", "s1", "10.0.0.6"), alloc("task", "t-a", "10.0.0.10"), alloc("task", "t-b", "10.0.0.11"),
		alloc("task", "t-c", "10.0.0.12"), alloc("task", "t-d", "10.0.0.13"))

	got := Want(st.View(), net, "a", mac)
	want := State{Addr: "10.0.0.3", Hold: []string{"10.0.0.2", "10.0.0.3", "10.0.0.6"}, BridgeMAC: mac("10.0.0.3"), // a has the lowest ID of e1
		Local: "198.18.0.11", Peers: []Peer{
			{IP: "10.0.0.4", MAC: mac("10.0.0.4"), VTEP: "198.18.0.12"},   // c's own address
			{IP: "10.0.0.12", MAC: mac("10.0.0.12"), VTEP: "198.18.0.12"}, // c's task; not b's (same engine), not d's (down), not the failed one
		}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Want(a) =\n%+v\nwant\n%+v", got, want)
	}
	// From c, both nodes of e1 are reached at e1's bridge MAC: the one
	// named by the address of its node with the lowest ID, a.
	gotC := Want(st.View(), net, "c", mac)
	wantPeers := []Peer{
		{IP: "10.0.0.2", MAC: mac("10.0.0.3"), VTEP: "198.18.0.11"},
		{IP: "10.0.0.3", MAC: mac("10.0.0.3"), VTEP: "198.18.0.11"},
		{IP: "10.0.0.10", MAC: mac("10.0.0.10"), VTEP: "198.18.0.11"},
		{IP: "10.0.0.11", MAC: mac("10.0.0.11"), VTEP: "198.18.0.11"},
	}
	if fmt.Sprint(gotC.Peers) != fmt.Sprint(wantPeers) || gotC.BridgeMAC != mac("10.0.0.4") {
		t.Fatalf("Want(c) = %+v\nwant peers %+v", gotC, wantPeers)
	}
	if s := Want(st.View(), net, "nobody", mac); s.Addr != "" || len(s.Peers) != 0 {
		t.Fatalf("an unknown node wants %+v", s)
	}
}
