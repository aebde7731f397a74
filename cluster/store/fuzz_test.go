package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"sw/cluster/types"
)

// state renders a store's objects (not its index), to compare before
// and after.
func state(s *Store) []byte {
	v := s.View()
	b, _ := json.Marshal(snapshotData{Cluster: v.Cluster(), Nodes: v.Nodes(), Services: v.Services(), Tasks: v.Tasks()})
	return b
}

// seeded returns a store holding one of each kind of object, so that
// fuzzed commands reach the update paths too.
func seeded(t *testing.T) *Store {
	t.Helper()
	s := New()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cmd := &Command{Time: now, Changes: []Change{
		{PutCluster: &types.Cluster{ID: "c1"}},
		{PutNode: &types.Node{ID: "n1", Hostname: "h1", Role: types.RoleManager, State: types.NodeReady}},
		{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1,
			Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080}}}}},
		{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", ServiceName: "web", Slot: 1, NodeID: "n1",
			DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskPending}}},
	}}
	if err := s.Apply(1, cmd); err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzDecodeCommand decodes a Raft log entry and applies it, to an empty
// store and to one holding objects. Decoding never panics (and is lenient:
// unknown fields are skipped); a decoded command re-encodes to an entry
// that decodes to the same; applying it never panics and is all or
// nothing: a failed command leaves the store as it was.
func FuzzDecodeCommand(f *testing.F) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []Command{
		{Time: now, Changes: []Change{{CreateService: &types.Service{ID: "s2", Spec: types.ServiceSpec{Name: "api"}}}}},
		{Time: now, Changes: []Change{{TaskStatus: &TaskStatusFrom{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskRunning}}}}},
		{Time: now, Changes: []Change{{AssignTask: &TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}}}},
		{Time: now, Changes: []Change{{UpdateNode: &NodeUpdate{NodeID: "n1", SetLabels: true, Labels: map[string]string{"a": "b"}}}}},
		{Time: now, Changes: []Change{{UpdateService: &types.Service{ID: "s1", Meta: types.Meta{Version: 1}, Spec: types.ServiceSpec{Name: "web"}}},
			{DeleteTask: "t1"}, {DeleteNode: "n1"}}},
		{Time: now, Changes: []Change{{TaskDesired: &TaskDesiredFrom{TaskID: "t1", State: types.TaskShutdown}}, {DeleteService: "s1"}}},
		{Time: now, Changes: []Change{{NodeState: &NodeStateFrom{NodeID: "n1", State: types.NodeDown, Message: "gone"}}}},
		{Time: now, Changes: []Change{{}}},
	} {
		b, _ := c.Encode()
		f.Add(b)
	}
	for _, s := range []string{`{`, `null`, `{"Changes":[{"PutNode":{}}]}`, `{"Changes":[{"CreateTask":{"ID":"t9"}}]}`,
		`{"Changes":[{"TaskStatus":{"TaskID":"t1","NodeID":"n1","Status":{"State":99}}}]}`, `{"Future":1,"Changes":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("DecodeCommand(%q) error %v does not match ErrBadCommand", b, err)
			}
			return
		}
		enc, err := cmd.Encode()
		if err != nil {
			t.Fatalf("re-encoding the command of %q: %v", b, err)
		}
		again, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("%q decoded, its re-encoding %s did not: %v", b, enc, err)
		}
		if enc2, _ := again.Encode(); !bytes.Equal(enc2, enc) {
			t.Fatalf("round trip of %q: %s, then %s", b, enc, enc2)
		}
		for _, s := range []*Store{New(), seeded(t)} {
			before := state(s)
			idx := s.Index() + 1
			c, _ := DecodeCommand(b) // Apply may keep what it is given: a fresh copy each time
			if err := s.Apply(idx, c); err != nil {
				if after := state(s); !bytes.Equal(after, before) {
					t.Fatalf("a failed command (%v) changed the store:\n%s\n%s", err, before, after)
				}
			}
			if s.Index() != idx {
				t.Fatalf("Apply at %d left the index at %d", idx, s.Index())
			}
		}
	})
}

// FuzzRestoreSnapshot restores a store from any snapshot bytes: never a
// panic; a refused snapshot leaves the store as it was; an accepted one
// snapshots again to what it holds.
func FuzzRestoreSnapshot(f *testing.F) {
	f.Add([]byte(`{"Index":3,"Cluster":{"ID":"c1"},"Nodes":[{"ID":"n1"}],"Services":[{"ID":"s1","Spec":{"Name":"web"}}],` +
		`"Tasks":[{"ID":"t1","ServiceID":"s1","Status":{"State":"RUNNING"}}]}`))
	f.Add([]byte(`{"Nodes":[null]}`))
	f.Add([]byte(`{"Services":[{"ID":"a","Spec":{"Name":"x"}},{"ID":"b","Spec":{"Name":"x"}}]}`))
	f.Add([]byte(`{"Tasks":[{"ID":""}]}`))
	f.Add([]byte(`{not json`))
	// A format-1 snapshot (the current stored format) of a seeded store.
	if v1, err := encodeStored(&snapshotData{Index: 3, Cluster: &types.Cluster{ID: "c1"}, Nodes: []*types.Node{{ID: "n1"}},
		Services: []*types.Service{{ID: "s1", Spec: types.ServiceSpec{Name: "web"}}}}); err == nil {
		f.Add(v1)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := seeded(t)
		before := state(s)
		if err := (&FSM{Store: s}).Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
			if after := state(s); !bytes.Equal(after, before) {
				t.Fatalf("a refused snapshot (%v) changed the store", err)
			}
			return
		}
		snap, err := (&FSM{Store: s}).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		var sink memSink
		if err := snap.Persist(&sink); err != nil {
			t.Fatal(err)
		}
		again := New()
		if err := (&FSM{Store: again}).Restore(sink.Reader()); err != nil {
			t.Fatalf("a restored store's own snapshot is refused: %v", err)
		}
		if !bytes.Equal(state(again), state(s)) {
			t.Fatalf("snapshot of a restored store differs:\n%s\n%s", state(s), state(again))
		}
	})
}
