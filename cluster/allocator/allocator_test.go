package allocator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"sw/cluster/store"
	"sw/cluster/types"
)

type bed struct {
	t   *testing.T
	st  *store.Store
	l   *store.Local
	ids int
	// cursors, if set, make settle allocate serially (PlanFrom); avoid
	// lists the engine's subnets.
	cursors Cursors
	avoid   func() []string
}

func newBed(t *testing.T, c *types.Cluster) *bed {
	b := &bed{t: t, st: store.New()}
	b.l = &store.Local{Store: b.st}
	b.must(store.Change{PutCluster: c})
	return b
}

func (b *bed) must(cs ...store.Change) {
	b.t.Helper()
	if err := b.l.Propose(context.Background(), &store.Command{Changes: cs}); err != nil {
		b.t.Fatalf("propose: %v", err)
	}
}

func (b *bed) newID() string { b.ids++; return fmt.Sprintf("net%d", b.ids) }

// settle runs Plan and applies it until it has nothing more to do.
func (b *bed) settle() {
	b.t.Helper()
	for range 5 {
		cs, err := PlanFrom(b.st.View(), b.newID, b.cursors, b.avoid)
		if err != nil {
			b.t.Fatalf("plan: %v", err)
		}
		if len(cs) == 0 {
			return
		}
		b.must(cs...)
	}
	b.t.Fatal("allocation does not settle")
}

func TestAllocateDefaultNetworkAndAddresses(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	b.must(store.Change{PutNode: &types.Node{ID: "n1"}}, store.Change{PutNode: &types.Node{ID: "n2"}})
	b.settle()
	def := b.st.View().NetworkByName(types.DefaultNetworkName)
	if def == nil || def.Subnet != "10.0.0.0/16" || def.Gateway != "10.0.0.1" || def.VNI != types.FirstVNI {
		t.Fatalf("default network %+v, want 10.0.0.0/16 gw 10.0.0.1 VNI 4096", def)
	}
	if a := types.AddrOn(b.st.View().Node("n1").Attachments, def.ID); a != "10.0.0.2" {
		t.Fatalf("n1's address %q, want 10.0.0.2", a)
	}
	b.must(
		store.Change{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", EndpointMode: types.EndpointVIP}}},
		store.Change{CreateService: &types.Service{ID: "s2", Spec: types.ServiceSpec{Name: "rr", EndpointMode: types.EndpointDNSRR}}},
		store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", DesiredState: types.TaskRunning, Networks: []types.Attachment{{NetworkID: def.ID}}}},
		store.Change{CreateTask: &types.Task{ID: "t2", ServiceID: "s1", DesiredState: types.TaskRunning, Networks: []types.Attachment{{NetworkID: def.ID}}}},
	)
	b.settle()
	v := b.st.View()
	got := map[string]string{
		"vip": types.AddrOn(v.Service("s1").VirtualIPs, def.ID),
		"t1":  types.AddrOn(v.Task("t1").Networks, def.ID),
		"t2":  types.AddrOn(v.Task("t2").Networks, def.ID),
		"rr":  types.AddrOn(v.Service("s2").VirtualIPs, def.ID),
		"n1":  types.AddrOn(v.Node("n1").Attachments, def.ID),
		"n2":  types.AddrOn(v.Node("n2").Attachments, def.ID),
	}
	seen := map[string]string{}
	for k, a := range got {
		if k == "rr" {
			if a != "" {
				t.Errorf("a dnsrr service got virtual IP %s", a)
			}
			continue
		}
		if a == "" || !strings.HasPrefix(a, "10.0.0.") {
			t.Errorf("%s got %q", k, a)
		}
		if o, dup := seen[a]; dup {
			t.Errorf("%s and %s share %s", k, o, a)
		}
		seen[a] = k
	}
	// An ended task frees its address for the next.
	t1 := got["t1"]
	b.must(store.Change{AssignTask: &store.TaskAssignment{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})
	b.must(store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: "t1", NodeID: "n1", Status: types.TaskStatus{State: types.TaskFailed}}})
	b.must(store.Change{CreateTask: &types.Task{ID: "t3", ServiceID: "s1", DesiredState: types.TaskRunning, Networks: []types.Attachment{{NetworkID: def.ID}}}})
	b.settle()
	if a := types.AddrOn(b.st.View().Task("t3").Networks, def.ID); a != t1 {
		t.Errorf("t3 got %s, want the freed %s", a, t1)
	}
	// Switching to dnsrr gives the VIP back.
	s1 := *b.st.View().Service("s1")
	s1.Spec.EndpointMode = types.EndpointDNSRR
	b.must(store.Change{UpdateService: &s1})
	b.settle()
	if vips := b.st.View().Service("s1").VirtualIPs; len(vips) != 0 {
		t.Errorf("dnsrr service kept %v", vips)
	}
}

