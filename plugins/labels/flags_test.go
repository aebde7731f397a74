package labels

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
)

func TestExtend(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"service create", []string{"constraint", "placement-pref"}},
		{"service update", []string{"constraint-add", "constraint-rm", "placement-pref-add", "placement-pref-rm"}},
		{"node update", []string{"label-add", "label-rm"}},
		{"service ls", nil},
		{"swarm init", nil},
	}
	for _, tt := range tests {
		cmd := &cli.Command{Name: tt.path}
		New().Extend(tt.path, cmd)
		var got []string
		for _, f := range cmd.Flags {
			got = append(got, f.Names()[0])
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Extend(%q) added %q, want %q", tt.path, got, tt.want)
		}
	}
}

// run parses args with the flags Extend gives path and calls action.
func run(t *testing.T, path string, args []string, action func(*cli.Context) error) error {
	t.Helper()
	cmd := &cli.Command{Name: "x", Action: action}
	New().Extend(path, cmd)
	app := &cli.App{Name: "sw", Commands: []*cli.Command{cmd}, DisableSliceFlagSeparator: true,
		ExitErrHandler: func(*cli.Context, error) {}}
	return app.RunContext(context.Background(), append([]string{"sw", "x"}, args...))
}

func TestApplyServiceFlags(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		args    []string
		before  []string
		want    []string
		wantErr string
	}{
		{name: "create without", path: "service create", want: nil},
		{name: "create", path: "service create", args: []string{"--constraint", "node.labels.zone==east", "--constraint", " node.role!=manager"},
			want: []string{"node.labels.zone==east", "node.role!=manager"}},
		{name: "create with a comma in one", path: "service create", args: []string{"--constraint", "node.labels.a==b,c"},
			wantErr: `value "b,c" is invalid`},
		{name: "create bad", path: "service create", args: []string{"--constraint", "node.labels.zone=east"},
			wantErr: "labels: invalid constraint"},
		{name: "update untouched", path: "service update", before: []string{"node.role==worker"}, want: []string{"node.role==worker"}},
		{name: "update add", path: "service update", args: []string{"--constraint-add", "node.labels.zone==east"},
			before: []string{"node.role==worker"}, want: []string{"node.labels.zone==east", "node.role==worker"}},
		{name: "update rm", path: "service update", args: []string{"--constraint-rm", "node.role==worker"},
			before: []string{"node.role==worker", "node.labels.zone==east"}, want: []string{"node.labels.zone==east"}},
		{name: "update rm all", path: "service update", args: []string{"--constraint-rm", "node.role==worker"},
			before: []string{"node.role==worker"}, want: nil},
		{name: "update bad add", path: "service update", args: []string{"--constraint-add", "nope"},
			before: []string{"node.role==worker"}, wantErr: "want KEY==VALUE", want: []string{"node.role==worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &types.ServiceSpec{Placement: types.Placement{Constraints: tt.before}}
			err := run(t, tt.path, tt.args, func(c *cli.Context) error {
				return New().ApplyServiceFlags(c, spec, tt.path == "service update")
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(spec.Placement.Constraints, tt.want) {
				t.Errorf("constraints %q, want %q", spec.Placement.Constraints, tt.want)
			}
		})
	}
}

func TestUpdateConstraints(t *testing.T) {
	tests := []struct {
		name        string
		cs, add, rm []string
		want        []string
	}{
		{name: "nothing", want: nil},
		{name: "add sorted", cs: []string{"node.role==worker"}, add: []string{"node.labels.a==b"},
			want: []string{"node.labels.a==b", "node.role==worker"}},
		{name: "no duplicate", cs: []string{"node.role==worker"}, add: []string{" node.role==worker "},
			want: []string{"node.role==worker"}},
		{name: "rm missing is no error", cs: []string{"node.role==worker"}, rm: []string{"node.labels.x==y"},
			want: []string{"node.role==worker"}},
		{name: "rm then add the same", cs: []string{"node.role==worker"}, add: []string{"node.role==worker"}, rm: []string{"node.role==worker"},
			want: []string{"node.role==worker"}},
		{name: "replace", cs: []string{"node.labels.zone==east"}, add: []string{"node.labels.zone==west"}, rm: []string{"node.labels.zone==east"},
			want: []string{"node.labels.zone==west"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpdateConstraints(tt.cs, tt.add, tt.rm); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("UpdateConstraints = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplyNodeFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    api.NodeUpdateRequest
		wantErr string
	}{
		{name: "none", want: api.NodeUpdateRequest{}},
		{name: "add and rm", args: []string{"--label-add", "zone=east", "--label-add", "ssd", "--label-add", "url=a=b,c", "--label-rm", "old"},
			want: api.NodeUpdateRequest{LabelAdd: map[string]string{"zone": "east", "ssd": "", "url": "a=b,c"}, LabelRm: []string{"old"}}},
		{name: "empty key", args: []string{"--label-add", "=x"}, wantErr: `labels: invalid label "=x"`},
		{name: "empty rm", args: []string{"--label-rm", ""}, wantErr: "labels: invalid --label-rm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req api.NodeUpdateRequest
			err := run(t, "node update", tt.args, func(c *cli.Context) error { return New().ApplyNodeFlags(c, &req) })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req, tt.want) {
				t.Errorf("request %+v, want %+v", req, tt.want)
			}
		})
	}
}

func TestPreferenceFlags(t *testing.T) {
	pref := func(k string) types.PlacementPreference {
		return types.PlacementPreference{Spread: &types.SpreadOver{SpreadDescriptor: "node.labels." + k}}
	}
	var spec types.ServiceSpec
	err := run(t, "service create", []string{"--placement-pref", "spread=node.labels.zone", "--placement-pref", "spread=node.labels.rack"},
		func(c *cli.Context) error { return New().ApplyServiceFlags(c, &spec, false) })
	if err != nil || !reflect.DeepEqual(spec.Placement.Preferences, []types.PlacementPreference{pref("zone"), pref("rack")}) {
		t.Fatalf("create: %v %+v", err, spec.Placement.Preferences)
	}
	err = run(t, "service update", []string{"--placement-pref-rm", "spread=node.labels.zone", "--placement-pref-add", "spread=node.labels.dc"},
		func(c *cli.Context) error { return New().ApplyServiceFlags(c, &spec, true) })
	if err != nil || !reflect.DeepEqual(spec.Placement.Preferences, []types.PlacementPreference{pref("rack"), pref("dc")}) {
		t.Fatalf("update: %v %+v", err, spec.Placement.Preferences)
	}
	for _, bad := range []string{"spread=node.hostname", "pack=node.labels.zone", "spread", "spread=node.labels."} {
		err := run(t, "service create", []string{"--placement-pref", bad},
			func(c *cli.Context) error { return New().ApplyServiceFlags(c, &types.ServiceSpec{}, false) })
		if err == nil || !strings.Contains(err.Error(), "labels: invalid placement preference") {
			t.Errorf("--placement-pref %s: %v", bad, err)
		}
	}
}
