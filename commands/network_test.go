package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/store"
	"sw/cluster/types"
)

func TestParseNetwork(t *testing.T) {
	att := func(target string, aliases ...string) types.NetworkAttachmentConfig {
		return types.NetworkAttachmentConfig{Target: target, Aliases: aliases}
	}
	tests := []struct {
		in      string
		want    types.NetworkAttachmentConfig
		wantErr string // a substring of the error; "" when none is expected
	}{
		{in: "front", want: att("front")},
		{in: "sw_default", want: att("sw_default")},
		{in: "k3j4h5", want: att("k3j4h5")},
		{in: "name=front", want: att("front")},
		{in: "target=front", want: att("front")},
		{in: "NAME=front", want: att("front")},
		{in: "name=front,alias=web", want: att("front", "web")},
		{in: "alias=web,name=front,alias=www", want: att("front", "web", "www")},
		{in: `"name=front","alias=web"`, want: att("front", "web")},
		{in: "", wantErr: "want a network's name or ID"},
		{in: " ", wantErr: "want a network's name or ID"},
		{in: "a,b", wantErr: "want a network's name or ID"},
		{in: "alias=web", wantErr: "name= is required"},
		{in: "name=", wantErr: "name= is empty"},
		{in: "name=a,target=b", wantErr: "the network is named twice"},
		{in: "name=a,alias=", wantErr: "alias= is empty"},
		{in: "name=a,web", wantErr: `field "web" is not KEY=VALUE`},
		{in: "name=a,colour=red", wantErr: `unknown field "colour"`},
		{in: "name=a,driver-opt=x=y", wantErr: "driver options are not supported"},
		{in: `name=a,alias="w`, wantErr: "invalid network"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNetwork(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "invalid network ") {
					t.Fatalf("ParseNetwork(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseNetwork(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseNetwork(f *testing.F) {
	for _, s := range []string{"front", "name=front,alias=web", "target=x", "alias=a", "name=", `"name=a"`, "a,b", "=", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseNetwork(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid network ") {
				t.Fatalf("ParseNetwork(%q) error %q does not say invalid network", s, err)
			}
			return
		}
		if a.Target == "" {
			t.Fatalf("ParseNetwork(%q) accepted an attachment with no network: %+v", s, a)
		}
		for _, al := range a.Aliases {
			if al == "" {
				t.Fatalf("ParseNetwork(%q) accepted an empty alias", s)
			}
		}
	})
}

func TestUpdateNetworks(t *testing.T) {
	att := func(target string, aliases ...string) types.NetworkAttachmentConfig {
		return types.NetworkAttachmentConfig{Target: target, Aliases: aliases}
	}
	have := []types.NetworkAttachmentConfig{att("id1", "a"), att("id2")}
	tests := []struct {
		name string
		rm   map[string]bool
		add  []types.NetworkAttachmentConfig
		want []types.NetworkAttachmentConfig
		err  string
	}{
		{name: "nothing", want: have},
		{name: "remove one", rm: map[string]bool{"id1": true}, want: []types.NetworkAttachmentConfig{att("id2")}},
		{name: "remove all", rm: map[string]bool{"id1": true, "id2": true}, want: nil},
		{name: "remove one it is not on", rm: map[string]bool{"id9": true}, want: have},
		{name: "add one", add: []types.NetworkAttachmentConfig{att("id3", "x")},
			want: []types.NetworkAttachmentConfig{att("id1", "a"), att("id2"), att("id3", "x")}},
		{name: "remove then add back with another alias", rm: map[string]bool{"id1": true}, add: []types.NetworkAttachmentConfig{att("id1", "b")},
			want: []types.NetworkAttachmentConfig{att("id2"), att("id1", "b")}},
		{name: "add one it is on", add: []types.NetworkAttachmentConfig{att("id2")}, err: "service is already attached to network back"},
		{name: "add one twice", add: []types.NetworkAttachmentConfig{att("id3"), att("id3")}, err: "already attached to network id3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := updateNetworks(have, tt.rm, tt.add, map[string]string{"id2": "back"})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err && !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("updateNetworks: %+v, %v; want %q", got, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("updateNetworks = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMatchLabels(t *testing.T) {
	labels := map[string]string{"tier": "web", "empty": "", "a": "x=y"}
	tests := []struct {
		filters []string
		want    bool
	}{
		{nil, true},
		{[]string{"tier"}, true},
		{[]string{"tier=web"}, true},
		{[]string{"tier=db"}, false},
		{[]string{"nope"}, false},
		{[]string{"empty"}, true},
		{[]string{"empty="}, true},
		{[]string{"a=x=y"}, true},
		{[]string{"tier", "empty"}, true},
		{[]string{"tier=web", "nope"}, false}, // every label filter must hold
	}
	for _, tt := range tests {
		if got := matchLabels(tt.filters, labels); got != tt.want {
			t.Errorf("matchLabels(%q) = %v, want %v", tt.filters, got, tt.want)
		}
	}
}

// TestDockerNetwork: inspect's JSON has Docker's keys, in Docker's order,
// with the allocation once there is one, the request before.
func TestDockerNetwork(t *testing.T) {
	created := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	tests := []struct {
		name string
		n    types.Network
		want string
	}{
		{name: "allocated",
			n: types.Network{ID: "abc", Meta: types.Meta{CreatedAt: created}, Subnet: "10.9.0.0/24", Gateway: "10.9.0.1", VNI: 4097,
				Spec: types.NetworkSpec{Name: "front", Driver: "overlay", Attachable: true, Labels: map[string]string{"k": "v"}}},
			want: `{"Name":"front","Id":"abc","Created":"2025-03-04T05:06:07.000000008Z","Scope":"swarm","Driver":"overlay",` +
				`"EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}]},` +
				`"Internal":false,"Attachable":true,"Ingress":false,"Options":{"com.docker.network.driver.overlay.vxlanid_list":"4097"},` +
				`"Labels":{"k":"v"}}`},
		{name: "asked for a subnet, not allocated yet",
			n: types.Network{ID: "abc", Meta: types.Meta{CreatedAt: created}, Spec: types.NetworkSpec{Name: "front", Subnet: "10.8.0.0/24"}},
			want: `{"Name":"front","Id":"abc","Created":"2025-03-04T05:06:07.000000008Z","Scope":"swarm","Driver":"overlay",` +
				`"EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"10.8.0.0/24"}]},` +
				`"Internal":false,"Attachable":false,"Ingress":false,"Options":{},"Labels":{}}`},
		{name: "not allocated yet",
			n: types.Network{ID: "abc", Meta: types.Meta{CreatedAt: created}, Spec: types.NetworkSpec{Name: "front", Driver: "overlay"}},
			want: `{"Name":"front","Id":"abc","Created":"2025-03-04T05:06:07.000000008Z","Scope":"swarm","Driver":"overlay",` +
				`"EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[]},` +
				`"Internal":false,"Attachable":false,"Ingress":false,"Options":{},"Labels":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(dockerNetwork(&tt.n))
			if err != nil || string(b) != tt.want {
				t.Fatalf("got  %s (%v)\nwant %s", b, err, tt.want)
			}
		})
	}
}

// netDaemon is an API server on a unix socket over an in-memory store;
// it commits writes without checking them (the daemon's checks have
// their own tests) and records the service specs it is sent.
type netDaemon struct {
	api.Backend
	st    *store.Store
	local *store.Local
	n     int
	specs []types.ServiceSpec
}

func (d *netDaemon) Store(context.Context) (*store.Store, error) { return d.st, nil }

func (d *netDaemon) newID(prefix string) string {
	d.n++
	return fmt.Sprintf("%s%0*d", prefix, types.IDLength-len(prefix), d.n)
}

func (d *netDaemon) CreateNetwork(ctx context.Context, spec types.NetworkSpec) (string, error) {
	n := &types.Network{ID: d.newID("net"), Spec: spec}
	return n.ID, d.local.Propose(ctx, &store.Command{Changes: []store.Change{{CreateNetwork: n}}})
}

func (d *netDaemon) RemoveNetwork(ctx context.Context, id string) error {
	return d.local.Propose(ctx, &store.Command{Changes: []store.Change{{DeleteNetwork: id}}})
}

func (d *netDaemon) CreateService(ctx context.Context, spec types.ServiceSpec) (string, error) {
	d.specs = append(d.specs, spec)
	s := &types.Service{ID: d.newID("svc"), Spec: spec}
	return s.ID, d.local.Propose(ctx, &store.Command{Changes: []store.Change{{CreateService: s}}})
}

func (d *netDaemon) UpdateService(ctx context.Context, id string, _ uint64, spec types.ServiceSpec) error {
	d.specs = append(d.specs, spec)
	next := *d.st.View().Service(id)
	next.Spec = spec
	return d.local.Propose(ctx, &store.Command{Changes: []store.Change{{UpdateService: &next}}})
}

// serve starts the API on a socket and returns the CLI's -H for it.
func (d *netDaemon) serve(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "sw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "unix://" + sock
}

// newNetDaemon has the default network (allocated) and "front"
// (labelled tier=web) and "back" (allocated, labelled tier=db).
func newNetDaemon(t *testing.T) (*netDaemon, string) {
	t.Helper()
	st := store.New()
	d := &netDaemon{st: st, local: &store.Local{Store: st}}
	ctx := context.Background()
	if err := d.local.Propose(ctx, &store.Command{Changes: []store.Change{{CreateNetwork: &types.Network{ID: "def0000000000000000000001",
		Spec:   types.NetworkSpec{Name: types.DefaultNetworkName, Driver: "overlay", Ingress: true},
		Subnet: "10.0.0.0/16", Gateway: "10.0.0.1", VNI: 4096}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateNetwork(ctx, types.NetworkSpec{Name: "front", Driver: "overlay", Labels: map[string]string{"tier": "web"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.local.Propose(ctx, &store.Command{Changes: []store.Change{{CreateNetwork: &types.Network{ID: "bac0000000000000000000002",
		Spec:   types.NetworkSpec{Name: "back", Driver: "overlay", Labels: map[string]string{"tier": "db"}},
		Subnet: "10.1.0.0/24", Gateway: "10.1.0.1", VNI: 4097}}}}); err != nil {
		t.Fatal(err)
	}
	return d, d.serve(t)
}

const frontID = "net0000000000000000000001"

func TestNetworkLsCommand(t *testing.T) {
	_, host := newNetDaemon(t)
	tests := []struct {
		name string
		args []string
		want string
		err  string
	}{
		{name: "table, sorted by name", args: nil,
			want: "NETWORK ID     NAME         DRIVER    SCOPE\n" +
				"bac000000000   back         overlay   swarm\n" +
				"net000000000   front        overlay   swarm\n" +
				"def000000000   sw_default   overlay   swarm\n"},
		{name: "quiet", args: []string{"-q"}, want: "bac000000000\nnet000000000\ndef000000000\n"},
		{name: "quiet, no-trunc", args: []string{"-q", "--no-trunc", "-f", "name=front"}, want: frontID + "\n"},
		{name: "template", args: []string{"--format", `{{.Name}} {{.Label "tier"}} {{.Labels}}`},
			want: "back db tier=db\nfront web tier=web\nsw_default  \n"},
		{name: "table template", args: []string{"--format", "table {{.Name}}\t{{.IPv6}}"},
			want: "NAME         IPV6\nback         false\nfront        false\nsw_default   false\n"},
		{name: "json", args: []string{"--format", "json", "--filter", "name=back"},
			want: `{"ID":"bac000000000","Name":"back","Driver":"overlay","Scope":"swarm","IPv6":"false","Internal":"false","Labels":"tier=db","CreatedAt":`},
		{name: "filter name prefix", args: []string{"-q", "--filter", "name=fr"}, want: "net000000000\n"},
		{name: "filter id prefix", args: []string{"--format", "{{.Name}}", "--filter", "id=def"}, want: "sw_default\n"},
		{name: "filter label key", args: []string{"--format", "{{.Name}}", "--filter", "label=tier"}, want: "back\nfront\n"},
		{name: "filter label value", args: []string{"--format", "{{.Name}}", "--filter", "label=tier=web"}, want: "front\n"},
		{name: "filter driver", args: []string{"--format", "{{.Name}}", "--filter", "driver=bridge"}, want: ""},
		{name: "filters of two keys", args: []string{"--format", "{{.Name}}", "-f", "driver=overlay", "-f", "name=back"}, want: "back\n"},
		{name: "unknown filter", args: []string{"--filter", "colour=red"},
			err: "invalid filter 'colour': unknown key; valid keys are: driver, id, label, name, scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, append([]string{"-H", host, "network", "ls"}, tt.args...)...)
			if tt.err != "" {
				if code != 1 || !strings.Contains(errOut, tt.err) || out != "" {
					t.Fatalf("exit %d, stdout %q, stderr %q; want an error with %q", code, out, errOut, tt.err)
				}
				return
			}
			if code != 0 || !strings.HasPrefix(out, tt.want) || (tt.name != "json" && out != tt.want) {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, tt.want)
			}
		})
	}
}

func TestNetworkInspectCommand(t *testing.T) {
	_, host := newNetDaemon(t)
	out, errOut, code := runCLI(t, nil, "-H", host, "network", "inspect", "back", "nosuch", "front")
	var got []map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 2 || got[0]["Name"] != "back" || got[1]["Name"] != "front" ||
		errOut != "Error: No such network: nosuch\n" {
		t.Fatalf("inspect with one missing: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "[\n    {\n        \"Name\": \"back\",\n        \"Id\": \"bac0000000000000000000002\",") {
		t.Fatalf("not Docker's indented array:\n%s", out)
	}
	out, errOut, code = runCLI(t, nil, "-H", host, "network", "inspect", "nosuch")
	if code != 1 || out != "[]\n" || errOut != "Error: No such network: nosuch\n" {
		t.Fatalf("inspect of a missing network: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runCLI(t, nil, "-H", host, "network", "inspect", "--format",
		`{{.Name}} {{.Scope}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}`, "back", "sw_default")
	if code != 0 || out != "back swarm 10.1.0.0/24 10.1.0.1 4097\nsw_default swarm 10.0.0.0/16 10.0.0.1 4096\n" {
		t.Fatalf("inspect --format: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, _, code = runCLI(t, nil, "-H", host, "network", "inspect", "-f", "{{.Id}}", "fr")
	if code != 1 || out != "" {
		// "fr" is no name and no ID prefix ("front"'s ID starts "net").
		t.Fatalf("inspect by a prefix of a name: exit %d, stdout %q", code, out)
	}
	out, _, code = runCLI(t, nil, "-H", host, "network", "inspect", "-f", "{{.Name}}", "net0")
	if code != 0 || out != "front\n" {
		t.Fatalf("inspect by ID prefix: exit %d, stdout %q", code, out)
	}
	if _, errOut, code := runCLI(t, nil, "-H", host, "network", "inspect"); code != 1 || !strings.Contains(errOut, "requires at least 1 argument") {
		t.Fatalf("inspect without arguments: exit %d, stderr %q", code, errOut)
	}
}

func TestNetworkCreateAndRmCommands(t *testing.T) {
	d, host := newNetDaemon(t)
	out, errOut, code := runCLI(t, nil, "-H", host, "network", "create", "mid", "--subnet", "10.5.0.0/24", "--gateway", "10.5.0.9",
		"--attachable", "--label", "a=b", "--label", "c")
	id := strings.TrimSpace(out)
	n := d.st.View().Network(id)
	if code != 0 || n == nil || !reflect.DeepEqual(n.Spec, types.NetworkSpec{Name: "mid", Driver: "overlay", Attachable: true,
		Subnet: "10.5.0.0/24", Gateway: "10.5.0.9", Labels: map[string]string{"a": "b", "c": ""}}) {
		t.Fatalf("create: exit %d, stdout %q, stderr %q, stored %+v", code, out, errOut, n)
	}
	if _, errOut, code := runCLI(t, nil, "-H", host, "network", "create", "mid"); code != 1 || errOut != "Error: network with name mid already exists\n" {
		t.Fatalf("create of a name in use: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"network", "create"}, {"network", "create", "a", "b"}} {
		if _, errOut, code := runCLI(t, nil, append([]string{"-H", host}, args...)...); code != 1 || !strings.Contains(errOut, "requires exactly 1 argument") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, nil, "-H", host, "network", "create", "--label", "=x", "n"); code != 1 || !strings.Contains(errOut, "invalid label") {
		t.Fatalf("create with a bad label: exit %d, stderr %q", code, errOut)
	}

	ctx := context.Background()
	if _, err := d.CreateService(ctx, types.ServiceSpec{Name: "web", Networks: []types.NetworkAttachmentConfig{{Target: id}}}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, nil, "-H", host, "network", "rm", "front", "mid", "nosuch", "back")
	if code != 1 || out != "front\nback\n" || errOut != "Error response from daemon: network mid is in use by service(s) web\n"+
		"Error response from daemon: no such network: nosuch\n" {
		t.Fatalf("rm: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	if got := len(d.st.View().Networks()); got != 2 {
		t.Fatalf("%d networks left, want mid and sw_default", got)
	}
	out, errOut, code = runCLI(t, nil, "-H", host, "network", "rm", types.DefaultNetworkName)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "Error response from daemon: network sw_default is the swarm's default network") {
		t.Fatalf("rm sw_default: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = runCLI(t, nil, "-H", "unix://"+filepath.Join(t.TempDir(), "none.sock"), "network", "rm", "x")
	if code != 1 || !strings.HasPrefix(errOut, "Error: cannot connect to the sw daemon") {
		t.Fatalf("rm without a daemon: exit %d, stderr %q", code, errOut)
	}
}

// TestServiceNetworkFlags: --network on create, --network-add and
// --network-rm on update (names resolved to IDs by the CLI, as Docker's),
// and the Networks line of inspect --pretty.
func TestServiceNetworkFlags(t *testing.T) {
	d, host := newNetDaemon(t)
	att := func(target string, aliases ...string) types.NetworkAttachmentConfig {
		return types.NetworkAttachmentConfig{Target: target, Aliases: aliases}
	}
	out, errOut, code := runCLI(t, nil, "-H", host, "service", "create", "-d", "--name", "web", "--network", "front",
		"--network", "name=back,alias=db,alias=db2", "busybox")
	if code != 0 || len(d.specs) != 1 || !reflect.DeepEqual(d.specs[0].Networks, []types.NetworkAttachmentConfig{att("front"), att("back", "db", "db2")}) {
		t.Fatalf("create: exit %d, stdout %q, stderr %q, specs %+v", code, out, errOut, d.specs)
	}
	if _, errOut, code := runCLI(t, nil, "-H", host, "service", "create", "-d", "--network", "name=x,colour=red", "busybox"); code != 1 ||
		!strings.Contains(errOut, `invalid network "name=x,colour=red": unknown field "colour"`) || len(d.specs) != 1 {
		t.Fatalf("create with a bad --network: exit %d, stderr %q", code, errOut)
	}
	// What the daemon stores: IDs (this fake stores what it is sent).
	svc := d.st.View().ServiceByName("web")
	next := *svc
	next.Spec.Networks = []types.NetworkAttachmentConfig{att(frontID), att("bac0000000000000000000002", "db")}
	if err := d.local.Propose(context.Background(), &store.Command{Changes: []store.Change{{UpdateService: &next}}}); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCLI(t, nil, "-H", host, "service", "inspect", "--pretty", "web")
	if code != 0 || !strings.Contains(out, "Networks:\tfront back\n") {
		t.Fatalf("inspect --pretty: exit %d:\n%s", code, out)
	}
	// Templates see the JSON as maps: keys sorted.
	out, _, code = runCLI(t, nil, "-H", host, "service", "inspect", "--format", "{{json .Spec.TaskTemplate.Networks}}", "web")
	if code != 0 || out != `[{"Target":"`+frontID+`"},{"Aliases":["db"],"Target":"bac0000000000000000000002"}]`+"\n" {
		t.Fatalf("inspect --format: exit %d: %q", code, out)
	}

	tests := []struct {
		name string
		args []string
		want []types.NetworkAttachmentConfig
		err  string
	}{
		{name: "remove by name", args: []string{"--network-rm", "front"}, want: []types.NetworkAttachmentConfig{att("bac0000000000000000000002", "db")}},
		{name: "add by name with an alias", args: []string{"--network-add", "name=front,alias=www"},
			want: []types.NetworkAttachmentConfig{att("bac0000000000000000000002", "db"), att(frontID, "www")}},
		{name: "remove by ID prefix, add the default", args: []string{"--network-rm", "bac", "--network-add", "sw_default"},
			want: []types.NetworkAttachmentConfig{att(frontID, "www"), att("def0000000000000000000001")}},
		{name: "add one it is on", args: []string{"--network-add", "front"}, err: "service is already attached to network front"},
		{name: "add an unknown one", args: []string{"--network-add", "nosuch"}, err: "network nosuch not found"},
		{name: "remove an unknown one", args: []string{"--network-rm", "nosuch"}, err: "network nosuch not found"},
		{name: "bad syntax", args: []string{"--network-add", "alias=x"}, err: "name= is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(d.specs)
			out, errOut, code := runCLI(t, nil, append(append([]string{"-H", host, "service", "update", "-d"}, tt.args...), "web")...)
			if tt.err != "" {
				if code != 1 || !strings.Contains(errOut, tt.err) || len(d.specs) != before {
					t.Fatalf("exit %d, stderr %q, %d updates; want %q and no update", code, errOut, len(d.specs)-before, tt.err)
				}
				return
			}
			if code != 0 || out != "web\n" || len(d.specs) != before+1 || !reflect.DeepEqual(d.specs[before].Networks, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q, networks %+v; want %+v", code, out, errOut, d.specs[len(d.specs)-1].Networks, tt.want)
			}
		})
	}
}