func TestStoreRefusesTakenAddress(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	b.settle()
	def := b.st.View().NetworkByName(types.DefaultNetworkName)
	b.must(
		store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s", DesiredState: types.TaskRunning, Networks: []types.Attachment{{NetworkID: def.ID}}}},
		store.Change{CreateTask: &types.Task{ID: "t2", ServiceID: "s", DesiredState: types.TaskRunning, Networks: []types.Attachment{{NetworkID: def.ID}}}},
	)
	b.must(store.Change{Allocate: &store.NetworkAllocation{TaskID: "t1", Attachments: []types.Attachment{{NetworkID: def.ID, Addr: "10.0.0.9"}}}})
	tests := []struct {
		name, addr string
	}{
		{"held by another task", "10.0.0.9"},
		{"the gateway", "10.0.0.1"},
		{"the network's own", "10.0.0.0"},
		{"the broadcast", "10.0.255.255"},
		{"outside", "10.1.0.5"},
	}
	for _, tt := range tests {
		err := b.l.Propose(context.Background(), &store.Command{Changes: []store.Change{{Allocate: &store.NetworkAllocation{TaskID: "t2",
			Attachments: []types.Attachment{{NetworkID: def.ID, Addr: tt.addr}}}}}})
		if !errors.Is(err, store.ErrAddrInUse) {
			t.Errorf("%s (%s): err = %v, want ErrAddrInUse", tt.name, tt.addr, err)
		}
	}
	if err := b.l.Propose(context.Background(), &store.Command{Changes: []store.Change{{CreateNetwork: &types.Network{ID: "x",
		Spec: types.NetworkSpec{Name: "other"}, Subnet: "10.0.5.0/24", Gateway: "10.0.5.1", VNI: 5000}}}}); !errors.Is(err, store.ErrAddrInUse) {
		t.Errorf("an overlapping subnet: err = %v", err)
	}
}

