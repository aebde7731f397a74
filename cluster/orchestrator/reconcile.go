// Package orchestrator keeps each service's tasks matching its spec: one
// live task per replica slot (or per eligible node for a global service),
// failed tasks replaced per the restart policy, outdated tasks replaced one
// at a time after an update, tasks moved off drained nodes (stop first)
// and off down or removed nodes (at once, as those cannot stop them),
// surplus tasks removed and history trimmed.
//
// Reconcile is a pure function of the state and the time; Orchestrator is
// the leader-only loop that feeds it from the store and proposes its plan.
package orchestrator

import (
	"fmt"
	"sort"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/spec"
	"sw/cluster/store"
	"sw/cluster/types"
)

// MaxCreatesPerService bounds the tasks one reconciliation makes for one
// service: a service of many replicas gets them over several passes (each
// pass runs again at the commit of the last), so no spec makes one pass
// grow with its replica count (the log entries are cut smaller still, by
// store.Batches). At 500, 10 services of 10,000 replicas went through the
// pipeline 500 tasks a service at a time and took 72 s to run on 1,000
// simulated nodes; at 2,000, 60 s (scripts/bench-scale.sh); 5,000 gave
// no more.
const MaxCreatesPerService = 2000

// Plan is what one reconciliation decided.
type Plan struct {
	Create []*types.Task
	Desire []store.TaskDesiredFrom
	Delete []string
	// Problems report services whose reconcile error changed: set, or
	// cleared (an empty message).
	Problems []store.ServiceProblem
	// Statuses record where rollouts stand; Rollbacks are the rollouts'
	// failure actions that put a previous spec back.
	Statuses  []store.ServiceUpdateStatus
	Rollbacks []store.ServiceRollback
	// WakeAt is when a delayed decision (a restart) falls due; zero if none.
	WakeAt time.Time
	// replaces maps a new task's ID to the task it replaces, whose stop
	// must commit with it.
	replaces map[string]string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Create)+len(p.Desire)+len(p.Delete)+len(p.Problems)+len(p.Statuses)+len(p.Rollbacks) == 0
}

// Groups are the plan's changes cut into the pieces that must commit
// together, in order: a replacement task goes with the stop of the task
// it replaces (split across two log entries by a lost leadership, the old
// task would stay meant to run next to its replacement); everything else
// stands alone.
func (p *Plan) Groups() [][]store.Change {
	out := make([][]store.Change, 0, len(p.Create)+len(p.Desire)+len(p.Delete)+len(p.Problems)+len(p.Statuses)+len(p.Rollbacks))
	for i := range p.Problems {
		out = append(out, []store.Change{{ServiceProblem: &p.Problems[i]}})
	}
	for i := range p.Rollbacks {
		out = append(out, []store.Change{{RollbackService: &p.Rollbacks[i]}})
	}
	for i := range p.Statuses {
		out = append(out, []store.Change{{UpdateStatus: &p.Statuses[i]}})
	}
	paired := map[string]int{} // old task ID -> index in Desire
	for i, d := range p.Desire {
		paired[d.TaskID] = i
	}
	used := make([]bool, len(p.Desire))
	for _, t := range p.Create {
		if old, ok := p.replaces[t.ID]; ok {
			if i, ok := paired[old]; ok && !used[i] {
				used[i] = true
				out = append(out, []store.Change{{TaskDesired: &p.Desire[i]}, {CreateTask: t}})
				continue
			}
		}
		out = append(out, []store.Change{{CreateTask: t}})
	}
	for i := range p.Desire {
		if !used[i] {
			out = append(out, []store.Change{{TaskDesired: &p.Desire[i]}})
		}
	}
	for _, id := range p.Delete {
		out = append(out, []store.Change{{DeleteTask: id}})
	}
	return out
}

// Changes turns the plan into store changes, in the order of Groups.
func (p *Plan) Changes() []store.Change {
	var out []store.Change
	for _, g := range p.Groups() {
		out = append(out, g...)
	}
	return out
}

