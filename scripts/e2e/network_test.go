package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// inspectedNetwork is what these tests read of `sw network inspect`.
type inspectedNetwork struct {
	Name, ID, Scope, Driver string
	IPAM                    struct {
		Driver string
		Config []struct{ Subnet, Gateway string }
	}
	Attachable, Ingress bool
	Options, Labels     map[string]string
}

// inspectNetworks runs `network inspect` and decodes its JSON array.
func (n *node) inspectNetworks(refs ...string) []inspectedNetwork {
	n.t.Helper()
	out := n.ok(append([]string{"network", "inspect"}, refs...)...)
	var nets []struct {
		inspectedNetwork
		ID string `json:"Id"`
	}
	if err := json.Unmarshal([]byte(out), &nets); err != nil {
		n.t.Fatalf("network inspect %v: %v\n%s", refs, err, out)
	}
	res := make([]inspectedNetwork, len(nets))
	for i, v := range nets {
		res[i] = v.inspectedNetwork
		res[i].ID = v.ID
	}
	return res
}

// lastSubnet is the last /24 of a pool.
func lastSubnet(t *testing.T, pool string) string {
	t.Helper()
	p, err := netip.ParsePrefix(pool)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Masked().Addr().As4()
	size := uint32(1) << (32 - p.Bits())
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + size - 256
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24).String()
}

