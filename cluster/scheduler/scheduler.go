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

// placeGroup places one service's pending tasks.
func (p *placer) placeGroup(group []*types.Task, svc map[string]int) {
	var sel *selection
	for _, t := range group {
		if sel == nil || !samePlacement(&sel.placement, &t.Placement) {
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
		if sel.root == nil {
			sel.root = newBranch(sel.nodes, sel.placement.Preferences, p.total, svc)
		}
		var why refusals
		if id, ok := sel.root.place(p, need, sel.placement.MaxReplicas, &why); ok {
			p.out = append(p.out, assigned(t, id, p.now))
			p.total[id]++
			p.take(id, need)
		} else {
			p.out = append(p.out, pendingFor(t, p.now, p.refused(len(sel.nodes), why)))
		}
	}
}

// samePlacement reports whether two tasks' placements select the same
// nodes the same way.
func samePlacement(a, b *types.Placement) bool {
	return a.MaxReplicas == b.MaxReplicas && slices.Equal(a.Constraints, b.Constraints) &&
		slices.EqualFunc(a.Preferences, b.Preferences, func(x, y types.PlacementPreference) bool {
			return x.SpreadLabel() == y.SpreadLabel()
		})
}

// refusals count why the open nodes could not take a task.
type refusals struct{ full, capped int }

// refused explains a task that no open node could take.
func (p *placer) refused(open int, why refusals) string {
	var parts []string
	if k := len(p.nodes) - len(p.eligible); k > 0 {
		parts = append(parts, fmt.Sprintf("%d %s not available for new tasks", k, plural(k, "node")))
	}
	if k := len(p.eligible) - open; k > 0 {
		parts = append(parts, fmt.Sprintf("scheduling constraints not satisfied on %d %s", k, plural(k, "node")))
	}
	if why.capped > 0 {
		parts = append(parts, fmt.Sprintf("max replicas per node limit exceeded on %d %s", why.capped, plural(why.capped, "node")))
	}
	if why.full > 0 {
		parts = append(parts, fmt.Sprintf("insufficient resources on %d %s", why.full, plural(why.full, "node")))
	}
	return "no suitable node (" + strings.Join(parts, "; ") + ")"
}

// branch is a group of a selection's nodes: the whole selection, or,
// under placement preferences, the nodes that share a label value at each
// level. A leaf keeps its nodes in a heap; the service's tasks are spread
// evenly over a branch's children, then over the nodes of a leaf.
type branch struct {
	value    string
	count    int // the service's tasks in the branch
	children []*branch
	h        *nodeHeap
}

func newBranch(nodes []*types.Node, prefs []types.PlacementPreference, total, svc map[string]int) *branch {
	b := &branch{}
	if len(prefs) == 0 {
		b.h = newNodeHeap(nodes, total, svc)
		for _, c := range b.h.items {
			b.count += c.svc
		}
		return b
	}
	key := prefs[0].SpreadLabel()
	// One look-up of each node's label, then the groups, each made once at
	// its size: at 100,000 nodes, map look-ups and regrowth were most of
	// the cost.
	group := make([]int32, len(nodes))
	index := map[string]int32{}
	var values []string
	var sizes []int
	for i, n := range nodes {
		v := n.Labels[key] // nodes without the label are a group of their own
		g, ok := index[v]
		if !ok {
			g = int32(len(values))
			index[v] = g
			values = append(values, v)
			sizes = append(sizes, 0)
		}
		group[i] = g
		sizes[g]++
	}
	groups := make([][]*types.Node, len(values))
	for g, k := range sizes {
		groups[g] = make([]*types.Node, 0, k)
	}
	for i, n := range nodes {
		groups[group[i]] = append(groups[group[i]], n)
	}
	order := make([]int, len(values))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return values[order[i]] < values[order[j]] })
	for _, g := range order {
		c := newBranch(groups[g], prefs[1:], total, svc)
		c.value = values[g]
		b.count += c.count
		b.children = append(b.children, c)
	}
	return b
}

// place puts a task needing need on the branch's best node: in the child
// with the fewest of the service's tasks that can take it (ties: by label
// value), or, in a leaf, on the first node of the heap with room and
// under the cap (the others set aside, and put back).
func (b *branch) place(p *placer, need types.Resources, capPerNode uint64, why *refusals) (string, bool) {
	if b.h == nil {
		order := append([]*branch(nil), b.children...)
		sort.SliceStable(order, func(i, j int) bool { return order[i].count < order[j].count })
		for _, c := range order {
			if id, ok := c.place(p, need, capPerNode, why); ok {
				b.count++
				return id, true
			}
		}
		return "", false
	}
	var aside []candidate
	defer func() {
		for _, c := range aside {
			heap.Push(b.h, c)
		}
	}()
	for b.h.Len() > 0 {
		c := &b.h.items[0]
		switch {
		case capPerNode > 0 && uint64(c.svc) >= capPerNode:
			why.capped++
		case need != (types.Resources{}) && !p.fits(c.n, need):
			why.full++
		default:
			id := c.id
			c.svc++
			c.total++
			heap.Fix(b.h, 0)
			b.count++
			return id, true
		}
		aside = append(aside, heap.Pop(b.h).(candidate))
	}
	return "", false
}

// leaves calls f with every leaf heap of the branch.
func (b *branch) leaves(f func(*nodeHeap)) {
	if b.h != nil {
		f(b.h)
		return
	}
	for _, c := range b.children {
		c.leaves(f)
	}
}

// check is one filter's test for a placement.
type check struct {
	pass    func(*types.Node) bool
	explain string
}

// selection is the nodes open to a service's tasks of one placement.
type selection struct {
	placement types.Placement
	checks    []check
	// nodes are the eligible nodes that pass every check (nil until
	// needed; empty when none do), reason why none do.
	nodes  []*types.Node
	reason string
	// root spreads the tasks over the nodes (nil until needed).
	root *branch
}

// selectFor asks the filters for their checks on placement pl; with none,
// every schedulable node is open.
func (p *placer) selectFor(pl types.Placement) *selection {
	sel := &selection{placement: pl}
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
	if sel.root == nil {
		return svc
	}
	if svc == nil {
		svc = map[string]int{}
	}
	sel.root.leaves(func(h *nodeHeap) {
		for _, c := range h.items {
			if c.svc > 0 {
				svc[c.id] = c.svc
			}
		}
	})
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
	n          *types.Node
	svc, total int
}

// nodeHeap orders nodes by fewest tasks of the service, then fewest
// overall, then ID (for determinism).
type nodeHeap struct{ items []candidate }

func newNodeHeap(nodes []*types.Node, total, svc map[string]int) *nodeHeap {
	h := &nodeHeap{items: make([]candidate, len(nodes))}
	for i, n := range nodes {
		h.items[i] = candidate{id: n.ID, n: n, svc: svc[n.ID], total: total[n.ID]}
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