// replace stops old and creates t in its place.
func (p *Plan) replace(old, t *types.Task) { p.replaceAs(old, t, types.TaskShutdown) }

// replaceAs creates t in place of old, which is told to reach state: a
// task on a lost node is told to go altogether (TaskRemove), so that the
// node, if it returns, removes its container instead of keeping a stale
// copy of a slot that now runs elsewhere.
func (p *Plan) replaceAs(old, t *types.Task, state types.TaskState) {
	p.desire(old, state)
	p.Create = append(p.Create, t)
	if p.replaces == nil {
		p.replaces = map[string]string{}
	}
	p.replaces[t.ID] = old.ID
}

func (p *Plan) desire(t *types.Task, s types.TaskState) {
	if t.DesiredState.CanDesire(s) {
		p.Desire = append(p.Desire, store.TaskDesiredFrom{TaskID: t.ID, State: s})
	}
}

func (p *Plan) wake(at time.Time) {
	if p.WakeAt.IsZero() || at.Before(p.WakeAt) {
		p.WakeAt = at
	}
}

// Input is the state one reconciliation looks at.
type Input struct {
	Now          time.Time
	Services     []*types.Service
	Tasks        []*types.Task
	Nodes        []*types.Node
	HistoryLimit int
	// NewID makes task IDs; types.NewID when nil.
	NewID func() string
	// Filters limit the nodes a service's tasks may run on (placement
	// constraints): a global service has no task on a node that fails
	// them, and a task whose node stops passing them is moved.
	Filters []hooks.NodeFilter
	// DefaultNetwork is the network of services that name none, and of
	// the routing mesh; "" (tests that need no network) leaves such tasks
	// without one. Addresses come later, from the allocator.
	DefaultNetwork string
}

