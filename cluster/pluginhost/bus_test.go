package pluginhost

import (
	"context"
	"sync"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

// watcher records the lifecycle hooks it hears; it can panic on each.
type watcher struct {
	name  string
	boom  bool
	mu    sync.Mutex
	heard []string
}

func (w *watcher) Name() string        { return w.name }
func (w *watcher) Description() string { return "watcher" }
func (w *watcher) note(s string) {
	w.mu.Lock()
	w.heard = append(w.heard, s)
	w.mu.Unlock()
	if w.boom {
		panic("hook failed")
	}
}
func (w *watcher) got() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.heard...)
}
func (w *watcher) NodeJoined(_ context.Context, n *types.Node) { w.note("joined " + n.ID) }
func (w *watcher) NodeLeft(_ context.Context, n *types.Node)   { w.note("left " + n.ID) }
func (w *watcher) ServiceCreated(_ context.Context, s *types.Service) {
	w.note("created " + s.Spec.Name)
}
func (w *watcher) ServiceUpdated(_ context.Context, _, s *types.Service) {
	w.note("updated " + s.Spec.Name)
}
func (w *watcher) ServiceRemoved(_ context.Context, s *types.Service) {
	w.note("removed " + s.Spec.Name)
}
func (w *watcher) TaskStarted(_ context.Context, t *types.Task) { w.note("started " + t.ID) }
func (w *watcher) TaskStopped(_ context.Context, t *types.Task) { w.note("stopped " + t.ID) }
func (w *watcher) LeaderElected(context.Context)                { w.note("elected") }
func (w *watcher) LeaderRevoked(context.Context)                { w.note("revoked") }

// TestHookBus: enabled plugins hear committed changes in order; a
// panicking plugin does not stop the others; a disabled one hears nothing.
func TestHookBus(t *testing.T) {
	bad, good, off := &watcher{name: "bad", boom: true}, &watcher{name: "good"}, &watcher{name: "off"}
	h := testHost(bad, good, off)
	st, l := newPluginStore(t, map[string]bool{"bad": true, "good": true, "off": false})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.WatchEvents(ctx, st, "n1")
	// The bus compares successive states, so changes made between two of
	// its looks are seen together: wait for each event before the next.
	propose := func(ch ...store.Change) {
		before := len(good.got())
		if err := l.Propose(ctx, &store.Command{Changes: ch}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the event delivered", func() bool { return len(good.got()) > before })
	}
	propose(store.Change{PutNode: &types.Node{ID: "n1", State: types.NodeReady}})
	propose(store.Change{CreateService: &types.Service{ID: "s", Spec: types.ServiceSpec{Name: "web"}}})
	if err := l.Propose(ctx, &store.Command{Changes: []store.Change{{CreateTask: &types.Task{ID: "t1", ServiceID: "s", NodeID: "n1",
		Slot: 1, DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskAssigned}}}}}); err != nil {
		t.Fatal(err)
	}
	propose(store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskRunning}}})
	propose(store.Change{DeleteService: "s"})
	want := []string{"joined n1", "created web", "started t1", "removed web"}
	eventually(t, "the good plugin heard everything", func() bool { return len(good.got()) >= len(want) })
	for i, w := range want {
		if got := good.got(); got[i] != w {
			t.Fatalf("good heard %v, want %v", got, want)
		}
	}
	if len(bad.got()) != len(want) {
		t.Fatalf("the panicking plugin should still be called for each event: %v", bad.got())
	}
	if len(off.got()) != 0 {
		t.Fatalf("a disabled plugin heard %v", off.got())
	}
	h.Leader(ctx, st.View(), true)
	h.Leader(ctx, st.View(), false)
	if got := good.got(); got[len(got)-2] != "elected" || got[len(got)-1] != "revoked" {
		t.Fatalf("leader hooks: %v", got)
	}
}
