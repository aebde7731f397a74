package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

// The health check flags of service create and update, as Docker's.
const (
	flagHealthCmd         = "health-cmd"
	flagHealthInterval    = "health-interval"
	flagHealthTimeout     = "health-timeout"
	flagHealthRetries     = "health-retries"
	flagHealthStartPeriod = "health-start-period"
	flagNoHealthcheck     = "no-healthcheck"
)

var healthSettingFlags = []string{flagHealthCmd, flagHealthInterval, flagHealthTimeout, flagHealthRetries, flagHealthStartPeriod}

func healthFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagHealthCmd, Usage: "command to run to check health, with the image's /bin/sh " +
			`(a JSON array such as '["/app","check"]' runs without a shell)`},
		&cli.StringFlag{Name: flagHealthInterval, Usage: "time between running the check (ms|s|m|h) (default 30s)"},
		&cli.StringFlag{Name: flagHealthTimeout, Usage: "maximum time to allow one check to run (ms|s|m|h) (default 30s)"},
		&cli.StringFlag{Name: flagHealthRetries, Usage: "consecutive failures needed to report unhealthy (default 3)"},
		&cli.StringFlag{Name: flagHealthStartPeriod, Usage: "start period for the container to initialize before counting retries towards unstable (ms|s|m|h) (default 0s)"},
		&cli.BoolFlag{Name: flagNoHealthcheck, Usage: "disable any container-specified HEALTHCHECK"},
	}
}

// healthOptions are the health check flags given, parsed and checked.
type healthOptions struct {
	set  map[string]bool // the flags given
	none bool            // --no-healthcheck
	test []string        // from --health-cmd; nil when empty
	cfg  types.HealthConfig
}

// parseHealthFlags reads and checks the health check flags.
func parseHealthFlags(c *cli.Context) (healthOptions, error) {
	o := healthOptions{set: map[string]bool{}}
	for _, f := range append([]string{flagNoHealthcheck}, healthSettingFlags...) {
		o.set[f] = c.IsSet(f)
	}
	var errs []error
	o.none = c.Bool(flagNoHealthcheck)
	if o.none && o.any() {
		errs = append(errs, fmt.Errorf("--%s conflicts with --health-* options", flagNoHealthcheck))
	}
	if o.set[flagHealthCmd] {
		test, err := healthTest(c.String(flagHealthCmd))
		errs = append(errs, err)
		o.test = test
	}
	for _, d := range []struct {
		flag string
		to   *time.Duration
	}{{flagHealthInterval, &o.cfg.Interval}, {flagHealthTimeout, &o.cfg.Timeout}, {flagHealthStartPeriod, &o.cfg.StartPeriod}} {
		if o.set[d.flag] {
			v, err := healthDuration(d.flag, c.String(d.flag))
			errs = append(errs, err)
			*d.to = v
		}
	}
	if o.set[flagHealthRetries] {
		s := c.String(flagHealthRetries)
		n, err := strconv.Atoi(strings.TrimSpace(s))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("invalid --%s %q: want a whole number", flagHealthRetries, s))
		case n < 0:
			errs = append(errs, fmt.Errorf("invalid --%s %q: must not be negative", flagHealthRetries, s))
		}
		o.cfg.Retries = n
	}
	return o, errors.Join(errs...)
}

// any reports whether a --health-* setting was given.
func (o healthOptions) any() bool {
	for _, f := range healthSettingFlags {
		if o.set[f] {
			return true
		}
	}
	return false
}

// healthTest turns --health-cmd into a Test: CMD-SHELL, as Docker's, or CMD
// for a JSON array of strings (a Dockerfile's exec form: no shell needed).
func healthTest(cmd string) ([]string, error) {
	if strings.TrimSpace(cmd) == "" {
		return nil, nil
	}
	var argv []string
	if strings.HasPrefix(strings.TrimSpace(cmd), "[") && json.Unmarshal([]byte(cmd), &argv) == nil {
		if len(argv) == 0 || argv[0] == "" {
			return nil, fmt.Errorf("invalid --%s %q: the command is empty", flagHealthCmd, cmd)
		}
		return append([]string{"CMD"}, argv...), nil
	}
	return []string{"CMD-SHELL", cmd}, nil
}

func healthDuration(flag, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		return 0, fmt.Errorf("invalid --%s %q: want a duration such as 30s or 500ms", flag, s)
	case d < 0:
		return 0, fmt.Errorf("invalid --%s %q: must not be negative", flag, s)
	case d > 0 && d < time.Millisecond:
		return 0, fmt.Errorf("invalid --%s %q: must be 0 or at least 1ms", flag, s)
	}
	return d, nil
}

// create is the health check of a new service: nil (the image's) unless
// flags were given.
func (o healthOptions) create() *types.HealthConfig {
	if o.none {
		return &types.HealthConfig{Test: []string{"NONE"}}
	}
	h := o.cfg
	h.Test = o.test
	return orImage(&h)
}

// orImage returns nil for a health check with nothing of its own: the
// image's is used as it is, as with no flags at all.
func orImage(h *types.HealthConfig) *types.HealthConfig {
	if len(h.Test) == 0 && h.Interval == 0 && h.Timeout == 0 && h.StartPeriod == 0 && h.Retries == 0 {
		return nil
	}
	return h
}

// update applies the flags to a service's health check, as Docker's
// service update does: only the settings given change; --no-healthcheck
// replaces it all; a setting drops an earlier NONE; an empty --health-cmd
// goes back to the image's test.
func (o healthOptions) update(old *types.HealthConfig) *types.HealthConfig {
	if !o.set[flagNoHealthcheck] && !o.any() {
		return old
	}
	if o.none {
		return &types.HealthConfig{Test: []string{"NONE"}}
	}
	var h types.HealthConfig
	if old != nil {
		h = *old
		h.Test = append([]string(nil), old.Test...)
	}
	if h.Disabled() {
		h.Test = nil
	}
	if o.set[flagHealthInterval] {
		h.Interval = o.cfg.Interval
	}
	if o.set[flagHealthTimeout] {
		h.Timeout = o.cfg.Timeout
	}
	if o.set[flagHealthStartPeriod] {
		h.StartPeriod = o.cfg.StartPeriod
	}
	if o.set[flagHealthRetries] {
		h.Retries = o.cfg.Retries
	}
	if o.set[flagHealthCmd] {
		h.Test = o.test
	}
	return orImage(&h)
}

// prettyHealth prints a service's health check as Docker's inspect
// --pretty does.
func prettyHealth(w io.Writer, h *types.HealthConfig) {
	if h == nil {
		return
	}
	fmt.Fprintf(w, " Healthcheck:\n  Interval = %s\n  Retries = %d\n  StartPeriod = %s\n  Timeout = %s\n",
		h.Interval, h.Retries, h.StartPeriod, h.Timeout)
	if len(h.Test) > 0 {
		fmt.Fprintf(w, "  Tests:\n")
		for _, t := range h.Test {
			fmt.Fprintf(w, "\t Test = %s\n", t)
		}
	}
}
