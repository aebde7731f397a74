package store

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"sw/cluster/types"
)

// Store holds the replicated state in memory.
type Store struct {
	db *memdb.MemDB

	mu      sync.Mutex
	index   uint64
	changed chan struct{}
	// nodeWatch holds, per node, the channel NodeWatch handed out: closed
	// at the next commit that writes the node or a task on it.
	nodeWatch map[string]chan struct{}
	// journal remembers what the latest commits changed.
	journal journal
	// requests are the request IDs applied lately (guarded by mu).
	requests requestLog
}

// New returns an empty store.
func New() *Store {
	db, err := newMemDB()
	if err != nil {
		panic("store: bad schema: " + err.Error())
	}
	return &Store{db: db, changed: make(chan struct{}), nodeWatch: map[string]chan struct{}{}}
}

// Index returns the log index of the last applied command.
func (s *Store) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// Changed returns a channel that is closed by the next commit. Take it
// before reading the state, so that no commit is missed.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// View returns a read-only snapshot of the state as of now.
func (s *Store) View() *ReadTx {
	s.mu.Lock()
	db, idx := s.db, s.index
	s.mu.Unlock()
	return &ReadTx{tx: db.Txn(false), Index: idx}
}

// Apply applies a command at the given log index: all its changes or none.
// It returns the first change's error, if any. A command whose RequestID
// was applied before is not applied again: it returns the first one's
// result (a write retried after a leader change lands once).
func (s *Store) Apply(index uint64, cmd *Command) error {
	if cmd.RequestID != "" {
		s.mu.Lock()
		rec := s.requests.get(cmd.RequestID)
		s.mu.Unlock()
		if rec != nil {
			s.commitIndex(index)
			return rec.result()
		}
	}
	err := s.applyChanges(index, cmd)
	if cmd.RequestID != "" {
		s.mu.Lock()
		s.requests.add(recordOf(cmd.RequestID, index, cmd.Time, err))
		s.mu.Unlock()
	}
	s.commitIndex(index)
	return err
}

func (s *Store) applyChanges(index uint64, cmd *Command) error {
	s.mu.Lock()
	db := s.db
	s.mu.Unlock()
	base := db.Txn(false)
	tx := db.Txn(true)
	w := writer{tx: tx, base: base, index: index, cmd: cmd}
	for i := range cmd.Changes {
		if err := w.apply(&cmd.Changes[i]); err != nil {
			tx.Abort()
			return err
		}
	}
	tx.Commit()
	s.wakeNodes(w.touched)
	s.mu.Lock()
	s.journal.record(index, w.services, w.everything)
	s.mu.Unlock()
	return nil
}

// ServicesChangedSince returns the services whose row or tasks a commit
// after log index idx wrote, or all=true when it cannot tell or a commit
// wrote what every service depends on (a node, a network, the cluster).
// The leader's orchestrator reconciles just those between full passes.
func (s *Store) ServicesChangedSince(idx uint64) (ids map[string]struct{}, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.journal.since(idx)
}

// NodeWatch returns a channel closed at the next commit that writes the
// node or a task on it (one placed there, changed or deleted), or when a
// snapshot replaces the state; other commits leave it open. A worker's
// session waits on its own assignments with it: check the state after
// taking the channel (ReadTx.NodeChangedSince), then wait.
func (s *Store) NodeWatch(nodeID string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.nodeWatch[nodeID]
	if !ok {
		ch = make(chan struct{})
		s.nodeWatch[nodeID] = ch
	}
	return ch
}

func (s *Store) wakeNodes(ids map[string]struct{}) {
	if len(ids) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range ids {
		if ch, ok := s.nodeWatch[id]; ok {
			close(ch)
			delete(s.nodeWatch, id)
		}
	}
}

// wakeAllNodes closes every node watch (the state was replaced); s.mu held.
func (s *Store) wakeAllNodesLocked() {
	for id, ch := range s.nodeWatch {
		close(ch)
		delete(s.nodeWatch, id)
	}
}

