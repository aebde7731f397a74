package dns

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
	"sw/loadbalancer/nat"
)

func newStore(t *testing.T) (*store.Store, *store.Local) {
	t.Helper()
	st := store.New()
	return st, &store.Local{Store: st, Now: func() time.Time { return time.Unix(0, 0) }}
}

func propose(t *testing.T, l *store.Local, changes ...store.Change) {
	t.Helper()
	if err := l.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		t.Fatalf("propose: %v", err)
	}
}

func service(id, name string, mode types.EndpointMode, vip string) *types.Service {
	s := &types.Service{ID: id, Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: 1,
		Container: types.ContainerSpec{Image: "img"}, EndpointMode: mode}}
	if vip != "" {
		s.VirtualIPs = []types.Attachment{{NetworkID: "net1", Addr: vip}}
	}
	return s
}

func task(id, serviceID string, state types.TaskState, addr string) *types.Task {
	return &types.Task{ID: id, ServiceID: serviceID, NodeID: "n1", DesiredState: types.TaskRunning,
		Status: types.TaskStatus{State: state, Addr: addr}}
}

func TestMutateDefaultsToVIP(t *testing.T) {
	st, _ := newStore(t)
	spec := types.ServiceSpec{Name: "web"}
	if err := New().MutateService(st.View(), &spec, nil); err != nil || spec.EndpointMode != types.EndpointVIP {
		t.Fatalf("mode %q (%v), want vip", spec.EndpointMode, err)
	}
	rr := types.ServiceSpec{Name: "rr", EndpointMode: types.EndpointDNSRR}
	if err := New().MutateService(st.View(), &rr, nil); err != nil || rr.EndpointMode != types.EndpointDNSRR {
		t.Fatalf("dnsrr became %q (%v)", rr.EndpointMode, err)
	}
}

func TestValidate(t *testing.T) {
	st, l := newStore(t)
	propose(t, l, store.Change{CreateService: service("s1", "web", types.EndpointVIP, "10.0.0.2")})
	p := New()
	tests := []struct {
		name string
		spec types.ServiceSpec
		old  *types.Service
		err  string
	}{
		{"bad mode", types.ServiceSpec{Name: "x", EndpointMode: "round"}, nil, `invalid endpoint mode "round"`},
		{"vip", types.ServiceSpec{Name: "web", EndpointMode: types.EndpointVIP}, st.View().Service("s1"), ""},
		{"dnsrr", types.ServiceSpec{Name: "x", EndpointMode: types.EndpointDNSRR}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.ValidateService(st.View(), &tt.spec, tt.old)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "dns: ") {
				t.Fatalf("error %q lacks the plugin's name", err)
			}
		})
	}
}

func TestRecordsAndRules(t *testing.T) {
	st, l := newStore(t)
	propose(t, l,
		store.Change{CreateService: service("s1", "web", types.EndpointVIP, "10.0.0.2")},
		store.Change{CreateService: service("s2", "rr", types.EndpointDNSRR, "")},
		store.Change{CreateNetwork: &types.Network{ID: "net1", Spec: types.NetworkSpec{Name: types.DefaultNetworkName}, Subnet: "10.0.0.0/16", Gateway: "10.0.0.1", VNI: 4096}},
	)
	// The VIP is the allocator's (the store drops one given at create).
	propose(t, l, store.Change{Allocate: &store.NetworkAllocation{ServiceID: "s1", Attachments: []types.Attachment{{NetworkID: "net1", Addr: "10.0.0.2"}}}})
	propose(t, l,
		store.Change{CreateTask: task("t1", "s1", types.TaskRunning, "172.18.0.3")},
		store.Change{CreateTask: task("t2", "s1", types.TaskRunning, "172.18.0.2")},
		store.Change{CreateTask: task("t3", "s1", types.TaskStarting, "172.18.0.9")}, // not serving
		store.Change{CreateTask: task("t4", "s2", types.TaskRunning, "172.18.0.5")},
	)
	recs := Records(st.View(), "net1")
	str := func(ips []net.IP) []string {
		var out []string
		for _, ip := range ips {
			out = append(out, ip.String())
		}
		return out
	}
	want := map[string][]string{
		"web.":       {"10.0.0.2"},
		"tasks.web.": {"172.18.0.2", "172.18.0.3"},
		"rr.":        {"172.18.0.5"},
		"tasks.rr.":  {"172.18.0.5"},
	}
	if len(recs) != len(want) {
		t.Fatalf("records %v", recs)
	}
	for name, ips := range want {
		if got := str(recs[name]); !slices.Equal(got, ips) {
			t.Errorf("%s = %v, want %v", name, got, ips)
		}
	}
	rules := VIPRules(st.View(), "net1", "sw-abc")
	wantRules := []nat.Rule{{Dst: "10.0.0.2", InIface: "sw-abc", Backends: []string{"172.18.0.2", "172.18.0.3"}}}
	if len(rules) != 1 || rules[0].Dst != wantRules[0].Dst || rules[0].InIface != "sw-abc" ||
		!slices.Equal(rules[0].Backends, wantRules[0].Backends) {
		t.Fatalf("rules %+v, want %+v", rules, wantRules)
	}
}

func TestClaims(t *testing.T) {
	p := New()
	if _, ok := p.Claims(&types.ServiceSpec{EndpointMode: types.EndpointDNSRR}); !ok {
		t.Fatal("dnsrr not claimed")
	}
	if _, ok := p.Claims(&types.ServiceSpec{}); ok {
		t.Fatal("a plain spec claimed")
	}
}
