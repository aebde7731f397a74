package ingress

import (
	"context"
	"strings"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
	"sw/loadbalancer"
)

func portsStore(t *testing.T, svcs ...*types.Service) *store.Store {
	t.Helper()
	st := store.New()
	l := &store.Local{Store: st}
	for _, s := range svcs {
		if err := l.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateService: s}}}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func svc(id string, ports ...types.PortConfig) *types.Service {
	return &types.Service{ID: id, Spec: types.ServiceSpec{Name: id, Ports: ports}}
}

func pc(pub, target uint16, proto string) types.PortConfig {
	return types.PortConfig{PublishedPort: pub, TargetPort: target, Protocol: proto}
}

// TestMutateServicePicksPorts: missing published ports get the lowest free
// one of 30000-32767 per protocol; an update keeps what the service had.
func TestMutateServicePicksPorts(t *testing.T) {
	st := portsStore(t, svc("a", pc(30000, 80, "tcp")), svc("b", pc(30001, 80, "tcp"), pc(30000, 53, "udp")))
	p := New()
	cases := []struct {
		name string
		in   []types.PortConfig
		old  *types.Service
		want []uint16
	}{
		{"skips ports in use", []types.PortConfig{pc(0, 8080, "tcp")}, nil, []uint16{30002}},
		{"per protocol", []types.PortConfig{pc(0, 53, "udp"), pc(0, 54, "udp")}, nil, []uint16{30001, 30002}},
		{"given ports kept and avoided", []types.PortConfig{pc(30002, 1, "tcp"), pc(0, 2, "tcp")}, nil, []uint16{30002, 30003}},
		{"update keeps its own", []types.PortConfig{pc(0, 80, "tcp")}, st.View().Service("b"), []uint16{30001}},
	}
	for _, c := range cases {
		spec := &types.ServiceSpec{Name: "x", Ports: append([]types.PortConfig{}, c.in...)}
		if err := p.MutateService(st.View(), spec, c.old); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i, w := range c.want {
			if spec.Ports[i].PublishedPort != w {
				t.Errorf("%s: port %d = %d, want %d", c.name, i, spec.Ports[i].PublishedPort, w)
			}
		}
	}
}

func TestMutateServiceRangeFull(t *testing.T) {
	var ports []types.PortConfig
	for p := FirstAutoPort; p <= LastAutoPort; p++ {
		ports = append(ports, pc(uint16(p), 80, "tcp"))
	}
	st := portsStore(t, svc("full", ports...))
	spec := &types.ServiceSpec{Name: "x", Ports: []types.PortConfig{pc(0, 80, "tcp")}}
	if err := New().MutateService(st.View(), spec, nil); err == nil || !strings.Contains(err.Error(), "no free port") {
		t.Fatalf("full range: %v", err)
	}
}

// TestFrontendsHostMode: a host-mode port listens only on nodes running
// one of its tasks, backed by those local tasks alone.
func TestFrontendsHostMode(t *testing.T) {
	st := store.New()
	l := &store.Local{Store: st}
	ctx := context.Background()
	host := types.PortConfig{PublishedPort: 9000, TargetPort: 80, Protocol: "tcp", PublishMode: "host"}
	changes := []store.Change{{CreateService: svc("h", host)}}
	for i, n := range []string{"n1", "n2"} {
		changes = append(changes, store.Change{CreateTask: &types.Task{ID: "t" + n, ServiceID: "h", NodeID: n, Slot: uint64(i + 1),
			DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskRunning, Addr: "10.0.0." + string(rune('1'+i))}}})
	}
	if err := l.Propose(ctx, &store.Command{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	got := Frontends(st.View(), "127.0.0.1", "n1")
	if len(got) != 1 || strings.Join(got[loadbalancer.Frontend{Proto: "tcp", Addr: "127.0.0.1:9000"}], ",") != "10.0.0.1:80" {
		t.Fatalf("n1 frontends: %v", got)
	}
	if got := Frontends(st.View(), "127.0.0.1", "n3"); len(got) != 0 {
		t.Fatalf("a node without tasks must not listen in host mode: %v", got)
	}
}