func TestFreeSubnet(t *testing.T) {
	nets := func(subs ...string) []*types.Network {
		var out []*types.Network
		for _, s := range subs {
			out = append(out, &types.Network{Subnet: s})
		}
		return out
	}
	tests := []struct {
		name  string
		pools []string
		bits  int
		have  []*types.Network
		want  string
		err   string
	}{
		{"first of Docker's pool", []string{"10.0.0.0/8"}, 24, nil, "10.0.0.0/24", ""},
		{"skips taken", []string{"10.0.0.0/8"}, 24, nets("10.0.0.0/24", "10.0.1.0/24"), "10.0.2.0/24", ""},
		{"skips overlapping larger", []string{"10.0.0.0/8"}, 24, nets("10.0.0.0/16"), "10.1.0.0/24", ""},
		{"pool smaller than subnet size", []string{"10.9.0.0/20"}, 16, nil, "10.9.0.0/20", ""},
		{"second pool", []string{"10.9.0.0/24", "192.168.50.0/24"}, 24, nets("10.9.0.0/24"), "192.168.50.0/24", ""},
		{"exhausted", []string{"10.9.0.0/24"}, 24, nets("10.9.0.0/24"), "", "no subnet left"},
		{"bad pool", []string{"nope"}, 24, nil, "", "bad address pool"},
	}
	for _, tt := range tests {
		got, err := FreeSubnet(tt.pools, tt.bits, tt.have)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("%s: %v (%v), want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestFreeVNI(t *testing.T) {
	have := []*types.Network{{VNI: 4097}, {VNI: 4096}, {VNI: 4099}}
	if v := FreeVNI(have); v != 4098 {
		t.Fatalf("FreeVNI = %d, want 4098", v)
	}
	if v := FreeVNI(nil); v != types.FirstVNI {
		t.Fatalf("FreeVNI(nil) = %d", v)
	}
}

func TestAllocateUserNetworks(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	b.settle()
	b.must(store.Change{CreateNetwork: &types.Network{ID: "u1", Spec: types.NetworkSpec{Name: "app"}}},
		store.Change{CreateNetwork: &types.Network{ID: "u2", Spec: types.NetworkSpec{Name: "db", Subnet: "10.9.0.0/24", Gateway: "10.9.0.254"}}},
		store.Change{CreateNetwork: &types.Network{ID: "u3", Spec: types.NetworkSpec{Name: "x"}}})
	b.must(store.Change{CreateService: &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", EndpointMode: types.EndpointVIP,
		Networks: []types.NetworkAttachmentConfig{{Target: "u1"}, {Target: "u2"}}}}},
		store.Change{CreateTask: &types.Task{ID: "t1", ServiceID: "s1", DesiredState: types.TaskRunning,
			Networks: []types.Attachment{{NetworkID: "u1"}, {NetworkID: "u2"}}}})
	b.settle()
	v := b.st.View()
	u1, u2, u3 := v.Network("u1"), v.Network("u2"), v.Network("u3")
	// The default network has 10.0.0.0/16, so the first free /24 is 10.1.0.0/24.
	if u1.Subnet != "10.1.0.0/24" || u1.Gateway != "10.1.0.1" || u2.Subnet != "10.9.0.0/24" || u2.Gateway != "10.9.0.254" ||
		u3.Subnet != "10.1.1.0/24" {
		t.Fatalf("subnets %s %s %s (%s)", u1.Subnet, u2.Subnet, u3.Subnet, u2.Gateway)
	}
	vnis := map[uint32]bool{v.NetworkByName(types.DefaultNetworkName).VNI: true, u1.VNI: true, u2.VNI: true, u3.VNI: true}
	if len(vnis) != 4 {
		t.Fatalf("VXLAN IDs shared: %v", vnis)
	}
	task := v.Task("t1")
	if a1, a2 := types.AddrOn(task.Networks, "u1"), types.AddrOn(task.Networks, "u2"); !strings.HasPrefix(a1, "10.1.0.") || !strings.HasPrefix(a2, "10.9.0.") {
		t.Fatalf("task addresses %v", task.Networks)
	}
	vips := v.Service("s1").VirtualIPs
	if len(vips) != 2 || types.AddrOn(vips, "u1") == "" || types.AddrOn(vips, "u2") == "" || vips[0].Bits != 24 {
		t.Fatalf("VIPs %+v, want one per network", vips)
	}
}

func TestDefaultNetworkLeavesRoom(t *testing.T) {
	tests := []struct {
		pools []string
		mask  int
		want  string
	}{
		{nil, 0, "10.0.0.0/16"},                           // Docker's pool: a /16
		{[]string{"10.9.0.0/20"}, 0, "10.9.0.0/21"},       // half a small pool
		{[]string{"10.9.0.0/24"}, 24, "10.9.0.0/24"},      // a pool of one subnet: all of it
		{[]string{"192.168.0.0/16"}, 0, "192.168.0.0/17"}, // half
	}
	for _, tt := range tests {
		n, err := DefaultNetwork(&types.Cluster{DefaultAddrPool: tt.pools, SubnetSize: tt.mask}, nil, "id")
		if err != nil || n.Subnet != tt.want {
			t.Errorf("pools %v: %v (%v), want %s", tt.pools, n, err, tt.want)
		}
	}
}

