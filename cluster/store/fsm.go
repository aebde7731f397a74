package store

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"sw/cluster/types"
)

// FSM adapts a Store to hashicorp/raft's state machine.
type FSM struct{ Store *Store }

var _ raft.FSM = (*FSM)(nil)

// Apply decodes and applies one log entry. Its result (nil or an error) is
// what the proposer's future returns.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cmd, err := DecodeCommand(l.Data)
	if err != nil {
		return err
	}
	return f.Store.Apply(l.Index, cmd)
}

// snapshotData is the whole state, as written to a Raft snapshot (in the
// stored format: see FormatVersion).
type snapshotData struct {
	Index    uint64           `json:"Index"`
	Cluster  *types.Cluster   `json:"Cluster,omitempty"`
	Nodes    []*types.Node    `json:"Nodes"`
	Services []*types.Service `json:"Services"`
	Tasks    []*types.Task    `json:"Tasks"`
	Networks []*types.Network `json:"Networks,omitempty"`
	// Requests are the request IDs applied lately, oldest first.
	Requests []RequestRecord `json:"Requests,omitempty"`
}

// Snapshot captures the state at this moment; raft persists it later.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	r := f.Store.View()
	f.Store.mu.Lock()
	reqs := f.Store.requests.records()
	f.Store.mu.Unlock()
	return &fsmSnapshot{data: snapshotData{
		Index: r.Index, Cluster: r.Cluster(), Nodes: r.Nodes(), Services: r.Services(), Tasks: r.Tasks(),
		Networks: r.Networks(), Requests: reqs,
	}}, nil
}

// Restore replaces the whole state with a snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var d snapshotData
	if err := readStored(rc, &d); err != nil {
		return fmt.Errorf("store: read snapshot: %w", err)
	}
	return f.Store.restore(&d)
}

type fsmSnapshot struct{ data snapshotData }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeStored(sink, &s.data); err != nil {
		sink.Cancel()
		return fmt.Errorf("store: write snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

func (s *Store) restore(d *snapshotData) error {
	db, err := memdbFrom(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.db = db
	s.index = d.Index
	s.requests = requestLogFrom(d.Requests)
	close(s.changed)
	s.changed = make(chan struct{})
	s.wakeAllNodesLocked()
	s.journal.reset(d.Index)
	s.mu.Unlock()
	return nil
}

// Objects are a whole state's objects.
type Objects struct {
	Cluster  *types.Cluster
	Nodes    []*types.Node
	Services []*types.Service
	Tasks    []*types.Task
	Networks []*types.Network
}

// Replace swaps the whole state for the given objects at index: a
// worker's read-only mirror of what its manager sends it.
func (s *Store) Replace(index uint64, o Objects) error {
	return s.restore(&snapshotData{Index: index, Cluster: o.Cluster, Nodes: o.Nodes, Services: o.Services,
		Tasks: o.Tasks, Networks: o.Networks})
}
