package commands

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

// parseHealth runs the health flags through a command and returns what
// they parse to.
func parseHealth(t *testing.T, args ...string) (healthOptions, error) {
	t.Helper()
	var o healthOptions
	var perr error
	app := &cli.App{Name: "sw", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
		Name: "create", Flags: healthFlags(),
		Action: func(c *cli.Context) error { o, perr = parseHealthFlags(c); return nil },
	}}}
	if err := app.RunContext(context.Background(), append([]string{"sw", "create"}, args...)); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	return o, perr
}

func TestHealthFlagsCreate(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    *types.HealthConfig
		wantErr string
	}{
		{args: nil, want: nil},
		{args: []string{"--health-cmd", "curl -f http://localhost/ || exit 1"},
			want: &types.HealthConfig{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}}},
		{args: []string{"--health-cmd", "[ -f /tmp/ok ]"}, want: &types.HealthConfig{Test: []string{"CMD-SHELL", "[ -f /tmp/ok ]"}}},
		{args: []string{"--health-cmd", `["/demoapp", "health"]`}, want: &types.HealthConfig{Test: []string{"CMD", "/demoapp", "health"}}},
		{args: []string{"--health-cmd", `[]`}, wantErr: "the command is empty"},
		{args: []string{"--health-cmd", "test -f /tmp/ok", "--health-interval", "500ms", "--health-timeout", "2s",
			"--health-retries", "2", "--health-start-period", "1m"},
			want: &types.HealthConfig{Test: []string{"CMD-SHELL", "test -f /tmp/ok"}, Interval: 500 * time.Millisecond,
				Timeout: 2 * time.Second, Retries: 2, StartPeriod: time.Minute}},
		{args: []string{"--health-interval", "10s"}, want: &types.HealthConfig{Interval: 10 * time.Second}},
		{args: []string{"--health-interval", "0s"}, want: nil},
		{args: []string{"--no-healthcheck"}, want: &types.HealthConfig{Test: []string{"NONE"}}},
		{args: []string{"--no-healthcheck", "--health-cmd", "true"}, wantErr: "--no-healthcheck conflicts with --health-* options"},
		{args: []string{"--health-interval", "soon"}, wantErr: `invalid --health-interval "soon": want a duration`},
		{args: []string{"--health-timeout", "-1s"}, wantErr: `invalid --health-timeout "-1s": must not be negative`},
		{args: []string{"--health-start-period", "10us"}, wantErr: `invalid --health-start-period "10us": must be 0 or at least 1ms`},
		{args: []string{"--health-retries", "-1"}, wantErr: `invalid --health-retries "-1": must not be negative`},
		{args: []string{"--health-retries", "x"}, wantErr: `invalid --health-retries "x": want a whole number`},
	} {
		o, err := parseHealth(t, tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got := o.create(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestHealthFlagsUpdate(t *testing.T) {
	shell := &types.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Second, Retries: 2}
	for _, tc := range []struct {
		name string
		old  *types.HealthConfig
		args []string
		want *types.HealthConfig
	}{
		{"no flags keep it", shell, nil, shell},
		{"no flags keep none", nil, nil, nil},
		{"interval only", shell, []string{"--health-interval", "5s"},
			&types.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 5 * time.Second, Retries: 2}},
		{"new command", shell, []string{"--health-cmd", "false"},
			&types.HealthConfig{Test: []string{"CMD-SHELL", "false"}, Interval: time.Second, Retries: 2}},
		{"added", nil, []string{"--health-cmd", "true", "--health-retries", "1"},
			&types.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Retries: 1}},
		{"disabled", shell, []string{"--no-healthcheck"}, &types.HealthConfig{Test: []string{"NONE"}}},
		{"re-enabled by a setting", &types.HealthConfig{Test: []string{"NONE"}}, []string{"--health-interval", "2s"},
			&types.HealthConfig{Interval: 2 * time.Second}},
		{"--no-healthcheck=false drops NONE", &types.HealthConfig{Test: []string{"NONE"}}, []string{"--no-healthcheck=false"}, nil},
		{"empty command: the image's", &types.HealthConfig{Test: []string{"CMD-SHELL", "true"}}, []string{"--health-cmd", ""}, nil},
	} {
		o, err := parseHealth(t, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var before *types.HealthConfig
		if tc.old != nil {
			c := *tc.old
			before = &c
		}
		if got := o.update(tc.old); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if before != nil && !reflect.DeepEqual(*before, *tc.old) {
			t.Errorf("%s: the old health check was changed in place", tc.name)
		}
	}
}
