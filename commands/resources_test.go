package commands

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

func resourceSpec(t *testing.T, spec types.ServiceSpec, args ...string) (types.ServiceSpec, error) {
	t.Helper()
	var perr error
	app := &cli.App{Name: "sw", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
		Name: "update", Flags: resourceFlags(),
		Action: func(c *cli.Context) error { perr = applyResourceFlags(c, &spec); return nil },
	}}}
	if err := app.RunContext(context.Background(), append([]string{"sw", "update"}, args...)); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	return spec, perr
}

func TestResourceFlags(t *testing.T) {
	withRes := func(r *types.ResourceRequirements) types.ServiceSpec {
		return types.ServiceSpec{Container: types.ContainerSpec{Resources: r}}
	}
	for _, tc := range []struct {
		name    string
		spec    types.ServiceSpec
		args    []string
		want    *types.ResourceRequirements
		wantErr string
	}{
		{name: "none given"},
		{name: "Docker's units",
			args: []string{"--limit-cpu", "0.5", "--limit-memory", "1G", "--limit-pids", "100", "--reserve-cpu", "0.25", "--reserve-memory", "512M"},
			want: &types.ResourceRequirements{Limits: &types.Resources{NanoCPUs: 5e8, MemoryBytes: 1 << 30, Pids: 100},
				Reservations: &types.Resources{NanoCPUs: 25e7, MemoryBytes: 512 << 20}}},
		{name: "update keeps what is not given",
			spec: withRes(&types.ResourceRequirements{Limits: &types.Resources{NanoCPUs: 2e9}}),
			args: []string{"--reserve-memory", "64m"},
			want: &types.ResourceRequirements{Limits: &types.Resources{NanoCPUs: 2e9}, Reservations: &types.Resources{MemoryBytes: 64 << 20}}},
		{name: "0 clears",
			spec: withRes(&types.ResourceRequirements{Limits: &types.Resources{NanoCPUs: 2e9}}),
			args: []string{"--limit-cpu", "0"}},
		{name: "bad memory unit", args: []string{"--reserve-memory", "12Q"},
			wantErr: `invalid --reserve-memory "12Q": want an amount of memory such as 512M or 1G`},
		{name: "negative CPUs", args: []string{"--limit-cpu", "-1"}, wantErr: `invalid --limit-cpu "-1": want a number of CPUs`},
		{name: "too fine", args: []string{"--reserve-cpu", "0.0000000001"}, wantErr: "at most 9 decimals"},
		{name: "negative pids", args: []string{"--limit-pids", "-1"}, wantErr: `invalid --limit-pids "-1": want a whole number, 0 or more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resourceSpec(t, tc.spec, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if !reflect.DeepEqual(got, tc.spec) {
					t.Fatalf("a refused flag changed the spec: %+v", got.Container.Resources)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if len(tc.args) == 0 {
				want = tc.spec.Container.Resources
			}
			if !reflect.DeepEqual(got.Container.Resources, want) {
				t.Fatalf("got %+v, want %+v", got.Container.Resources, want)
			}
		})
	}
}
