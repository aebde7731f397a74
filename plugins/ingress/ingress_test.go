package ingress

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
	"sw/loadbalancer"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// newStore returns a store and a proposer that commits straight into it.
func newStore(t *testing.T) (*store.Store, *store.Local) {
	t.Helper()
	st := store.New()
	return st, &store.Local{Store: st, Now: func() time.Time { return t0 }}
}

func propose(t *testing.T, l *store.Local, changes ...store.Change) {
	t.Helper()
	if err := l.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		t.Fatalf("propose: %v", err)
	}
}

func service(id, name string, ports ...types.PortConfig) *types.Service {
	return &types.Service{ID: id, Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: 1,
		Container: types.ContainerSpec{Image: "nginx"}, Ports: ports}}
}

func port(proto string, published, target uint16) types.PortConfig {
	return types.PortConfig{Protocol: proto, PublishedPort: published, TargetPort: target, PublishMode: "ingress"}
}

func task(id, serviceID string, slot uint64, desired, state types.TaskState, addr string) *types.Task {
	return &types.Task{ID: id, ServiceID: serviceID, ServiceName: serviceID, Slot: slot, NodeID: "node1",
		SpecVersion: 1, DesiredState: desired, Status: types.TaskStatus{State: state, Addr: addr}}
}

// populate stores services web (8080->80/tcp, 5353->53/udp), api
// (9000->9000/tcp, no task yet) and worker (no ports), and tasks in
// various states.
func populate(t *testing.T) *store.Store {
	t.Helper()
	st, l := newStore(t)
	propose(t, l,
		store.Change{CreateService: service("svc-web", "web", port("tcp", 8080, 80), port("udp", 5353, 53))},
		store.Change{CreateService: service("svc-api", "api", port("tcp", 9000, 9000))},
		store.Change{CreateService: service("svc-worker", "worker")},
	)
	run, stop := types.TaskRunning, types.TaskShutdown
	propose(t, l,
		store.Change{CreateTask: task("t01", "svc-web", 1, run, types.TaskRunning, "10.0.0.1")},
		store.Change{CreateTask: task("t02", "svc-web", 2, run, types.TaskRunning, "10.0.0.2")},
		store.Change{CreateTask: task("t03", "svc-web", 3, run, types.TaskRunning, "fd00::3")},
		// Not serving: stopping, starting, no address yet, stopped.
		store.Change{CreateTask: task("t04", "svc-web", 4, stop, types.TaskRunning, "10.0.0.4")},
		store.Change{CreateTask: task("t05", "svc-web", 5, types.TaskRemove, types.TaskRunning, "10.0.0.5")},
		store.Change{CreateTask: task("t06", "svc-web", 6, run, types.TaskStarting, "10.0.0.6")},
		store.Change{CreateTask: task("t07", "svc-web", 7, run, types.TaskRunning, "")},
		store.Change{CreateTask: task("t08", "svc-web", 1, stop, types.TaskFailed, "10.0.0.8")},
		store.Change{CreateTask: task("t09", "svc-web", 2, stop, types.TaskComplete, "10.0.0.9")},
		// Another service's tasks never back web's ports.
		store.Change{CreateTask: task("t10", "svc-worker", 1, run, types.TaskRunning, "10.0.1.1")},
	)
	return st
}

func TestFrontends(t *testing.T) {
	st := populate(t)
	tests := []struct {
		name        string
		ingressAddr string
		want        map[loadbalancer.Frontend][]string
	}{
		{name: "all addresses", ingressAddr: "",
			want: map[loadbalancer.Frontend][]string{
				{Proto: "tcp", Addr: ":8080"}: {"10.0.0.1:80", "10.0.0.2:80", "[fd00::3]:80"},
				{Proto: "udp", Addr: ":5353"}: {"10.0.0.1:53", "10.0.0.2:53", "[fd00::3]:53"},
				{Proto: "tcp", Addr: ":9000"}: {},
			}},
		{name: "one IPv4 address", ingressAddr: "192.168.1.5",
			want: map[loadbalancer.Frontend][]string{
				{Proto: "tcp", Addr: "192.168.1.5:8080"}: {"10.0.0.1:80", "10.0.0.2:80", "[fd00::3]:80"},
				{Proto: "udp", Addr: "192.168.1.5:5353"}: {"10.0.0.1:53", "10.0.0.2:53", "[fd00::3]:53"},
				{Proto: "tcp", Addr: "192.168.1.5:9000"}: {},
			}},
		{name: "one IPv6 address", ingressAddr: "::1",
			want: map[loadbalancer.Frontend][]string{
				{Proto: "tcp", Addr: "[::1]:8080"}: {"10.0.0.1:80", "10.0.0.2:80", "[fd00::3]:80"},
				{Proto: "udp", Addr: "[::1]:5353"}: {"10.0.0.1:53", "10.0.0.2:53", "[fd00::3]:53"},
				{Proto: "tcp", Addr: "[::1]:9000"}: {},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Frontends(st.View(), tt.ingressAddr, "")
			for fe, backends := range got {
				if backends == nil {
					t.Errorf("%s: nil backends, want an empty list", fe)
				}
				slices.Sort(backends)
			}
			for _, backends := range tt.want {
				slices.Sort(backends)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Frontends(%q):\n got %v\nwant %v", tt.ingressAddr, got, tt.want)
			}
		})
	}
}

