package commands

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

// rolloutSpec runs the rollout flags through a command over spec.
func rolloutSpec(t *testing.T, spec types.ServiceSpec, args ...string) (types.ServiceSpec, error) {
	t.Helper()
	var perr error
	app := &cli.App{Name: "sw", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
		Name: "update", Flags: rolloutFlags(),
		Action: func(c *cli.Context) error { perr = applyRolloutFlags(c, &spec); return nil },
	}}}
	if err := app.RunContext(context.Background(), append([]string{"sw", "update"}, args...)); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	return spec, perr
}

func TestRolloutFlags(t *testing.T) {
	def := types.DefaultUpdateConfig()
	custom := types.UpdateConfig{Parallelism: 4, Delay: time.Second, FailureAction: types.FailureContinue,
		Monitor: time.Minute, MaxFailureRatio: 0.2, Order: types.OrderStartFirst}
	with := func(base types.UpdateConfig, f func(*types.UpdateConfig)) *types.UpdateConfig {
		f(&base)
		return &base
	}
	for _, tc := range []struct {
		name         string
		spec         types.ServiceSpec
		args         []string
		update, back *types.UpdateConfig
		wantErr      string
	}{
		{name: "create: Docker's defaults", update: &def, back: &def},
		{name: "every update flag",
			args: []string{"--update-parallelism", "0", "--update-delay", "10s", "--update-monitor", "1m",
				"--update-failure-action", "rollback", "--update-max-failure-ratio", "0.25", "--update-order", "start-first"},
			update: &types.UpdateConfig{Parallelism: 0, Delay: 10 * time.Second, Monitor: time.Minute,
				FailureAction: types.FailureRollback, MaxFailureRatio: 0.25, Order: types.OrderStartFirst},
			back: &def},
		{name: "update: only what is given changes",
			spec:   types.ServiceSpec{Update: &custom, Rollback: &custom},
			args:   []string{"--rollback-parallelism", "2"},
			update: &custom, back: with(custom, func(u *types.UpdateConfig) { u.Parallelism = 2 })},
		{name: "negative parallelism", args: []string{"--update-parallelism", "-1"},
			wantErr: `invalid --update-parallelism "-1": want a whole number, 0 or more`},
		{name: "unknown action", args: []string{"--update-failure-action", "explode"},
			wantErr: `invalid --update-failure-action "explode": want pause, continue or rollback`},
		{name: "a rollback cannot roll back", args: []string{"--rollback-failure-action", "rollback"},
			wantErr: `invalid --rollback-failure-action "rollback": want pause or continue`},
		{name: "ratio out of range", args: []string{"--rollback-max-failure-ratio", "NaN"},
			wantErr: `invalid --rollback-max-failure-ratio "NaN": want a number from 0 to 1`},
		{name: "negative delay", args: []string{"--update-delay", "-1s"}, wantErr: `invalid --update-delay "-1s": must not be negative`},
		{name: "bad monitor", args: []string{"--rollback-monitor", "soon"}, wantErr: `invalid --rollback-monitor "soon": want a duration`},
		{name: "bad order", args: []string{"--update-order", "first"}, wantErr: `invalid --update-order "first": want stop-first or start-first`},
		{name: "every mistake at once, nothing changed",
			spec: types.ServiceSpec{Update: &custom},
			args: []string{"--update-parallelism", "x", "--update-order", "y", "--update-delay", "5s"},
			// Both errors, and the good flag not applied either.
			wantErr: "invalid --update-parallelism \"x\": want a whole number, 0 or more\ninvalid --update-order \"y\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.spec
			got, err := rolloutSpec(t, tc.spec, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if !reflect.DeepEqual(got, before) {
					t.Fatalf("a refused flag changed the spec: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Update, tc.update) || !reflect.DeepEqual(got.Rollback, tc.back) {
				t.Fatalf("update %+v rollback %+v\nwant   %+v rollback %+v", got.Update, got.Rollback, tc.update, tc.back)
			}
		})
	}
}

func TestPrettyRollout(t *testing.T) {
	started := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	prettyUpdateStatus(&b, &types.UpdateStatus{State: types.UpdatePaused, StartedAt: &started, Message: "update paused due to failure"},
		started.Add(2*time.Minute))
	prettyUpdateConfig(&b, "RollbackConfig", "Rollback order", types.UpdateConfig{Parallelism: 2, Delay: time.Second,
		FailureAction: "pause", Monitor: 5 * time.Second, MaxFailureRatio: 0.5, Order: "stop-first"})
	want := "UpdateStatus:\n State:\t\tpaused\n Started:\t2 minutes ago\n Message:\tupdate paused due to failure\n" +
		"RollbackConfig:\n Parallelism:\t2\n Delay:\t\t1s\n On failure:\tpause\n Monitoring Period: 5s\n" +
		" Max failure ratio: 0.5\n Rollback order:    stop-first\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
