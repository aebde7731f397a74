package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"sw/cluster/api"
	"sw/cluster/store"
	"sw/cluster/types"
)

// TestCheckNetworkSpec: what a user may ask of a network, and the error
// for each mistake.
func TestCheckNetworkSpec(t *testing.T) {
	tests := []struct {
		name string
		in   types.NetworkSpec
		want types.NetworkSpec // when no error is expected
		err  string            // a substring of the error; "" when none is expected
	}{
		{name: "minimal: the driver defaults to overlay", in: types.NetworkSpec{Name: "front"},
			want: types.NetworkSpec{Name: "front", Driver: "overlay"}},
		{name: "everything", in: types.NetworkSpec{Name: "a.b_c-9", Driver: "overlay", Attachable: true,
			Labels: map[string]string{"tier": "web"}, Subnet: "10.20.0.0/16", Gateway: "10.20.0.254"},
			want: types.NetworkSpec{Name: "a.b_c-9", Driver: "overlay", Attachable: true,
				Labels: map[string]string{"tier": "web"}, Subnet: "10.20.0.0/16", Gateway: "10.20.0.254"}},
		{name: "subnet without gateway", in: types.NetworkSpec{Name: "n", Subnet: "192.168.7.0/24"},
			want: types.NetworkSpec{Name: "n", Driver: "overlay", Subnet: "192.168.7.0/24"}},
		{name: "a /30 is the smallest", in: types.NetworkSpec{Name: "n", Subnet: "10.0.0.4/30", Gateway: "10.0.0.5"},
			want: types.NetworkSpec{Name: "n", Driver: "overlay", Subnet: "10.0.0.4/30", Gateway: "10.0.0.5"}},
		{name: "64 characters", in: types.NetworkSpec{Name: strings.Repeat("n", 64)},
			want: types.NetworkSpec{Name: strings.Repeat("n", 64), Driver: "overlay"}},

		{name: "no name", in: types.NetworkSpec{}, err: "no network name given"},
		{name: "65 characters", in: types.NetworkSpec{Name: strings.Repeat("n", 65)}, err: "65 characters long, the limit is 64"},
		{name: "space in name", in: types.NetworkSpec{Name: "my net"}, err: `invalid network name "my net"`},
		{name: "leading dot", in: types.NetworkSpec{Name: ".net"}, err: "starting with a letter or digit"},
		{name: "leading dash", in: types.NetworkSpec{Name: "-net"}, err: "starting with a letter or digit"},
		{name: "slash", in: types.NetworkSpec{Name: "a/b"}, err: "invalid network name"},
		{name: "container: form", in: types.NetworkSpec{Name: "container:x"}, err: "invalid network name"},
		{name: "default network", in: types.NetworkSpec{Name: types.DefaultNetworkName}, err: "sw_default is the swarm's default network and cannot be created"},
		{name: "bridge", in: types.NetworkSpec{Name: "bridge"}, err: "bridge is a pre-defined network and cannot be created"},
		{name: "host", in: types.NetworkSpec{Name: "host"}, err: "host is a pre-defined network"},
		{name: "none", in: types.NetworkSpec{Name: "none"}, err: "none is a pre-defined network"},
		{name: "ingress", in: types.NetworkSpec{Name: "ingress"}, err: "ingress is a pre-defined network"},
		{name: "bridge driver", in: types.NetworkSpec{Name: "n", Driver: "bridge"},
			err: `invalid network driver "bridge": only overlay networks are supported in a swarm`},
		{name: "macvlan driver", in: types.NetworkSpec{Name: "n", Driver: "macvlan"}, err: "only overlay networks"},
		{name: "ingress flag", in: types.NetworkSpec{Name: "n", Ingress: true}, err: "cannot be made an ingress network"},
		{name: "empty label key", in: types.NetworkSpec{Name: "n", Labels: map[string]string{"": "x"}}, err: "invalid network label: the key is empty"},
		{name: "long label key", in: types.NetworkSpec{Name: "n", Labels: map[string]string{strings.Repeat("k", 257): ""}},
			err: "the limit is 256"},
		{name: "not a CIDR", in: types.NetworkSpec{Name: "n", Subnet: "10.0.0.0"}, err: `invalid subnet "10.0.0.0": want an IPv4 CIDR`},
		{name: "garbage subnet", in: types.NetworkSpec{Name: "n", Subnet: "ten/8"}, err: "invalid subnet"},
		{name: "bad prefix length", in: types.NetworkSpec{Name: "n", Subnet: "10.0.0.0/33"}, err: "invalid subnet"},
		{name: "IPv6 subnet", in: types.NetworkSpec{Name: "n", Subnet: "fd00::/64"}, err: "only IPv4 subnets are supported"},
		{name: "host bits", in: types.NetworkSpec{Name: "n", Subnet: "10.1.2.3/16"},
			err: `invalid subnet "10.1.2.3/16": it has host bits set; did you mean 10.1.0.0/16?`},
		{name: "a /31 is too small", in: types.NetworkSpec{Name: "n", Subnet: "10.0.0.0/31"}, err: "too small"},
		{name: "a /32 is too small", in: types.NetworkSpec{Name: "n", Subnet: "10.0.0.1/32"}, err: "too small"},
		{name: "gateway without subnet", in: types.NetworkSpec{Name: "n", Gateway: "10.0.0.1"}, err: "given without a subnet"},
		{name: "gateway outside", in: types.NetworkSpec{Name: "n", Subnet: "10.1.0.0/24", Gateway: "10.2.0.1"},
			err: "invalid gateway 10.2.0.1: it is not in subnet 10.1.0.0/24"},
		{name: "gateway is the network address", in: types.NetworkSpec{Name: "n", Subnet: "10.1.0.0/24", Gateway: "10.1.0.0"},
			err: "it is the network address of subnet 10.1.0.0/24"},
		{name: "gateway is the broadcast address", in: types.NetworkSpec{Name: "n", Subnet: "10.1.0.0/24", Gateway: "10.1.0.255"},
			err: "it is the broadcast address of subnet 10.1.0.0/24"},
		{name: "gateway not an address", in: types.NetworkSpec{Name: "n", Subnet: "10.1.0.0/24", Gateway: "gw"},
			err: `invalid gateway "gw": want an IPv4 address`},
		{name: "IPv6 gateway", in: types.NetworkSpec{Name: "n", Subnet: "10.1.0.0/24", Gateway: "::1"}, err: "want an IPv4 address"},
		{name: "every problem is reported", in: types.NetworkSpec{Name: "bad name", Driver: "host", Subnet: "10.0.0.1/8"},
			err: "invalid network name \"bad name\": use letters, digits, '_', '.' or '-', starting with a letter or digit\n" +
				"invalid network driver \"host\": only overlay networks are supported in a swarm\n" +
				"invalid subnet \"10.0.0.1/8\": it has host bits set; did you mean 10.0.0.0/8?"},
		{name: "a huge name is clipped in the error", in: types.NetworkSpec{Name: strings.Repeat("x", 70) + " "},
			err: `"` + strings.Repeat("x", 64) + `..."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.in
			err := checkNetworkSpec(&s)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("checkNetworkSpec(%+v) = %v, want an error containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("checkNetworkSpec(%+v): %v", tt.in, err)
			}
			if s.Name != tt.want.Name || s.Driver != tt.want.Driver || s.Subnet != tt.want.Subnet || s.Gateway != tt.want.Gateway ||
				s.Attachable != tt.want.Attachable || len(s.Labels) != len(tt.want.Labels) {
				t.Fatalf("checkNetworkSpec(%+v) made %+v, want %+v", tt.in, s, tt.want)
			}
		})
	}
}

// netFixture is a manager daemon on an in-memory store with no Raft: the
// swarm's default network and two networks of a user's.
type netFixture struct {
	d                   *Daemon
	st                  *store.Store
	defID, frontID, bID string
}

func newNetFixture(t *testing.T) *netFixture {
	t.Helper()
	st := store.New()
	local := &store.Local{Store: st}
	f := &netFixture{st: st, defID: "def000000000000000000000a", frontID: "fro000000000000000000000b", bID: "frz000000000000000000000c"}
	changes := []store.Change{
		{PutCluster: &types.Cluster{ID: "c"}},
		{CreateNetwork: &types.Network{ID: f.defID, Spec: types.NetworkSpec{Name: types.DefaultNetworkName, Driver: "overlay", Ingress: true},
			Subnet: "10.0.0.0/16", Gateway: "10.0.0.1", VNI: 4096}},
		{CreateNetwork: &types.Network{ID: f.frontID, Spec: types.NetworkSpec{Name: "front", Driver: "overlay"}}},
		{CreateNetwork: &types.Network{ID: f.bID, Spec: types.NetworkSpec{Name: "back", Driver: "overlay"}}},
	}
	if err := local.Propose(context.Background(), &store.Command{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	sw := &swarm{id: &identity{Role: string(types.RoleManager)}, store: st, proposer: local, ready: make(chan struct{})}
	sw.markReady()
	f.d = &Daemon{log: slog.New(slog.DiscardHandler), swarm: sw}
	return f
}

// TestResolveNetworks: a service's networks, given by name, ID or ID
// prefix, are stored by ID; unknown, repeated networks and bad aliases
// are refused.
func TestResolveNetworks(t *testing.T) {
	f := newNetFixture(t)
	att := func(target string, aliases ...string) types.NetworkAttachmentConfig {
		return types.NetworkAttachmentConfig{Target: target, Aliases: aliases}
	}
	tests := []struct {
		name string
		in   []types.NetworkAttachmentConfig
		want []types.NetworkAttachmentConfig
		kind error  // the error's kind, when one is expected
		err  string // a substring of the error
	}{
		{name: "none", in: nil, want: nil},
		{name: "by name", in: []types.NetworkAttachmentConfig{att("front")}, want: []types.NetworkAttachmentConfig{att(f.frontID)}},
		{name: "by ID", in: []types.NetworkAttachmentConfig{att(f.bID)}, want: []types.NetworkAttachmentConfig{att(f.bID)}},
		{name: "by ID prefix", in: []types.NetworkAttachmentConfig{att("fro0")}, want: []types.NetworkAttachmentConfig{att(f.frontID)}},
		{name: "the default network by name", in: []types.NetworkAttachmentConfig{att(types.DefaultNetworkName)},
			want: []types.NetworkAttachmentConfig{att(f.defID)}},
		{name: "several, in order, with aliases", in: []types.NetworkAttachmentConfig{att("back", "db", "db_1"), att("front", "web")},
			want: []types.NetworkAttachmentConfig{att(f.bID, "db", "db_1"), att(f.frontID, "web")}},
		{name: "unknown", in: []types.NetworkAttachmentConfig{att("nope")}, kind: store.ErrNotFound, err: "network nope not found"},
		{name: "empty target", in: []types.NetworkAttachmentConfig{att("")}, kind: api.ErrBadRequest, err: "names no network"},
		{name: "ambiguous prefix", in: []types.NetworkAttachmentConfig{att("fr")}, kind: api.ErrBadRequest, err: `network "fr" is ambiguous`},
		{name: "twice by name", in: []types.NetworkAttachmentConfig{att("front"), att("front")}, kind: api.ErrBadRequest,
			err: "network front is attached more than once"},
		{name: "twice by name and ID", in: []types.NetworkAttachmentConfig{att("front"), att(f.frontID)}, kind: api.ErrBadRequest,
			err: "network front is attached more than once"},
		{name: "alias with a dot", in: []types.NetworkAttachmentConfig{att("front", "a.b")}, kind: api.ErrBadRequest,
			err: `invalid alias "a.b" on network front`},
		{name: "alias with a space", in: []types.NetworkAttachmentConfig{att("front", "a b")}, kind: api.ErrBadRequest, err: "invalid alias"},
		{name: "empty alias", in: []types.NetworkAttachmentConfig{att("front", "")}, kind: api.ErrBadRequest, err: "invalid alias"},
		{name: "alias ending in a dash", in: []types.NetworkAttachmentConfig{att("front", "web-")}, kind: api.ErrBadRequest, err: "invalid alias"},
		{name: "alias of 64 characters", in: []types.NetworkAttachmentConfig{att("front", strings.Repeat("a", 64))}, kind: api.ErrBadRequest,
			err: "invalid alias"},
		{name: "alias twice", in: []types.NetworkAttachmentConfig{att("front", "web", "web")}, kind: api.ErrBadRequest,
			err: `alias "web" is given twice on network front`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveNetworks(f.st.View(), tt.in)
			if tt.err != "" {
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("resolveNetworks(%+v) error %v, want %v with %q", tt.in, err, tt.kind, tt.err)
				}
				return
			}
			if err != nil || !sameNetworks(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("resolveNetworks(%+v) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestNetworkWrites: create and remove through the daemon, and a
// service's networks through CreateService and UpdateService, which
// replaces the tasks (spec version) when the networks change.
func TestNetworkWrites(t *testing.T) {
	f := newNetFixture(t)
	ctx := context.Background()
	id, err := f.d.CreateNetwork(ctx, types.NetworkSpec{Name: "mid", Subnet: "10.77.0.0/24", Labels: map[string]string{"a": "b"}})
	if err != nil || len(id) != types.IDLength {
		t.Fatalf("CreateNetwork: %q, %v", id, err)
	}
	n := f.st.View().Network(id)
	if n == nil || n.Spec.Name != "mid" || n.Spec.Driver != "overlay" || n.Spec.Subnet != "10.77.0.0/24" || n.Allocated() {
		t.Fatalf("stored network: %+v", n)
	}
	for _, tt := range []struct {
		spec types.NetworkSpec
		kind error
		err  string
	}{
		{types.NetworkSpec{Name: "mid"}, store.ErrNameInUse, "network with name mid already exists"},
		{types.NetworkSpec{Name: "other", Subnet: "10.77.0.128/25"}, store.ErrAddrInUse, "overlaps network mid"},
		{types.NetworkSpec{Name: "other", Subnet: "10.0.5.0/24"}, store.ErrAddrInUse, "overlaps network sw_default"},
		{types.NetworkSpec{Name: "other", Driver: "bridge"}, api.ErrBadRequest, "only overlay networks"},
	} {
		if _, err := f.d.CreateNetwork(ctx, tt.spec); !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("CreateNetwork(%+v): %v, want %v with %q", tt.spec, err, tt.kind, tt.err)
		}
	}
	if got := len(f.st.View().Networks()); got != 4 {
		t.Fatalf("%d networks after the refused creates, want 4", got)
	}

	spec := types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1, Container: types.ContainerSpec{Image: "busybox"},
		Networks: []types.NetworkAttachmentConfig{{Target: "mid", Aliases: []string{"www"}}}}
	sid, err := f.d.CreateService(ctx, spec)
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	svc := f.st.View().Service(sid)
	if len(svc.Spec.Networks) != 1 || svc.Spec.Networks[0].Target != id || svc.Spec.Networks[0].Aliases[0] != "www" {
		t.Fatalf("stored networks: %+v", svc.Spec.Networks)
	}
	if spec.Networks[0].Target != "mid" {
		t.Fatalf("CreateService changed its caller's spec: %+v", spec.Networks)
	}
	bad := spec
	bad.Name, bad.Networks = "api", []types.NetworkAttachmentConfig{{Target: "nosuch"}}
	if _, err := f.d.CreateService(ctx, bad); !errors.Is(err, store.ErrNotFound) || err.Error() != "network nosuch not found" {
		t.Fatalf("CreateService on an unknown network: %v", err)
	}

	err = f.d.RemoveNetwork(ctx, id)
	if !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "network mid is in use by service(s) web") {
		t.Fatalf("RemoveNetwork of a network in use: %v", err)
	}
	if err := f.d.RemoveNetwork(ctx, f.defID); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("RemoveNetwork of the default network: %v", err)
	}

	update := func(change func(*types.ServiceSpec)) *types.Service {
		t.Helper()
		old := f.st.View().Service(sid)
		s := old.Spec
		s.Networks = append([]types.NetworkAttachmentConfig(nil), s.Networks...)
		change(&s)
		if err := f.d.UpdateService(ctx, sid, old.Version, s); err != nil {
			t.Fatalf("UpdateService: %v", err)
		}
		return f.st.View().Service(sid)
	}
	v0 := f.st.View().Service(sid).SpecVersion
	if s := update(func(s *types.ServiceSpec) { s.Labels = map[string]string{"x": "y"} }); s.SpecVersion != v0 {
		t.Fatalf("a label change bumped the spec version: %d -> %d", v0, s.SpecVersion)
	}
	// The same networks by name: no change.
	if s := update(func(s *types.ServiceSpec) { s.Networks[0].Target = "mid" }); s.SpecVersion != v0 || s.Spec.Networks[0].Target != id {
		t.Fatalf("the same network by name: version %d -> %d, networks %+v", v0, s.SpecVersion, s.Spec.Networks)
	}
	s := update(func(s *types.ServiceSpec) {
		s.Networks = append(s.Networks, types.NetworkAttachmentConfig{Target: "front"})
	})
	if s.SpecVersion != v0+1 || len(s.Spec.Networks) != 2 || s.Spec.Networks[1].Target != f.frontID {
		t.Fatalf("adding a network: version %d -> %d, networks %+v", v0, s.SpecVersion, s.Spec.Networks)
	}
	if s := update(func(s *types.ServiceSpec) { s.Networks[1].Aliases = []string{"w"} }); s.SpecVersion != v0+2 {
		t.Fatalf("an alias change: version %d, want %d", s.SpecVersion, v0+2)
	}
	if s := update(func(s *types.ServiceSpec) { s.Networks = nil }); s.SpecVersion != v0+3 || len(s.Spec.Networks) != 0 {
		t.Fatalf("removing the networks: version %d, networks %+v", s.SpecVersion, s.Spec.Networks)
	}
	old := f.st.View().Service(sid)
	dup := old.Spec
	dup.Networks = []types.NetworkAttachmentConfig{{Target: "front"}, {Target: f.frontID}}
	if err := f.d.UpdateService(ctx, sid, old.Version, dup); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), "more than once") {
		t.Fatalf("UpdateService with a network twice: %v", err)
	}

	if err := f.d.RemoveNetwork(ctx, id); err != nil {
		t.Fatalf("RemoveNetwork once unused: %v", err)
	}
	if f.st.View().Network(id) != nil {
		t.Fatal("the network is still there")
	}
}

// TestSameNetworks: nil and empty are the same; order and aliases count.
func TestSameNetworks(t *testing.T) {
	a := func(target string, aliases ...string) types.NetworkAttachmentConfig {
		return types.NetworkAttachmentConfig{Target: target, Aliases: aliases}
	}
	tests := []struct {
		name string
		x, y []types.NetworkAttachmentConfig
		want bool
	}{
		{"both nil", nil, nil, true},
		{"nil and empty", nil, []types.NetworkAttachmentConfig{}, true},
		{"same", []types.NetworkAttachmentConfig{a("n1", "x")}, []types.NetworkAttachmentConfig{a("n1", "x")}, true},
		{"one more", []types.NetworkAttachmentConfig{a("n1")}, []types.NetworkAttachmentConfig{a("n1"), a("n2")}, false},
		{"order", []types.NetworkAttachmentConfig{a("n1"), a("n2")}, []types.NetworkAttachmentConfig{a("n2"), a("n1")}, false},
		{"alias", []types.NetworkAttachmentConfig{a("n1", "x")}, []types.NetworkAttachmentConfig{a("n1", "y")}, false},
		{"no alias and none", []types.NetworkAttachmentConfig{a("n1")}, []types.NetworkAttachmentConfig{{Target: "n1", Aliases: []string{}}}, true},
	}
	for _, tt := range tests {
		if got := sameNetworks(tt.x, tt.y); got != tt.want {
			t.Errorf("%s: sameNetworks = %v, want %v", tt.name, got, tt.want)
		}
	}
}