// TestNetworkCommands: network create, ls, inspect and rm, their mistakes,
// and services attached to networks by name (stored by ID). No task of a
// service on a named network is waited for, nor any traffic: this is the
// control plane only.
func TestNetworkCommands(t *testing.T) {
	t.Parallel()
	n := newNode(t, "netcli")
	// Two pools, so that the networks made here have room in them
	// whatever share of the first the default network takes.
	pool2 := newPool()
	n.ok("swarm", "init", "--listen-addr", n.ip+":2377", "--default-addr-pool", n.pool, "--default-addr-pool", pool2,
		"--default-addr-pool-mask-length", "24")
	n.id = strings.TrimSpace(n.ok("info", "--format", "{{.NodeID}}"))
	eventually(t, 10*time.Second, "the default network", func() (bool, string) {
		out := n.ok("network", "ls", "--format", "{{.Name}}")
		return strings.TrimSpace(out) == "sw_default", out
	})
	def := n.inspectNetworks("sw_default")[0]
	defID := def.ID

	subnet := lastSubnet(t, pool2) // not the allocator's first pick
	sub := netip.MustParsePrefix(subnet)
	gateway := sub.Addr().Next().Next().String()
	frontID := strings.TrimSpace(n.ok("network", "create", "front"))
	backID := strings.TrimSpace(n.ok("network", "create", "--subnet", subnet, "--gateway", gateway, "--label", "tier=db", "back"))
	spareID := strings.TrimSpace(n.ok("network", "create", "-d", "overlay", "--attachable", "spare"))
	for _, id := range []string{frontID, backID, spareID} {
		if !regexp.MustCompile(`^[0-9a-z]{25}$`).MatchString(id) {
			t.Fatalf("network create printed %q, want a 25-character ID", id)
		}
	}

	// ls: the table, -q, templates, filters.
	ls := lines(n.ok("network", "ls"))
	wantRows := []struct{ id, name string }{{backID, "back"}, {frontID, "front"}, {defID, "sw_default"}, {spareID, "spare"}}
	// Sorted by name: "spare" < "sw_default".
	wantRows[2], wantRows[3] = wantRows[3], wantRows[2]
	if len(ls) != 5 || !regexp.MustCompile(`^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$`).MatchString(ls[0]) {
		t.Fatalf("network ls:\n%s", strings.Join(ls, "\n"))
	}
	for i, w := range wantRows {
		if !regexp.MustCompile(`^` + w.id[:12] + `\s+` + w.name + `\s+overlay\s+swarm$`).MatchString(ls[i+1]) {
			t.Fatalf("network ls row %d = %q, want %s %s overlay swarm", i+1, ls[i+1], w.id[:12], w.name)
		}
	}
	if q := lines(n.ok("network", "ls", "-q")); len(q) != 4 || q[0] != backID[:12] || q[1] != frontID[:12] {
		t.Fatalf("network ls -q: %v", q)
	}
	if got := n.ok("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}"); got !=
		"back overlay swarm tier=db\nfront overlay swarm \nspare overlay swarm \nsw_default overlay swarm \n" {
		t.Fatalf("network ls --format: %q", got)
	}
	var row map[string]string
	if js := lines(n.ok("network", "ls", "--format", "json", "--filter", "name=back")); len(js) != 1 ||
		json.Unmarshal([]byte(js[0]), &row) != nil || row["Name"] != "back" || row["ID"] != backID[:12] || row["Scope"] != "swarm" {
		t.Fatalf("network ls --format json: %v", js)
	}
	filters := []struct {
		filter []string
		want   string
	}{
		{[]string{"name=fr"}, "front\n"},
		{[]string{"id=" + spareID[:6]}, "spare\n"},
		{[]string{"label=tier"}, "back\n"},
		{[]string{"label=tier=db"}, "back\n"},
		{[]string{"label=tier=web"}, ""},
		{[]string{"driver=overlay", "name=s"}, "spare\nsw_default\n"},
		{[]string{"driver=bridge"}, ""},
	}
	for _, f := range filters {
		args := []string{"network", "ls", "--format", "{{.Name}}"}
		for _, v := range f.filter {
			args = append(args, "--filter", v)
		}
		if got := n.ok(args...); got != f.want {
			t.Fatalf("network ls --filter %v: %q, want %q", f.filter, got, f.want)
		}
	}
	if r := n.sw("network", "ls", "--filter", "colour=red"); r.code == 0 || !strings.Contains(r.stderr, "invalid filter") || r.stdout != "" {
		t.Fatalf("network ls with a bad filter: %+v", r)
	}

	// inspect: Docker's shape; the subnet asked for is there at once.
	back := n.inspectNetworks("back")[0]
	if back.Name != "back" || back.ID != backID || back.Scope != "swarm" || back.Driver != "overlay" || back.IPAM.Driver != "default" ||
		len(back.IPAM.Config) != 1 || back.IPAM.Config[0].Subnet != subnet || back.IPAM.Config[0].Gateway != gateway ||
		back.Labels["tier"] != "db" || back.Attachable || back.Ingress {
		t.Fatalf("network inspect back: %+v", back)
	}
	if spare := n.inspectNetworks(spareID[:8])[0]; spare.Name != "spare" || !spare.Attachable {
		t.Fatalf("network inspect by ID prefix: %+v", spare)
	}
	if !def.Ingress || len(def.IPAM.Config) != 1 ||
		!netip.MustParsePrefix(n.pool).Contains(netip.MustParsePrefix(def.IPAM.Config[0].Subnet).Addr()) ||
		def.Options["com.docker.network.driver.overlay.vxlanid_list"] == "" {
		t.Fatalf("network inspect sw_default: %+v", def)
	}
	if got := strings.TrimSpace(n.ok("network", "inspect", "--format", "{{.Name}} {{.Scope}} {{(index .IPAM.Config 0).Subnet}}", "back")); got !=
		"back swarm "+subnet {
		t.Fatalf("network inspect --format: %q", got)
	}
	r := n.sw("network", "inspect", "back", "nosuch")
	var some []map[string]any
	if r.code != 1 || strings.TrimSpace(r.stderr) != "Error: No such network: nosuch" ||
		json.Unmarshal([]byte(r.stdout), &some) != nil || len(some) != 1 || some[0]["Name"] != "back" {
		t.Fatalf("network inspect with a missing one: %+v", r)
	}

	t.Run("allocated", func(t *testing.T) {
		// The allocator gives subnets, gateways and VXLAN IDs after the
		// create: a free /24 of the pools for front, the one asked for
		// for back.
		eventually(t, 15*time.Second, "front's and back's allocation", func() (bool, string) {
			nets := n.inspectNetworks("front", "back")
			f, b := nets[0], nets[1]
			ok := len(f.IPAM.Config) == 1 && f.IPAM.Config[0].Gateway != "" && f.Options["com.docker.network.driver.overlay.vxlanid_list"] != "" &&
				len(b.IPAM.Config) == 1 && b.Options["com.docker.network.driver.overlay.vxlanid_list"] != ""
			return ok, fmt.Sprintf("front %+v, back %+v", f, b)
		})
		nets := n.inspectNetworks("front", "back")
		fs := netip.MustParsePrefix(nets[0].IPAM.Config[0].Subnet)
		inPools := netip.MustParsePrefix(n.pool).Contains(fs.Addr()) || netip.MustParsePrefix(pool2).Contains(fs.Addr())
		if ds := netip.MustParsePrefix(def.IPAM.Config[0].Subnet); fs.Bits() != 24 || !inPools || fs.Overlaps(sub) || fs.Overlaps(ds) {
			t.Fatalf("front's subnet %s: want a /24 of %s or %s beside back's %s and sw_default's %s", fs, n.pool, pool2, subnet, ds)
		}
		if b := nets[1].IPAM.Config[0]; b.Subnet != subnet || b.Gateway != gateway {
			t.Fatalf("back's allocation %+v: want the subnet and gateway asked for, %s and %s", b, subnet, gateway)
		}
	})

	// Mistakes: an error on stderr, nothing on stdout, nothing made.
	before := n.ok("network", "ls", "--format", "{{.ID}} {{.Name}}")
	inBack := netip.PrefixFrom(sub.Addr(), 25).String() // half of back's subnet
	mistakes := []struct {
		args []string
		want string
	}{
		{[]string{"front"}, "network with name front already exists"},
		{[]string{"--subnet", "10.1.2.3/16", "x"}, `invalid subnet "10.1.2.3/16": it has host bits set; did you mean 10.1.0.0/16?`},
		{[]string{"--subnet", "nonsense", "x"}, `invalid subnet "nonsense"`},
		{[]string{"--subnet", "fd00::/64", "x"}, "only IPv4 subnets are supported"},
		{[]string{"--subnet", "192.168.250.0/24", "--gateway", "192.168.251.1", "x"}, "invalid gateway 192.168.251.1: it is not in subnet 192.168.250.0/24"},
		{[]string{"--subnet", "192.168.250.0/24", "--gateway", "192.168.250.255", "x"}, "broadcast address"},
		{[]string{"--gateway", "10.0.0.1", "x"}, "given without a subnet"},
		{[]string{"--subnet", inBack, "x"}, "overlaps network back"},
		{[]string{"-d", "bridge", "x"}, `invalid network driver "bridge": only overlay networks are supported in a swarm`},
		{[]string{"--driver", "macvlan", "x"}, "only overlay networks are supported"},
		{[]string{"bad/name"}, `invalid network name "bad/name"`},
		{[]string{"--", "-dash"}, `invalid network name "-dash"`},
		{[]string{strings.Repeat("n", 65)}, "the limit is 64"},
		{[]string{"bridge"}, "bridge is a pre-defined network and cannot be created"},
		{[]string{"host"}, "pre-defined network"},
		{[]string{"sw_default"}, "sw_default is the swarm's default network and cannot be created"},
		{[]string{"--label", "=x", "x"}, "invalid label"},
		{[]string{}, "requires exactly 1 argument"},
	}
	for _, m := range mistakes {
		r := n.sw(append([]string{"network", "create"}, m.args...)...)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, m.want) {
			t.Errorf("network create %v: exit %d, stdout %q, stderr %q; want an error with %q", m.args, r.code, r.stdout, r.stderr, m.want)
		}
	}
	if after := n.ok("network", "ls", "--format", "{{.ID}} {{.Name}}"); after != before {
		t.Fatalf("refused creates changed the networks:\n%s\nthen:\n%s", before, after)
	}

	// Services name their networks; the spec holds the IDs.
	n.ok("service", "create", "-d", "--name", "web", "--network", "back", "--network", "name=front,alias=www", demoImage)
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.Networks}}", "web")); got !=
		`[{"Target":"`+backID+`"},{"Aliases":["www"],"Target":"`+frontID+`"}]` {
		t.Fatalf("web's networks: %s", got)
	}
	if pretty := n.ok("service", "inspect", "--pretty", "web"); !strings.Contains(pretty, "Networks:\tback front\n") {
		t.Fatalf("service inspect --pretty:\n%s", pretty)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "create", "-d", "--name", "x", "--network", "nosuch", demoImage}, "network nosuch not found"},
		{[]string{"service", "create", "-d", "--name", "x", "--network", "back", "--network", backID, demoImage}, "network back is attached more than once"},
		{[]string{"service", "create", "-d", "--name", "x", "--network", "name=back,alias=no.dots", demoImage}, `invalid alias "no.dots"`},
		{[]string{"service", "create", "-d", "--name", "x", "--network", "name=back,colour=red", demoImage}, `unknown field "colour"`},
		{[]string{"service", "update", "-d", "--network-add", "front", "web"}, "service is already attached to network front"},
		{[]string{"service", "update", "-d", "--network-rm", "nosuch", "web"}, "network nosuch not found"},
	} {
		if r := n.sw(bad.args...); r.code == 0 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error with %q", bad.args, r.code, r.stdout, r.stderr, bad.want)
		}
	}
	if got := lines(n.ok("service", "ls", "--format", "{{.Name}}")); len(got) != 1 {
		t.Fatalf("services after the refused creates: %v", got)
	}

	// A network in use stays; the others of the same rm go.
	r = n.sw("network", "rm", "back", "spare")
	if r.code != 1 || r.stdout != "spare\n" || !strings.Contains(r.stderr, "Error response from daemon: network back is in use by service(s) web") {
		t.Fatalf("network rm of a network in use: %+v", r)
	}
	n.ok("service", "update", "-d", "--network-rm", "front", "web")
	if got := strings.TrimSpace(n.ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.Networks}}", "web")); got !=
		`[{"Target":"`+backID+`"}]` {
		t.Fatalf("web's networks after --network-rm: %s", got)
	}
	if out := n.ok("network", "rm", "front"); out != "front\n" {
		t.Fatalf("network rm front: %q", out)
	}
	n.ok("service", "rm", "web")
	if out := n.ok("network", "rm", backID[:10]); out != backID[:10]+"\n" {
		t.Fatalf("network rm by ID prefix: %q", out)
	}
	if got := n.ok("network", "ls", "--format", "{{.Name}}"); got != "sw_default\n" {
		t.Fatalf("networks left: %q", got)
	}
	r = n.sw("network", "rm", "sw_default")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Error response from daemon: network sw_default is the swarm's default network and cannot be removed") {
		t.Fatalf("network rm sw_default: %+v", r)
	}
	r = n.sw("network", "rm", "nosuch")
	if r.code != 1 || !strings.Contains(r.stderr, "no such network: nosuch") {
		t.Fatalf("network rm nosuch: %+v", r)
	}

	// Pools full: the network that no longer fits is refused at once,
	// not stored to wait for a subnet that never comes. Two /20 pools in
	// /24s hold at most 32 networks.
	var filled []string
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("fill%d", i)
		r := n.sw("network", "create", name)
		if r.code == 0 {
			filled = append(filled, name)
			continue
		}
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "could not find an available, non-overlapping address pool") ||
			!strings.Contains(r.stderr, "--subnet") {
			t.Fatalf("network create with the pools full: %+v", r)
		}
		break
	}
	if len(filled) == 0 || len(filled) >= 32 {
		t.Fatalf("%d networks made before the pools were full, want 1–31", len(filled))
	}
	if got := lines(n.ok("network", "ls", "-q")); len(got) != len(filled)+1 {
		t.Fatalf("%d networks listed after a refusal, want %d", len(got), len(filled)+1)
	}
	eventually(t, 10*time.Second, "every stored network allocated", func() (bool, string) {
		out := n.ok(append([]string{"network", "inspect", "--format", "{{.Name}}={{json .IPAM.Config}}"}, filled...)...)
		return !strings.Contains(out, "=null") && !strings.Contains(out, "=[]"), out
	})
	t.Logf("%d networks fitted in the pools; the next was refused", len(filled))
	n.ok(append([]string{"network", "rm"}, filled...)...)
}