// TestSerialAllocation: with cursors (the allocator loop's), an address
// just freed is not given again while others are free; once the subnet's
// end is reached, the search wraps round to the freed ones.
func TestSerialAllocation(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	b.cursors = Cursors{}
	b.settle()
	b.must(store.Change{CreateNetwork: &types.Network{ID: "small", Spec: types.NetworkSpec{Name: "small", Subnet: "10.9.0.0/29", Gateway: "10.9.0.1"}}})
	b.settle()
	task := func(id string) store.Change {
		return store.Change{CreateTask: &types.Task{ID: id, ServiceID: "s1", DesiredState: types.TaskRunning,
			Networks: []types.Attachment{{NetworkID: "small"}}}}
	}
	addr := func(id string) string { return types.AddrOn(b.st.View().Task(id).Networks, "small") }
	b.must(task("t1"), task("t2"))
	b.settle()
	if addr("t1") != "10.9.0.2" || addr("t2") != "10.9.0.3" {
		t.Fatalf("first addresses %s %s", addr("t1"), addr("t2"))
	}
	// t2 fails (its container may still be stopping): its successor gets
	// the next address, not t2's.
	b.must(store.Change{AssignTask: &store.TaskAssignment{TaskID: "t2", NodeID: "n1", Status: types.TaskStatus{State: types.TaskAssigned}}})
	b.must(store.Change{TaskStatus: &store.TaskStatusFrom{TaskID: "t2", NodeID: "n1", Status: types.TaskStatus{State: types.TaskFailed}}})
	b.must(task("t3"))
	b.settle()
	if addr("t3") != "10.9.0.4" {
		t.Fatalf("t3 got %s, want 10.9.0.4 (not the freed 10.9.0.3)", addr("t3"))
	}
	// 10.9.0.5 and .6 are the last usable: then the search wraps to .3.
	b.must(task("t4"), task("t5"))
	b.settle()
	b.must(task("t6"))
	b.settle()
	if got := []string{addr("t4"), addr("t5"), addr("t6")}; got[0] != "10.9.0.5" || got[1] != "10.9.0.6" || got[2] != "10.9.0.3" {
		t.Fatalf("t4..t6 got %v, want 10.9.0.5 10.9.0.6 10.9.0.3", got)
	}
}

// TestAvoidEngineSubnets: a subnet the engine already has for something
// else (a network left by another program) is passed over, for the
// default network and for a network made by a user.
func TestAvoidEngineSubnets(t *testing.T) {
	b := newBed(t, &types.Cluster{ID: "c1"})
	b.avoid = func() []string { return []string{"10.0.0.0/16", "10.1.0.0/24"} }
	b.settle()
	def := b.st.View().NetworkByName(types.DefaultNetworkName)
	if def == nil || def.Subnet != "10.1.0.0/16" && def.Subnet != "10.2.0.0/16" {
		t.Fatalf("default network %+v, want a subnet clear of 10.0.0.0/16 and 10.1.0.0/24", def)
	}
	if def.Subnet == "10.1.0.0/16" {
		t.Fatalf("default network %s overlaps the engine's 10.1.0.0/24", def.Subnet)
	}
	b.must(store.Change{CreateNetwork: &types.Network{ID: "u1", Spec: types.NetworkSpec{Name: "app"}}})
	b.avoid = func() []string { return []string{"10.0.0.0/16", "10.1.0.0/24", "10.3.0.0/24"} }
	b.settle()
	if s := b.st.View().Network("u1").Subnet; s == "" || s == "10.3.0.0/24" || s == "10.1.0.0/24" {
		t.Fatalf("user network subnet %q", s)
	}
}