func TestFrontendsEmptyStore(t *testing.T) {
	st, _ := newStore(t)
	if got := Frontends(st.View(), "", ""); len(got) != 0 {
		t.Errorf("Frontends of an empty store = %v, want none", got)
	}
}

// A task's status change shows in the next view's backends.
func TestFrontendsFollowTaskStatus(t *testing.T) {
	st, l := newStore(t)
	propose(t, l, store.Change{CreateService: service("svc-web", "web", port("tcp", 8080, 80))})
	propose(t, l, store.Change{CreateTask: task("t1", "svc-web", 1, types.TaskRunning, types.TaskStarting, "")})
	fe := loadbalancer.Frontend{Proto: "tcp", Addr: ":8080"}
	if got := Frontends(st.View(), "", "")[fe]; len(got) != 0 {
		t.Fatalf("starting task serves: %v", got)
	}
	propose(t, l, store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: "t1", NodeID: "node1",
		Status: types.TaskStatus{State: types.TaskRunning, Addr: "10.0.0.7"}}})
	if got := Frontends(st.View(), "", "")[fe]; !reflect.DeepEqual(got, []string{"10.0.0.7:80"}) {
		t.Fatalf("running task: backends %v", got)
	}
	propose(t, l, store.Change{TaskDesired: &store.TaskDesiredFrom{TaskID: "t1", State: types.TaskShutdown}})
	if got := Frontends(st.View(), "", "")[fe]; len(got) != 0 {
		t.Fatalf("task told to stop still serves: %v", got)
	}
}

func TestServing(t *testing.T) {
	tests := []struct {
		desired, state types.TaskState
		addr           string
		want           bool
	}{
		{types.TaskRunning, types.TaskRunning, "10.0.0.1", true},
		{types.TaskRunning, types.TaskRunning, "", false},
		{types.TaskShutdown, types.TaskRunning, "10.0.0.1", false},
		{types.TaskRemove, types.TaskRunning, "10.0.0.1", false},
		{types.TaskRunning, types.TaskStarting, "10.0.0.1", false},
		{types.TaskRunning, types.TaskFailed, "10.0.0.1", false},
		{types.TaskRunning, types.TaskComplete, "10.0.0.1", false},
	}
	for _, tt := range tests {
		tk := task("t", "s", 1, tt.desired, tt.state, tt.addr)
		if got := tk.Serving(); got != tt.want {
			t.Errorf("serving(desired %s, state %s, addr %q) = %v, want %v", tt.desired, tt.state, tt.addr, got, tt.want)
		}
	}
}

func TestValidateService(t *testing.T) {
	st, l := newStore(t)
	propose(t, l,
		store.Change{CreateService: service("svc-web", "web", port("tcp", 8080, 80))},
		store.Change{CreateService: service("svc-dns", "dns", port("udp", 53, 53), port("tcp", 5300, 53))},
		store.Change{CreateService: service("svc-worker", "worker")},
	)
	view := st.View()
	web, dns := view.Service("svc-web"), view.Service("svc-dns")
	spec := func(ports ...types.PortConfig) *types.ServiceSpec {
		return &types.ServiceSpec{Name: "new", Mode: types.ModeReplicated, Replicas: 1,
			Container: types.ContainerSpec{Image: "nginx"}, Ports: ports}
	}
	tests := []struct {
		name    string
		spec    *types.ServiceSpec
		old     *types.Service
		wantErr string
	}{
		{name: "no ports", spec: spec()},
		{name: "free port", spec: spec(port("tcp", 9000, 80))},
		{name: "conflict with another service", spec: spec(port("tcp", 8080, 8080)),
			wantErr: `ingress: port 8080/tcp is already in use by service "web"`},
		{name: "conflict on a later port", spec: spec(port("tcp", 9000, 80), port("tcp", 5300, 53)),
			wantErr: `port 5300/tcp is already in use by service "dns"`},
		{name: "different protocol allowed", spec: spec(port("udp", 8080, 80))},
		{name: "udp conflict", spec: spec(port("udp", 53, 5353)),
			wantErr: `port 53/udp is already in use by service "dns"`},
		{name: "same service on update allowed", spec: &web.Spec, old: web},
		{name: "update keeping its port and adding a free one",
			spec: spec(port("tcp", 8080, 80), port("tcp", 8443, 443)), old: web},
		{name: "update taking another service's port", spec: spec(port("tcp", 8080, 80)), old: dns,
			wantErr: `port 8080/tcp is already in use by service "web"`},
		{name: "update of a service with no ports", spec: spec(port("udp", 53, 53)), old: view.Service("svc-worker"),
			wantErr: `already in use by service "dns"`},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.ValidateService(view, tt.spec, tt.old)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateService: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateService = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateServiceEmptyStore(t *testing.T) {
	st, _ := newStore(t)
	s := &types.ServiceSpec{Name: "web", Ports: []types.PortConfig{port("tcp", 80, 80)}}
	if err := New().ValidateService(st.View(), s, nil); err != nil {
		t.Errorf("ValidateService on an empty store: %v", err)
	}
}

func TestPluginIdentity(t *testing.T) {
	p := New()
	if p.Name() != "ingress" {
		t.Errorf("Name() = %q", p.Name())
	}
	if p.Description() == "" {
		t.Error("no description")
	}
}