// Reconcile decides, for every service and for tasks whose service is
// gone, what must change. Its plan is deterministic: the same input gives
// the same changes in the same order (task IDs aside).
func Reconcile(in Input) Plan {
	if in.NewID == nil {
		in.NewID = types.NewID
	}
	if in.HistoryLimit <= 0 {
		in.HistoryLimit = types.DefaultTaskHistoryLimit
	}
	nodes := make(map[string]*types.Node, len(in.Nodes))
	for _, n := range in.Nodes {
		nodes[n.ID] = n
	}
	byService := map[string][]*types.Task{}
	for _, t := range in.Tasks {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	var p Plan
	for _, svc := range in.Services {
		problem := unreconcilable(svc)
		if problem != svc.ReconcileError {
			p.Problems = append(p.Problems, store.ServiceProblem{ServiceID: svc.ID, Message: problem})
		}
		if problem == "" {
			r := reconciler{in: &in, plan: &p, svc: svc, nodes: nodes}
			r.service(byService[svc.ID])
		}
		delete(byService, svc.ID)
	}
	for _, t := range in.Tasks { // services removed; in input order, for determinism
		if _, orphan := byService[t.ServiceID]; orphan {
			p.desire(t, types.TaskRemove)
			if stopped(t, nodes) {
				p.Delete = append(p.Delete, t.ID)
			}
		}
	}
	return p
}

// unreconcilable says why a stored service must not be reconciled, or ""
// if it can be: a spec beyond the limits (stored before they existed, or
// written around them) is left as it is and reported, never followed into
// unbounded work. Its tasks, if any, are left alone too.
func unreconcilable(svc *types.Service) string {
	if svc.Spec.Mode != types.ModeGlobal && svc.Spec.Replicas > spec.MaxReplicas {
		return fmt.Sprintf("this service is not reconciled: it asks for %d replicas, more than the maximum of %d; "+
			"scale it down (sw service scale %s=N)", svc.Spec.Replicas, spec.MaxReplicas, svc.Spec.Name)
	}
	return ""
}

// stopped reports whether a task is done with its node, so that a task no
// longer wanted can be deleted: it has stopped, it never reached a node,
// or its node is gone from the swarm (no one is left to stop it).
func stopped(t *types.Task, nodes map[string]*types.Node) bool {
	if t.Status.State.Terminal() || t.Status.State < types.TaskAssigned || t.NodeID == "" {
		return true
	}
	_, ok := nodes[t.NodeID]
	return !ok
}

// nodeLost reports whether a task's node can no longer run or stop it:
// the node is down or gone from the swarm.
func nodeLost(t *types.Task, nodes map[string]*types.Node) bool {
	if t.NodeID == "" {
		return false
	}
	n, ok := nodes[t.NodeID]
	return !ok || n.State == types.NodeDown
}

type reconciler struct {
	in    *Input
	plan  *Plan
	svc   *types.Service
	nodes map[string]*types.Node
	// checks are the filters' tests for the service's placement (nil
	// until first needed).
	checks []func(*types.Node) bool
	// created counts the tasks this pass made for the service.
	created int
}

// fits reports whether node n meets the service's current placement.
func (r *reconciler) fits(n *types.Node) bool {
	if r.checks == nil {
		r.checks = []func(*types.Node) bool{}
		for _, f := range r.in.Filters {
			if c, _ := f.NodeCheck(r.svc.Spec.Placement); c != nil {
				r.checks = append(r.checks, c)
			}
		}
	}
	for _, c := range r.checks {
		if !c(n) {
			return false
		}
	}
	return true
}

// slot is the tasks of one replica slot (or one node of a global
// service), oldest first.
// slotID identifies a slot within its service: the replica number, or
// (num 0) the node of a global service's slot. A comparable struct, not a
// formatted string: a pass over 100,000 tasks makes one per task.
type slotID struct {
	num  uint64
	node string
}

type slot struct {
	key    slotID
	num    uint64 // replica number; 0 for a global service's slot
	nodeID string // the node of a global service's slot
	tasks  []*types.Task
}

// live returns the slot's task that is meant to run, if any.
func (s *slot) live() *types.Task {
	for i := len(s.tasks) - 1; i >= 0; i-- {
		if s.tasks[i].DesiredState <= types.TaskRunning {
			return s.tasks[i]
		}
	}
	return nil
}

func (s *slot) newest() *types.Task {
	if len(s.tasks) == 0 {
		return nil
	}
	return s.tasks[len(s.tasks)-1]
}

// groupSlots sorts a service's tasks into slots, returned in slot order
// (replica number, then node ID), each slot's tasks oldest first.
func groupSlots(tasks []*types.Task) []*slot {
	byKey := make(map[slotID]*slot, len(tasks))
	out := make([]*slot, 0, len(tasks))
	for _, t := range tasks {
		k := slotID{num: t.Slot}
		if t.Slot == 0 {
			k.node = t.NodeID
		}
		s := byKey[k]
		if s == nil {
			s = &slot{key: k, num: t.Slot, nodeID: k.node}
			byKey[k] = s
			out = append(out, s)
		}
		s.tasks = append(s.tasks, t)
	}
	for _, s := range out {
		if len(s.tasks) > 1 {
			sort.SliceStable(s.tasks, func(i, j int) bool { return olderThan(s.tasks[i], s.tasks[j]) })
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].num != out[j].num {
			return out[i].num < out[j].num
		}
		return out[i].nodeID < out[j].nodeID
	})
	return out
}

// olderThan orders a slot's tasks by creation: by the log index that
// created them when known (command times may tie, or go backwards when
// leadership moves to a manager whose clock is behind), else by time.
func olderThan(a, b *types.Task) bool {
	if a.CreatedIndex != 0 && b.CreatedIndex != 0 && a.CreatedIndex != b.CreatedIndex {
		return a.CreatedIndex < b.CreatedIndex
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	if a.Attempt != b.Attempt {
		return a.Attempt < b.Attempt
	}
	return a.ID < b.ID
}