// commitIndex records the applied index and wakes every waiter. A failed
// command still consumes its index so that waiters on it return.
func (s *Store) commitIndex(index uint64) {
	s.mu.Lock()
	if index > s.index {
		s.index = index
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// writer applies changes inside one write transaction.
//
// Tasks — the bulk of big commands — are never read back through the
// write transaction: a go-memdb read of an index already written in the
// same transaction clones that index's radix transaction, which drops its
// cache of copied nodes, so every following write would copy its whole
// path (and a fresh cache) again. Tasks are read instead from base, the
// state before the command, overlaid with this command's own task writes.
type writer struct {
	tx    *memdb.Txn
	base  *memdb.Txn             // read-only: the state before this command
	tasks map[string]*types.Task // tasks this command wrote; nil: deleted
	index uint64
	cmd   *Command
	// touched are the nodes whose row, or a task on which, this command
	// wrote (Store.NodeWatch).
	touched map[string]struct{}
	// services are the services whose row or a task of which this command
	// wrote; everything is set when it wrote what every service depends on
	// (a node, a network, the cluster): the journal (ServicesChangedSince).
	services   map[string]struct{}
	everything bool
}

func (w *writer) touchService(id string) {
	if w.services == nil {
		w.services = map[string]struct{}{}
	}
	w.services[id] = struct{}{}
}

func (w *writer) touch(nodeID string) {
	if nodeID == "" {
		return
	}
	if w.touched == nil {
		w.touched = map[string]struct{}{}
	}
	w.touched[nodeID] = struct{}{}
}

// currentTask returns the stored task as this command has left it so far,
// or nil. The result is shared and must not be modified.
func (w *writer) currentTask(id string) *types.Task {
	if t, ok := w.tasks[id]; ok {
		return t
	}
	return first[types.Task](w.base, tableTasks, indexID, id)
}

func (w *writer) putTask(t *types.Task) error {
	if err := w.insert(tableTasks, t); err != nil {
		return err
	}
	if w.tasks == nil {
		w.tasks = map[string]*types.Task{}
	}
	w.tasks[t.ID] = t
	return nil
}

func (w *writer) deleteTask(id string) error {
	t := w.currentTask(id)
	if t == nil {
		return nil // deletes are idempotent
	}
	if err := w.tx.Delete(tableTasks, t); err != nil {
		return fmt.Errorf("store: delete from %s: %w", tableTasks, err)
	}
	w.touch(t.NodeID)
	w.touchService(t.ServiceID)
	if w.tasks == nil {
		w.tasks = map[string]*types.Task{}
	}
	w.tasks[id] = nil
	return nil
}

func (w *writer) stamp(m *types.Meta, created bool) {
	m.Version = w.index
	m.UpdatedAt = w.cmd.Time
	if created || m.CreatedAt.IsZero() {
		m.CreatedAt = w.cmd.Time
	}
}

func (w *writer) insert(table string, obj any) error {
	if err := w.tx.Insert(table, obj); err != nil {
		return fmt.Errorf("store: insert into %s: %w", table, err)
	}
	switch o := obj.(type) {
	case *types.Task:
		w.touch(o.NodeID) // a task's node is set once, never changed
		w.touchService(o.ServiceID)
	case *types.Node:
		w.touch(o.ID)
		w.everything = true
	case *types.Service:
		w.touchService(o.ID)
	default: // the cluster, a network
		w.everything = true
	}
	return nil
}

func (w *writer) apply(c *Change) error {
	switch {
	case c.PutCluster != nil:
		return w.putCluster(c.PutCluster)
	case c.PutNode != nil:
		return w.putNode(c.PutNode)
	case c.DeleteNode != "":
		return w.delete(tableNodes, c.DeleteNode)
	case c.NodeState != nil:
		return w.nodeState(c.NodeState)
	case c.UpdateNode != nil:
		return w.updateNode(c.UpdateNode)
	case c.CreateService != nil:
		return w.createService(c.CreateService)
	case c.UpdateService != nil:
		return w.updateService(c.UpdateService)
	case c.DeleteService != "":
		return w.delete(tableServices, c.DeleteService)
	case c.ServiceProblem != nil:
		return w.serviceProblem(c.ServiceProblem)
	case c.RollbackService != nil:
		return w.rollbackService(c.RollbackService)
	case c.UpdateStatus != nil:
		return w.updateStatus(c.UpdateStatus)
	case c.CreateTask != nil:
		return w.createTask(c.CreateTask)
	case c.TaskStatus != nil:
		return w.taskStatus(c.TaskStatus)
	case c.TaskDesired != nil:
		return w.taskDesired(c.TaskDesired)
	case c.AssignTask != nil:
		return w.assignTask(c.AssignTask)
	case c.DeleteTask != "":
		return w.deleteTask(c.DeleteTask)
	case c.CreateNetwork != nil:
		return w.createNetwork(c.CreateNetwork)
	case c.DeleteNetwork != "":
		return w.deleteNetwork(c.DeleteNetwork)
	case c.Allocate != nil:
		return w.allocate(c.Allocate)
	}
	return errEmptyChange
}

func (w *writer) delete(table, id string) error {
	// Deleting what is already gone is not an error: deletes are idempotent.
	if _, err := w.tx.DeleteAll(table, indexID, id); err != nil {
		return fmt.Errorf("store: delete from %s: %w", table, err)
	}
	switch table {
	case tableNodes:
		w.touch(id)
		w.everything = true
	case tableServices:
		w.touchService(id)
	default:
		w.everything = true
	}
	return nil
}

func (w *writer) putCluster(c *types.Cluster) error {
	v := *c
	created := true
	if old, _ := w.tx.First(tableCluster, indexID, c.ID); old != nil {
		v.CreatedAt = old.(*types.Cluster).CreatedAt
		created = false
	}
	w.stamp(&v.Meta, created)
	return w.insert(tableCluster, &v)
}

func (w *writer) putNode(n *types.Node) error {
	v := *n
	created := true
	if old, _ := w.tx.First(tableNodes, indexID, n.ID); old != nil {
		v.CreatedAt = old.(*types.Node).CreatedAt
		// The node's addresses are the allocator's, not the writer's.
		v.Attachments = old.(*types.Node).Attachments
		created = false
	} else {
		v.Attachments = nil
	}
	w.stamp(&v.Meta, created)
	return w.insert(tableNodes, &v)
}

func (w *writer) node(id string) *types.Node {
	raw, _ := w.tx.First(tableNodes, indexID, id)
	if raw == nil {
		return nil
	}
	v := *raw.(*types.Node)
	return &v
}

func (w *writer) nodeState(u *NodeStateFrom) error {
	n := w.node(u.NodeID)
	if n == nil || (n.State == u.State && n.StateMessage == u.Message) {
		return nil
	}
	n.State, n.StateMessage = u.State, u.Message
	w.stamp(&n.Meta, false)
	return w.insert(tableNodes, n)
}

func (w *writer) updateNode(u *NodeUpdate) error {
	n := w.node(u.NodeID)
	if n == nil {
		return &NotFoundError{Kind: "node", Ref: u.NodeID}
	}
	if u.Role != nil {
		n.Role = *u.Role
		if n.Role == types.RoleWorker {
			n.ManagerAddr = ""
		}
	}
	if u.Availability != nil {
		n.Availability = *u.Availability
	}
	if u.SetLabels {
		n.Labels = u.Labels
	}
	if u.ManagerAddr != "" && n.Role == types.RoleManager {
		n.ManagerAddr = u.ManagerAddr
	}
	w.stamp(&n.Meta, false)
	return w.insert(tableNodes, n)
}

func (w *writer) createService(s *types.Service) error {
	// The ID first: a create whose service is already there is this very
	// request again (IDs are random and made once per request), from
	// before its request ID was forgotten; it succeeds, changing nothing.
	if raw, _ := w.tx.First(tableServices, indexID, s.ID); raw != nil {
		if raw.(*types.Service).Spec.Name == s.Spec.Name {
			return nil
		}
		return fmt.Errorf("%w: service %s", ErrExists, s.ID)
	}
	if old, _ := w.tx.First(tableServices, indexName, s.Spec.Name); old != nil {
		return Errorf(ErrNameInUse, "service %q already exists", s.Spec.Name)
	}
	if err := w.checkAddrs(s); err != nil {
		return err
	}
	v := *s
	v.SpecVersion = 1
	v.PreviousSpec = nil
	v.VirtualIPs = nil // the allocator's
	w.stamp(&v.Meta, true)
	return w.insert(tableServices, &v)
}

// checkAddrs refuses a service whose virtual IP or published port another
// service has: validation saw an older state, and two writers racing
// would otherwise both get the same address.
func (w *writer) checkAddrs(s *types.Service) error {
	it, err := w.tx.Get(tableServices, indexID)
	if err != nil {
		return err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		o := raw.(*types.Service)
		if o.ID == s.ID {
			continue
		}
		for _, p := range s.Spec.Ports {
			for _, op := range o.Spec.Ports {
				if p.PublishedPort != 0 && p.PublishedPort == op.PublishedPort && p.Protocol == op.Protocol {
					return Errorf(ErrAddrInUse, "port %d/%s is already in use by service %q", p.PublishedPort, p.Protocol, o.Spec.Name)
				}
			}
		}
	}
	return nil
}

// newAddrs is s with only the addresses old did not have: an update is
// refused for taking an address, never for keeping one.
func newAddrs(old, s *types.Service) *types.Service {
	n := &types.Service{ID: s.ID}
	for _, p := range s.Spec.Ports {
		kept := false
		for _, op := range old.Spec.Ports {
			kept = kept || p.PublishedPort == op.PublishedPort && p.Protocol == op.Protocol
		}
		if !kept {
			n.Spec.Ports = append(n.Spec.Ports, p)
		}
	}
	return n
}

func (w *writer) updateService(s *types.Service) error {
	raw, _ := w.tx.First(tableServices, indexID, s.ID)
	if raw == nil {
		return &NotFoundError{Kind: "service", Ref: s.ID}
	}
	old := raw.(*types.Service)
	if old.Version != s.Version {
		return Errorf(ErrConflict, "service %s was changed concurrently; retry", old.Spec.Name)
	}
	if err := w.checkAddrs(newAddrs(old, s)); err != nil {
		return err
	}
	if s.Spec.Name != old.Spec.Name {
		if other, _ := w.tx.First(tableServices, indexName, s.Spec.Name); other != nil {
			return Errorf(ErrNameInUse, "service %q already exists", s.Spec.Name)
		}
	}
	v := *old
	if !reflect.DeepEqual(old.Spec, s.Spec) {
		// An update that changes nothing (one that resumes a paused
		// rollout) keeps what a rollback goes back to.
		prev := old.Spec
		v.PreviousSpec, v.PreviousSpecVersion = &prev, old.SpecVersion
	}
	v.Spec = s.Spec
	now := w.cmd.Time
	switch {
	case s.SpecVersion > old.SpecVersion:
		// New tasks are called for: a version no spec had (a rollback
		// moved SpecVersion back below the top), and a rollout.
		v.SpecVersion = max(old.TopSpecVersion, old.SpecVersion) + 1
		v.TopSpecVersion = v.SpecVersion
		if !s.Spec.Mode.Job() { // a job runs again; there is no rollout
			v.UpdateStatus = &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: &now, Message: "update in progress"}
		}
	case old.UpdateStatus != nil && old.UpdateStatus.State.Paused():
		// Any update of a paused service resumes its rollout, as
		// Docker's does; failures before now no longer count.
		v.UpdateStatus = &types.UpdateStatus{State: types.UpdateUpdating, StartedAt: &now, Message: "update in progress"}
	}
	w.stamp(&v.Meta, false)
	return w.insert(tableServices, &v)
}

func (w *writer) rollbackService(r *ServiceRollback) error {
	raw, _ := w.tx.First(tableServices, indexID, r.ServiceID)
	if raw == nil {
		return &NotFoundError{Kind: "service", Ref: r.ServiceID}
	}
	old := raw.(*types.Service)
	if r.FromSpecVersion != 0 && r.FromSpecVersion != old.SpecVersion {
		return nil // the orchestrator's, about a spec since replaced
	}
	if r.Version != 0 && r.Version != old.Version {
		return Errorf(ErrConflict, "service %s was changed concurrently; retry", old.Spec.Name)
	}
	if old.PreviousSpec == nil {
		return Errorf(ErrNoPrevious, "service %s has no previous spec to roll back to", old.Spec.Name)
	}
	back := &types.Service{ID: old.ID, Spec: *old.PreviousSpec}
	if err := w.checkAddrs(newAddrs(old, back)); err != nil {
		return err
	}
	v := *old
	cur := old.Spec
	v.Spec, v.PreviousSpec = *old.PreviousSpec, &cur
	v.TopSpecVersion = max(old.TopSpecVersion, old.SpecVersion)
	v.SpecVersion, v.PreviousSpecVersion = old.PreviousSpecVersion, old.SpecVersion
	if v.SpecVersion == 0 {
		// A previous spec stored before its version was: a new version.
		v.SpecVersion = v.TopSpecVersion + 1
		v.TopSpecVersion = v.SpecVersion
	}
	now := w.cmd.Time
	v.UpdateStatus = &types.UpdateStatus{State: types.UpdateRollbackStarted, StartedAt: &now, Message: r.Message}
	w.stamp(&v.Meta, false)
	return w.insert(tableServices, &v)
}

func (w *writer) updateStatus(u *ServiceUpdateStatus) error {
	raw, _ := w.tx.First(tableServices, indexID, u.ServiceID)
	if raw == nil || raw.(*types.Service).SpecVersion != u.SpecVersion {
		return nil
	}
	// Not stamped, as a reconcile problem is not: a user's update racing
	// the orchestrator's report does not conflict with it.
	v := *raw.(*types.Service)
	st := u.Status
	v.UpdateStatus = &st
	return w.insert(tableServices, &v)
}

func (w *writer) serviceProblem(p *ServiceProblem) error {
	raw, _ := w.tx.First(tableServices, indexID, p.ServiceID)
	if raw == nil || raw.(*types.Service).ReconcileError == p.Message {
		return nil
	}
	// Not stamped: the service's Version and UpdatedAt follow its spec, so
	// a user's update racing the report does not conflict with it.
	v := *raw.(*types.Service)
	v.ReconcileError = p.Message
	return w.insert(tableServices, &v)
}

func (w *writer) createTask(t *types.Task) error {
	if w.currentTask(t.ID) != nil {
		return fmt.Errorf("%w: task %s", ErrExists, t.ID)
	}
	v := *t
	w.stamp(&v.Meta, true)
	v.CreatedIndex = w.index
	if v.Status.Timestamp.IsZero() {
		v.Status.Timestamp = w.cmd.Time
	}
	return w.putTask(&v)
}

// task loads a copy of a task for modification; a missing task is not an
// error for status-like changes, which may race with deletion.
func (w *writer) task(id string) *types.Task {
	cur := w.currentTask(id)
	if cur == nil {
		return nil
	}
	v := *cur
	return &v
}

func (w *writer) taskStatus(u *TaskStatusFrom) error {
	t := w.task(u.TaskID)
	if t == nil || t.NodeID != u.NodeID || !t.Status.State.CanMoveTo(u.Status.State) {
		return nil // stale or backwards: dropped, by the state rule
	}
	st := u.Status
	if st.ContainerID == "" {
		st.ContainerID = t.Status.ContainerID
	}
	if st.Addr == "" && !st.State.Terminal() {
		st.Addr = t.Status.Addr
	}
	if st.State == types.TaskRunning {
		t.RunningAt = w.cmd.Time
	}
	if st.State.Terminal() {
		t.EndedAt = w.cmd.Time
	}
	t.Status = st
	w.stamp(&t.Meta, false)
	return w.putTask(t)
}

func (w *writer) taskDesired(u *TaskDesiredFrom) error {
	t := w.task(u.TaskID)
	if t == nil || !t.DesiredState.CanDesire(u.State) {
		return nil
	}
	t.DesiredState = u.State
	w.stamp(&t.Meta, false)
	return w.putTask(t)
}

func (w *writer) assignTask(a *TaskAssignment) error {
	t := w.task(a.TaskID)
	// Dropped when the task is already placed, or no longer wanted: the
	// scheduler decided on a view older than the desire to stop it, and
	// placing it now would start a task the orchestrator stopped.
	if t == nil || t.Status.State >= types.TaskAssigned || t.DesiredState > types.TaskRunning {
		return nil
	}
	samePending := a.Status.State == types.TaskPending && t.Status.State == types.TaskPending
	if !samePending && !t.Status.State.CanMoveTo(a.Status.State) {
		return nil
	}
	if a.NodeID != "" {
		t.NodeID = a.NodeID
	}
	t.Status = a.Status
	if t.Status.Timestamp.IsZero() {
		t.Status.Timestamp = w.cmd.Time
	}
	w.stamp(&t.Meta, false)
	return w.putTask(t)
}

// WaitPast blocks until the store has applied an index beyond idx, max has
// passed, or ctx ends (a blocking query's wait).
func (s *Store) WaitPast(ctx context.Context, idx uint64, max time.Duration) {
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		ch := s.Changed()
		if s.Index() > idx {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
