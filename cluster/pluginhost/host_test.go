package pluginhost

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

// fakePlugin records its node runs and can panic, fail or refuse specs.
type fakePlugin struct {
	name    string
	off     bool
	running atomic.Int32
	starts  atomic.Int32
	panics  atomic.Int32 // how many of the next starts panic
	refuse  bool
}

func (p *fakePlugin) Name() string          { return p.name }
func (p *fakePlugin) Description() string   { return "fake " + p.name }
func (p *fakePlugin) DefaultDisabled() bool { return p.off }
func (p *fakePlugin) Claims(s *types.ServiceSpec) (string, bool) {
	return "labels", len(s.Labels) > 0
}
func (p *fakePlugin) ValidateService(_ *store.ReadTx, s *types.ServiceSpec, _ *types.Service) error {
	if p.refuse {
		return errors.New(p.name + ": refused")
	}
	return nil
}
func (p *fakePlugin) RunNode(ctx context.Context, _ hooks.Host) error {
	p.starts.Add(1)
	if p.panics.Add(-1) >= 0 {
		panic("boom")
	}
	p.running.Add(1)
	defer p.running.Add(-1)
	<-ctx.Done()
	return nil
}

func testHost(ps ...hooks.Plugin) *Host {
	return &Host{Plugins: ps, Log: slog.New(slog.DiscardHandler)}
}

// nodeHost is what the fake plugins' runners are given: the store and the
// log, as the daemon's own host gives them.
type nodeHost struct {
	hooks.Host
	store *store.Store
	log   *slog.Logger
}

func (h *nodeHost) Store() *store.Store  { return h.store }
func (h *nodeHost) Logger() *slog.Logger { return h.log }

func TestInitialPlugins(t *testing.T) {
	a, b := &fakePlugin{name: "a"}, &fakePlugin{name: "b", off: true}
	h := testHost(a, b)
	cases := []struct {
		on, off []string
		want    map[string]bool
		err     string
	}{
		{nil, nil, map[string]bool{"a": true, "b": false}, ""},
		{[]string{"b"}, []string{"a"}, map[string]bool{"a": false, "b": true}, ""},
		{[]string{"zz"}, nil, nil, `unknown plugin "zz"`},
	}
	for _, c := range cases {
		got, err := h.Initial(c.on, c.off)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("initialPlugins(%v, %v) error %v, want %q", c.on, c.off, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) || got["a"] != c.want["a"] || got["b"] != c.want["b"] {
			t.Errorf("initialPlugins(%v, %v) = %v, %v; want %v", c.on, c.off, got, err, c.want)
		}
	}
}

func newPluginStore(t *testing.T, set map[string]bool) (*store.Store, *store.Local) {
	t.Helper()
	st := store.New()
	l := &store.Local{Store: st}
	if err := l.Propose(context.Background(), &store.Command{Changes: []store.Change{{PutCluster: &types.Cluster{ID: "c", Plugins: set}}}}); err != nil {
		t.Fatal(err)
	}
	return st, l
}

// TestCheckPlugins: validators run only while enabled, in order; a
// disabled plugin's feature is refused by name.
func TestCheckPlugins(t *testing.T) {
	a, b := &fakePlugin{name: "a", refuse: true}, &fakePlugin{name: "b", refuse: true}
	h := testHost(a, b)
	spec := &types.ServiceSpec{Name: "s", Labels: map[string]string{"k": "v"}}
	st, _ := newPluginStore(t, map[string]bool{"a": true, "b": true})
	if err := h.ValidateService(st.View(), spec, nil); err == nil || err.Error() != "a: refused" {
		t.Fatalf("first enabled validator should refuse first: %v", err)
	}
	st, _ = newPluginStore(t, map[string]bool{"a": false, "b": true})
	if err := h.ValidateService(st.View(), spec, nil); err == nil || !strings.Contains(err.Error(), "plugin a is disabled") {
		t.Fatalf("disabled plugin's feature: %v", err)
	}
	if err := h.ValidateService(st.View(), &types.ServiceSpec{Name: "plain"}, nil); err == nil || err.Error() != "b: refused" {
		t.Fatalf("a disabled plugin must not validate; b still does: %v", err)
	}
}

// TestSuperviseNodeRunners: runners follow the swarm's switches at
// runtime, and a panicking plugin does not take the others down.
func TestSuperviseNodeRunners(t *testing.T) {
	a, bad := &fakePlugin{name: "a"}, &fakePlugin{name: "bad"}
	bad.panics.Store(1)
	h := testHost(bad, a)
	st, l := newPluginStore(t, map[string]bool{"a": true, "bad": true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.SuperviseRunners(ctx, st, &nodeHost{store: st, log: h.Log})
	}()
	eventually(t, "a running", func() bool { return a.running.Load() == 1 })
	// The plugin that panicked is started again after a backoff.
	eventually(t, "bad restarted", func() bool { return bad.running.Load() == 1 && bad.starts.Load() == 2 })
	set := func(on bool) {
		c := *st.View().Cluster()
		c.Plugins = map[string]bool{"a": on, "bad": true}
		if err := l.Propose(ctx, &store.Command{Changes: []store.Change{{PutCluster: &c}}}); err != nil {
			t.Fatal(err)
		}
	}
	set(false)
	eventually(t, "a stopped", func() bool { return a.running.Load() == 0 })
	set(true)
	eventually(t, "a restarted", func() bool { return a.running.Load() == 1 && a.starts.Load() == 2 })
	cancel()
	<-done
	if a.running.Load() != 0 {
		t.Fatal("runner still running after the supervisor stopped")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
