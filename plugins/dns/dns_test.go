package dns

import (
	"context"
	"net"
	"net/netip"
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
	return &types.Service{ID: id, Spec: types.ServiceSpec{Name: name, Mode: types.ModeReplicated, Replicas: 1,
		Container: types.ContainerSpec{Image: "img"}, EndpointMode: mode, VirtualIP: vip}}
}

func task(id, serviceID string, state types.TaskState, addr string) *types.Task {
	return &types.Task{ID: id, ServiceID: serviceID, NodeID: "n1", DesiredState: types.TaskRunning,
		Status: types.TaskStatus{State: state, Addr: addr}}
}

func TestMutateAllocatesAndKeepsVIP(t *testing.T) {
	st, l := newStore(t)
	p := New()
	spec := types.ServiceSpec{Name: "web"}
	if err := p.MutateService(st.View(), &spec, nil); err != nil {
		t.Fatal(err)
	}
	if spec.EndpointMode != types.EndpointVIP || spec.VirtualIP != "10.0.0.2" {
		t.Fatalf("first service: mode %q vip %q, want vip 10.0.0.2", spec.EndpointMode, spec.VirtualIP)
	}
	propose(t, l, store.Change{CreateService: &types.Service{ID: "s1", Spec: spec}})
	propose(t, l, store.Change{CreateService: service("s3", "c", types.EndpointVIP, "10.0.0.4")})

	next := types.ServiceSpec{Name: "api"}
	if err := p.MutateService(st.View(), &next, nil); err != nil || next.VirtualIP != "10.0.0.3" {
		t.Fatalf("second service got %q (%v), want the lowest free 10.0.0.3", next.VirtualIP, err)
	}

	old := st.View().Service("s1")
	upd := old.Spec
	upd.VirtualIP = "10.0.0.99" // a client cannot move it
	if err := p.MutateService(st.View(), &upd, old); err != nil || upd.VirtualIP != "10.0.0.2" {
		t.Fatalf("update moved the VIP to %q (%v)", upd.VirtualIP, err)
	}
	upd.EndpointMode = types.EndpointDNSRR
	if err := p.MutateService(st.View(), &upd, old); err != nil || upd.VirtualIP != "" {
		t.Fatalf("dnsrr kept VIP %q (%v)", upd.VirtualIP, err)
	}
}

func TestFreeVIPExhausted(t *testing.T) {
	all := map[netip.Addr]bool{}
	a := VIPRange.Addr()
	for VIPRange.Contains(a) {
		all[a] = true
		a = a.Next()
	}
	if _, err := freeVIP(all); err == nil || !strings.Contains(err.Error(), "no virtual IP left") {
		t.Fatalf("err = %v", err)
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
		{"VIP taken", types.ServiceSpec{Name: "x", EndpointMode: types.EndpointVIP, VirtualIP: "10.0.0.2"}, nil, `already used by service "web"`},
		{"own VIP on update", types.ServiceSpec{Name: "web", EndpointMode: types.EndpointVIP, VirtualIP: "10.0.0.2"}, st.View().Service("s1"), ""},
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
	)
	propose(t, l,
		store.Change{CreateTask: task("t1", "s1", types.TaskRunning, "172.18.0.3")},
		store.Change{CreateTask: task("t2", "s1", types.TaskRunning, "172.18.0.2")},
		store.Change{CreateTask: task("t3", "s1", types.TaskStarting, "172.18.0.9")}, // not serving
		store.Change{CreateTask: task("t4", "s2", types.TaskRunning, "172.18.0.5")},
	)
	recs := Records(st.View())
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
	rules := VIPRules(st.View(), "sw-abc")
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
