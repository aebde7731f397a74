// Package scheduler places tasks on nodes. Schedule is a pure function of
// the state: it spreads each service's tasks over the ready, active nodes —
// fewest tasks of that service first, then fewest tasks overall — using a
// heap per service, so a placement costs O(log nodes), not a node scan.
// Scheduler is the leader-only loop that commits its assignments.
package scheduler

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
	"sw/cluster/watch"
)

// Unplaced reports whether a task waits for a node.
func Unplaced(t *types.Task) bool {
	return t.DesiredState == types.TaskRunning && t.Status.State < types.TaskAssigned
}

// active reports whether a task counts against its node's load.
func active(t *types.Task) bool {
	return t.NodeID != "" && t.DesiredState <= types.TaskRunning && !t.Status.State.Terminal() &&
		t.Status.State >= types.TaskAssigned
}

// Schedule decides assignments for every unplaced task.
func Schedule(now time.Time, nodes []*types.Node, tasks []*types.Task) []store.TaskAssignment {
	var pending []*types.Task
	// Counts only for nodes that have tasks: sized by the tasks, not the
	// nodes, which may be far more numerous.
	total := map[string]int{}
	perService := map[string]map[string]int{}
	for _, t := range tasks {
		switch {
		case Unplaced(t):
			pending = append(pending, t)
		case active(t):
			total[t.NodeID]++
			m := perService[t.ServiceID]
			if m == nil {
				m = map[string]int{}
				perService[t.ServiceID] = m
			}
			m[t.NodeID]++
		}
	}
	if len(pending) == 0 {
		return nil
	}
	eligible := make([]*types.Node, 0, len(nodes))
	for _, n := range nodes {
		if n.Schedulable() {
			eligible = append(eligible, n)
		}
	}
	byID := nodeIndex{nodes: nodes}
	if !sort.SliceIsSorted(pending, func(i, j int) bool { return pending[i].ServiceID < pending[j].ServiceID }) {
		sort.SliceStable(pending, func(i, j int) bool { return pending[i].ServiceID < pending[j].ServiceID })
	}
	out := make([]store.TaskAssignment, 0, len(pending))
	for start := 0; start < len(pending); {
		end := start
		for end < len(pending) && pending[end].ServiceID == pending[start].ServiceID {
			end++
		}
		out = placeGroup(out, now, pending[start:end], eligible, &byID, total, perService[pending[start].ServiceID], len(nodes))
		start = end
	}
	return out
}

// nodeIndex finds nodes by ID for pinned tasks; the map is built only if
// some task is pinned.
type nodeIndex struct {
	nodes []*types.Node
	byID  map[string]*types.Node
}

func (x *nodeIndex) get(id string) *types.Node {
	if x.byID == nil {
		x.byID = make(map[string]*types.Node, len(x.nodes))
		for _, n := range x.nodes {
			x.byID[n.ID] = n
		}
	}
	return x.byID[id]
}

func placeGroup(out []store.TaskAssignment, now time.Time, group []*types.Task, eligible []*types.Node,
	byID *nodeIndex, total, svc map[string]int, nodeCount int) []store.TaskAssignment {
	var h *nodeHeap
	for _, t := range group {
		if t.NodeID != "" { // pinned (global service): check the node only
			if n := byID.get(t.NodeID); n != nil && n.Schedulable() {
				out = append(out, assigned(t, n.ID, now))
				total[n.ID]++
			} else {
				out = append(out, pendingFor(t, now, nodeCount))
			}
			continue
		}
		if len(eligible) == 0 {
			out = append(out, pendingFor(t, now, nodeCount))
			continue
		}
		if h == nil {
			h = newNodeHeap(eligible, total, svc)
		}
		c := &h.items[0]
		out = append(out, assigned(t, c.id, now))
		c.svc++
		c.total++
		total[c.id]++
		heap.Fix(h, 0)
	}
	return out
}

func assigned(t *types.Task, nodeID string, now time.Time) store.TaskAssignment {
	return store.TaskAssignment{TaskID: t.ID, NodeID: nodeID,
		Status: types.TaskStatus{State: types.TaskAssigned, Timestamp: now, Message: "scheduler assigned task to node"}}
}

func pendingFor(t *types.Task, now time.Time, nodeCount int) store.TaskAssignment {
	msg := "no suitable node (no nodes in the swarm)"
	if nodeCount > 0 {
		msg = fmt.Sprintf("no suitable node (%d %s not available for new tasks)", nodeCount, plural(nodeCount, "node"))
	}
	return store.TaskAssignment{TaskID: t.ID,
		Status: types.TaskStatus{State: types.TaskPending, Timestamp: now, Err: msg, Message: "pending task scheduling"}}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// candidate is a node's place in a service's heap.
type candidate struct {
	id         string
	svc, total int
}

// nodeHeap orders nodes by fewest tasks of the service, then fewest
// overall, then ID (for determinism).
type nodeHeap struct{ items []candidate }

func newNodeHeap(nodes []*types.Node, total, svc map[string]int) *nodeHeap {
	h := &nodeHeap{items: make([]candidate, len(nodes))}
	for i, n := range nodes {
		h.items[i] = candidate{id: n.ID, svc: svc[n.ID], total: total[n.ID]}
	}
	heap.Init(h)
	return h
}

func (h *nodeHeap) Len() int { return len(h.items) }
func (h *nodeHeap) Less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.svc != b.svc {
		return a.svc < b.svc
	}
	if a.total != b.total {
		return a.total < b.total
	}
	return a.id < b.id
}
func (h *nodeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *nodeHeap) Push(x any)    { h.items = append(h.items, x.(candidate)) }
func (h *nodeHeap) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	h.items = h.items[:n]
	return x
}

// Changes turns assignments into store changes.
func Changes(as []store.TaskAssignment) []store.Change {
	out := make([]store.Change, len(as))
	for i := range as {
		out[i] = store.Change{AssignTask: &as[i]}
	}
	return out
}

// Scheduler is the leader-only loop that commits Schedule's decisions.
type Scheduler struct {
	Store    *store.Store
	Proposer store.Proposer
	Now      func() time.Time
	Log      *slog.Logger
}

// Run schedules at every commit until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	watch.Loop(ctx, s.Store, "scheduler", s.Log, s.step)
}

func (s *Scheduler) step(ctx context.Context, view *store.ReadTx) (time.Time, error) {
	as := Schedule(s.Now(), view.Nodes(), view.Tasks())
	as = dropUnchangedPending(view, as)
	if len(as) == 0 {
		return time.Time{}, nil
	}
	return time.Time{}, s.Proposer.Propose(ctx, &store.Command{Changes: Changes(as)})
}

// dropUnchangedPending avoids rewriting a pending task with the same
// reason at every commit (which would itself be a commit, forever).
func dropUnchangedPending(view *store.ReadTx, as []store.TaskAssignment) []store.TaskAssignment {
	out := as[:0]
	for _, a := range as {
		if a.NodeID == "" {
			if t := view.Task(a.TaskID); t != nil && t.Status.State == types.TaskPending && t.Status.Err == a.Status.Err {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
