// Package scheduler places tasks on nodes. Schedule is a pure function of
// the state: it spreads each service's tasks over the ready, active nodes —
// fewest tasks of that service first, then fewest tasks overall — using a
// heap per service, so a placement costs O(log nodes), not a node scan.
// ScheduleFiltered first narrows the nodes with the plugins' filters
// (placement constraints), once per group of tasks sharing a placement.
// Scheduler is the leader-only loop that commits its assignments.
package scheduler

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"sw/cluster/hooks"
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

// Schedule decides assignments for every unplaced task, on any
// schedulable node.
func Schedule(now time.Time, nodes []*types.Node, tasks []*types.Task) []store.TaskAssignment {
	return ScheduleFiltered(now, nodes, tasks, nil)
}

// ScheduleFiltered is Schedule with the plugins' node filters: a task goes
// only to a schedulable node that passes every filter's check for the
// task's placement. A task that no node can take stays pending and says
// why, e.g. "no suitable node (scheduling constraints not satisfied on 3
// nodes)".
func ScheduleFiltered(now time.Time, nodes []*types.Node, tasks []*types.Task, filters []hooks.NodeFilter) []store.TaskAssignment {
	var pending []*types.Task
	// Counts only for nodes that have tasks: sized by the tasks, not the
	// nodes, which may be far more numerous.
	total := map[string]int{}
	perService := map[string]map[string]int{}
	// What the tasks on each node reserve (only nodes with reservations).
	reserved := map[string]types.Resources{}
	for _, t := range tasks {
		switch {
		case Unplaced(t):
			pending = append(pending, t)
		case active(t):
			total[t.NodeID]++
			if r := t.Spec.Resources.Reserved(); r != (types.Resources{}) {
				reserved[t.NodeID] = add(reserved[t.NodeID], r)
			}
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
	// By service, then spec version: the tasks of one version share a
	// placement, so a service's placement changes at most at a version.
	less := func(i, j int) bool {
		a, b := pending[i], pending[j]
		if a.ServiceID != b.ServiceID {
			return a.ServiceID < b.ServiceID
		}
		return a.SpecVersion < b.SpecVersion
	}
	if !sort.SliceIsSorted(pending, less) {
		sort.SliceStable(pending, less)
	}
	p := placer{now: now, nodes: nodes, eligible: eligible, byID: nodeIndex{nodes: nodes}, total: total,
		reserved: reserved, filters: filters, out: make([]store.TaskAssignment, 0, len(pending))}
	for start := 0; start < len(pending); {
		end := start
		for end < len(pending) && pending[end].ServiceID == pending[start].ServiceID {
			end++
		}
		p.placeGroup(pending[start:end], perService[pending[start].ServiceID])
		start = end
	}
	return p.out
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

// placer is one Schedule call's state.
type placer struct {
	now      time.Time
	nodes    []*types.Node // every node, for explanations
	eligible []*types.Node // the schedulable ones
	byID     nodeIndex
	total    map[string]int
	// reserved is what the tasks on a node reserve, these placements
	// included.
	reserved map[string]types.Resources
	filters  []hooks.NodeFilter
	out      []store.TaskAssignment
}

func add(a, b types.Resources) types.Resources {
	return types.Resources{NanoCPUs: a.NanoCPUs + b.NanoCPUs, MemoryBytes: a.MemoryBytes + b.MemoryBytes}
}

// fits reports whether node n has room for a reservation of need beside
// what its tasks reserve. A node that reports no CPUs (or no memory) is
// not limited in them: nodes from before resources were reported.
func (p *placer) fits(n *types.Node, need types.Resources) bool {
	have, used := n.Description.Resources, p.reserved[n.ID]
	return (have.NanoCPUs == 0 || used.NanoCPUs+need.NanoCPUs <= have.NanoCPUs) &&
		(have.MemoryBytes == 0 || used.MemoryBytes+need.MemoryBytes <= have.MemoryBytes)
}

// take records a placement's reservation on its node.
func (p *placer) take(nodeID string, need types.Resources) {
	if need != (types.Resources{}) {
		p.reserved[nodeID] = add(p.reserved[nodeID], need)
	}
}

// insufficient explains a task that no open node has room for.
func (p *placer) insufficient(open int) string {
	var parts []string
	if k := len(p.nodes) - len(p.eligible); k > 0 {
		parts = append(parts, fmt.Sprintf("%d %s not available for new tasks", k, plural(k, "node")))
	}
	if k := len(p.eligible) - open; k > 0 {
		parts = append(parts, fmt.Sprintf("scheduling constraints not satisfied on %d %s", k, plural(k, "node")))
	}
	parts = append(parts, fmt.Sprintf("insufficient resources on %d %s", open, plural(open, "node")))
	return "no suitable node (" + strings.Join(parts, "; ") + ")"
}

// placeGroup places one service's pending tasks.
func (p *placer) placeGroup(group []*types.Task, svc map[string]int) {
	var sel *selection
	for _, t := range group {
		if sel == nil || !slices.Equal(sel.constraints, t.Placement.Constraints) {
			if sel != nil {
				svc = sel.flush(svc)
			}
			sel = p.selectFor(t.Placement)
		}
		need := t.Spec.Resources.Reserved()
		if t.NodeID != "" { // pinned (global service): check the node only
			n := p.byID.get(t.NodeID)
			switch {
			case n == nil || !n.Schedulable():
				p.out = append(p.out, pendingFor(t, p.now, nodesReason(len(p.nodes))))
			case !sel.passes(n):
				p.out = append(p.out, pendingFor(t, p.now, sel.failedOn(n)))
			case !p.fits(n, need):
				p.out = append(p.out, pendingFor(t, p.now, "no suitable node (insufficient resources on 1 node)"))
			default:
				p.out = append(p.out, assigned(t, n.ID, p.now))
				p.total[n.ID]++
				p.take(n.ID, need)
			}
			continue
		}
		if sel.nodes == nil {
			p.open(sel)
		}
		if len(sel.nodes) == 0 {
			p.out = append(p.out, pendingFor(t, p.now, sel.reason))
			continue
		}
		if sel.h == nil {
			sel.h = newNodeHeap(sel.nodes, p.total, svc)
		}
		// The best node with room: those without are set aside, and put
		// back once this task is placed.
		var full []candidate
		if need != (types.Resources{}) {
			for sel.h.Len() > 0 && !p.fits(p.byID.get(sel.h.items[0].id), need) {
				full = append(full, heap.Pop(sel.h).(candidate))
			}
		}
		if sel.h.Len() == 0 {
			p.out = append(p.out, pendingFor(t, p.now, p.insufficient(len(sel.nodes))))
		} else {
			c := &sel.h.items[0]
			p.out = append(p.out, assigned(t, c.id, p.now))
			c.svc++
			c.total++
			p.total[c.id]++
			p.take(c.id, need)
			heap.Fix(sel.h, 0)
		}
		for _, c := range full {
			heap.Push(sel.h, c)
		}
	}
}

// check is one filter's test for a placement.
type check struct {
	pass    func(*types.Node) bool
	explain string
}

// selection is the nodes open to a service's tasks of one placement.
type selection struct {
	constraints []string
	checks      []check
	// nodes are the eligible nodes that pass every check (nil until
	// needed; empty when none do), reason why none do.
	nodes  []*types.Node
	reason string
	h      *nodeHeap
}

// selectFor asks the filters for their checks on placement pl; with none,
// every schedulable node is open.
func (p *placer) selectFor(pl types.Placement) *selection {
	sel := &selection{constraints: pl.Constraints}
	for _, f := range p.filters {
		if pass, explain := f.NodeCheck(pl); pass != nil {
			sel.checks = append(sel.checks, check{pass: pass, explain: explain})
		}
	}
	return sel
}

// open fills sel.nodes, and sel.reason in case it is empty.
func (p *placer) open(sel *selection) {
	if len(sel.checks) == 0 {
		sel.nodes = p.eligible
		sel.reason = nodesReason(len(p.nodes))
		return
	}
	sel.nodes = make([]*types.Node, 0, len(p.eligible))
	failed := make([]int, len(sel.checks))
	for _, n := range p.eligible {
		if i := sel.firstFailed(n); i >= 0 {
			failed[i]++
		} else {
			sel.nodes = append(sel.nodes, n)
		}
	}
	if len(sel.nodes) > 0 {
		return
	}
	if len(p.nodes) == 0 {
		sel.reason = nodesReason(0)
		return
	}
	var parts []string
	if k := len(p.nodes) - len(p.eligible); k > 0 {
		parts = append(parts, fmt.Sprintf("%d %s not available for new tasks", k, plural(k, "node")))
	}
	for i, k := range failed {
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%s on %d %s", sel.checks[i].explain, k, plural(k, "node")))
		}
	}
	sel.reason = "no suitable node (" + strings.Join(parts, "; ") + ")"
}

// firstFailed is the index of the first check n fails, or -1.
func (sel *selection) firstFailed(n *types.Node) int {
	for i, c := range sel.checks {
		if !c.pass(n) {
			return i
		}
	}
	return -1
}

func (sel *selection) passes(n *types.Node) bool { return sel.firstFailed(n) < 0 }

// failedOn explains why a pinned task's node cannot take it.
func (sel *selection) failedOn(n *types.Node) string {
	return fmt.Sprintf("no suitable node (%s on 1 node)", sel.checks[sel.firstFailed(n)].explain)
}

// flush writes the heap's per-service counts back into svc, so that the
// service's next selection sees this one's placements.
func (sel *selection) flush(svc map[string]int) map[string]int {
	if sel.h == nil {
		return svc
	}
	if svc == nil {
		svc = map[string]int{}
	}
	for _, c := range sel.h.items {
		if c.svc > 0 {
			svc[c.id] = c.svc
		}
	}
	return svc
}

func assigned(t *types.Task, nodeID string, now time.Time) store.TaskAssignment {
	return store.TaskAssignment{TaskID: t.ID, NodeID: nodeID,
		Status: types.TaskStatus{State: types.TaskAssigned, Timestamp: now, Message: "scheduler assigned task to node"}}
}

// nodesReason explains a pending task when no node is schedulable.
func nodesReason(nodeCount int) string {
	if nodeCount == 0 {
		return "no suitable node (no nodes in the swarm)"
	}
	return fmt.Sprintf("no suitable node (%d %s not available for new tasks)", nodeCount, plural(nodeCount, "node"))
}

func pendingFor(t *types.Task, now time.Time, msg string) store.TaskAssignment {
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
	// Filters limit the nodes open to each task (ScheduleFiltered).
	Filters []hooks.NodeFilter

	// The loop's own state: the view index of its last pass (0: the next
	// is a full one) and whether that pass left tasks pending.
	last    uint64
	pending bool
	scans   int // full scans so far (tests)
}

// Run schedules at every commit until ctx ends. A commit that leaves no
// task to place (none new among the services it touched, none left
// pending, no node changed: store.ServicesChangedSince) is passed over
// without a scan of every task.
func (s *Scheduler) Run(ctx context.Context) {
	s.last, s.pending = 0, false
	watch.Loop(ctx, s.Store, "scheduler", s.Log, s.step)
}

func (s *Scheduler) step(ctx context.Context, view *store.ReadTx) (time.Time, error) {
	if s.last != 0 && !s.pending {
		if ids, all := s.Store.ServicesChangedSince(s.last); !all && !waitingForNode(view, ids) {
			s.last = view.Index
			return time.Time{}, nil
		}
	}
	s.scans++
	as := ScheduleFiltered(s.Now(), view.Nodes(), view.Tasks(), s.Filters)
	s.pending = false
	for _, a := range as {
		if a.NodeID == "" {
			s.pending = true
			break
		}
	}
	s.last = view.Index
	as = dropUnchangedPending(view, as)
	if len(as) == 0 {
		return time.Time{}, nil
	}
	err := store.ProposeAll(ctx, s.Proposer, Changes(as))
	if err != nil {
		s.last = 0 // a full pass next
	}
	return time.Time{}, err
}

// waitingForNode reports whether a service of ids has a task waiting for a node.
func waitingForNode(view *store.ReadTx, ids map[string]struct{}) bool {
	for id := range ids {
		for _, t := range view.TasksOfService(id) {
			if Unplaced(t) {
				return true
			}
		}
	}
	return false
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
