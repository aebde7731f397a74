package commands

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
)

// rolloutKinds are the two configurations a service has, by flag prefix.
var rolloutKinds = []string{"update", "rollback"}

// rolloutFlags are Docker's --update-* and --rollback-* flags.
func rolloutFlags() []cli.Flag {
	var out []cli.Flag
	for _, k := range rolloutKinds {
		actions, done, verb, noun := "pause, continue or rollback", "updated", "update", "an update"
		if k == "rollback" {
			actions, done, verb, noun = "pause or continue", "rolled back", "roll back", "a rollback"
		}
		out = append(out,
			&cli.StringFlag{Name: k + "-parallelism", Usage: "maximum number of tasks " + done + " simultaneously (0 to " + verb + " all at once; default 1)"},
			&cli.StringFlag{Name: k + "-delay", Usage: "delay between task " + k + "s (ns|us|ms|s|m|h; default 0s)"},
			&cli.StringFlag{Name: k + "-monitor", Usage: "duration after each task " + k + " to monitor for failure (ns|us|ms|s|m|h; default 5s)"},
			&cli.StringFlag{Name: k + "-failure-action", Usage: "action on " + k + " failure: " + actions + " (default pause)"},
			&cli.StringFlag{Name: k + "-max-failure-ratio", Usage: "failure rate to tolerate during " + noun + " (0 to 1; default 0)"},
			&cli.StringFlag{Name: k + "-order", Usage: k + " order: start-first or stop-first (default stop-first)"},
		)
	}
	return out
}

// applyRolloutFlags sets the update and rollback configurations from the
// flags given; what was not given keeps its value (on create: Docker's
// defaults). Every malformed value is reported, and nothing is changed
// unless all are good.
func applyRolloutFlags(c *cli.Context, spec *types.ServiceSpec) error {
	var errs []error
	targets := map[string]**types.UpdateConfig{"update": &spec.Update, "rollback": &spec.Rollback}
	next := map[string]*types.UpdateConfig{}
	for _, k := range rolloutKinds {
		cfg := types.DefaultUpdateConfig()
		if cur := *targets[k]; cur != nil {
			cfg = *cur
		}
		set := false
		for _, name := range []string{"parallelism", "delay", "monitor", "failure-action", "max-failure-ratio", "order"} {
			flag := k + "-" + name
			if !c.IsSet(flag) {
				continue
			}
			set = true
			if err := setRollout(&cfg, name, flag, c.String(flag), k == "rollback"); err != nil {
				errs = append(errs, err)
			}
		}
		if set || *targets[k] == nil {
			next[k] = &cfg
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for k, cfg := range next {
		*targets[k] = cfg
	}
	return nil
}

func setRollout(cfg *types.UpdateConfig, name, flag, v string, rollback bool) error {
	switch name {
	case "parallelism":
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid --%s %q: want a whole number, 0 or more", flag, v)
		}
		cfg.Parallelism = n
	case "delay", "monitor":
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case err != nil:
			return fmt.Errorf("invalid --%s %q: want a duration such as 10s or 1m", flag, v)
		case d < 0:
			return fmt.Errorf("invalid --%s %q: must not be negative", flag, v)
		}
		if name == "delay" {
			cfg.Delay = d
		} else {
			cfg.Monitor = d
		}
	case "failure-action":
		a, err := types.ParseFailureAction(v, rollback)
		if err != nil {
			want := "pause, continue or rollback"
			if rollback {
				want = "pause or continue"
			}
			return fmt.Errorf("invalid --%s %q: want %s", flag, v, want)
		}
		cfg.FailureAction = a
	case "max-failure-ratio":
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return fmt.Errorf("invalid --%s %q: want a number from 0 to 1", flag, v)
		}
		cfg.MaxFailureRatio = f
	case "order":
		o, err := types.ParseOrder(v)
		if err != nil {
			return fmt.Errorf("invalid --%s %q: want stop-first or start-first", flag, v)
		}
		cfg.Order = o
	}
	return nil
}

func serviceRollbackCommand() *cli.Command {
	return &cli.Command{
		Name: "rollback", Usage: "revert changes to a service's configuration", ArgsUsage: "SERVICE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit immediately instead of waiting for the service to converge"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output"},
		},
		Action: serviceRollback,
	}
}

// serviceRollback is `service rollback` and `service update --rollback`.
func serviceRollback(c *cli.Context) error {
	if err := exactArgs(c, 1, "service rollback [OPTIONS] SERVICE"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	ref := c.Args().First()
	var id string
	for attempt := 0; ; attempt++ {
		svc, err := cl.Service(c.Context, ref)
		if err != nil {
			return err
		}
		id = svc.ID
		err = cl.RollbackService(c.Context, svc.ID, svc.Version)
		if err == nil {
			break
		}
		if !api.IsConflict(err) || attempt >= 5 {
			return err
		}
	}
	fmt.Fprintln(c.App.Writer, ref)
	if c.Bool("detach") {
		return nil
	}
	return waitRollout(c, cl, id, true)
}

// prettyUpdateStatus prints a service's rollout state as Docker's
// `service inspect --pretty` does.
func prettyUpdateStatus(w io.Writer, st *types.UpdateStatus, now time.Time) {
	if st == nil || st.State == "" {
		return
	}
	fmt.Fprintf(w, "UpdateStatus:\n State:\t\t%s\n", st.State)
	if st.StartedAt != nil {
		fmt.Fprintf(w, " Started:\t%s ago\n", units.HumanDuration(now.Sub(*st.StartedAt)))
	}
	if st.CompletedAt != nil {
		fmt.Fprintf(w, " Completed:\t%s ago\n", units.HumanDuration(now.Sub(*st.CompletedAt)))
	}
	fmt.Fprintf(w, " Message:\t%s\n", st.Message)
}

// prettyUpdateConfig prints an update or rollback configuration as
// Docker's `service inspect --pretty` does.
func prettyUpdateConfig(w io.Writer, title, orderLabel string, u types.UpdateConfig) {
	fmt.Fprintf(w, "%s:\n Parallelism:\t%d\n", title, u.Parallelism)
	if u.Delay > 0 {
		fmt.Fprintf(w, " Delay:\t\t%s\n", u.Delay)
	}
	fmt.Fprintf(w, " On failure:\t%s\n", u.FailureAction)
	if u.Monitor > 0 {
		fmt.Fprintf(w, " Monitoring Period: %s\n", u.Monitor)
	}
	fmt.Fprintf(w, " Max failure ratio: %g\n %-18s %s\n", u.MaxFailureRatio, orderLabel+":", u.Order)
}

// jobFlags applies --max-concurrent, and refuses what a job cannot have:
// Docker's jobs run again on a change, with no rolling update.
func jobFlags(c *cli.Context, spec *types.ServiceSpec) error {
	if c.IsSet("max-concurrent") {
		if spec.Mode != types.ModeReplicatedJob {
			return errors.New("--max-concurrent can only be used with replicated-job mode")
		}
		n, err := strconv.ParseUint(strings.TrimSpace(c.String("max-concurrent")), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("invalid --max-concurrent %q: want a whole number, 1 or more", c.String("max-concurrent"))
		}
		spec.MaxConcurrent = n
	}
	if !spec.Mode.Job() {
		return nil
	}
	for _, k := range rolloutKinds {
		for _, name := range []string{"parallelism", "delay", "monitor", "failure-action", "max-failure-ratio", "order"} {
			if f := k + "-" + name; c.IsSet(f) {
				return fmt.Errorf("--%s cannot be used with a job: a job runs again on a change, it is not rolled", f)
			}
		}
	}
	return nil
}
