package spec

import (
	"fmt"
	"time"

	"sw/cluster/types"
)

// validateHealth checks a container's health check as the engine would,
// so that a bad one is refused at once instead of failing every task.
func validateHealth(h *types.HealthConfig) []error {
	if h == nil {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	errs = append(errs, entries("health check test entries", h.Test, MaxArgs, func(i int, a string) error {
		return checkArg("health check test", i, a)
	})...)
	if len(h.Test) > 0 && len(h.Test) <= MaxArgs {
		switch h.Test[0] {
		case "NONE":
			if len(h.Test) != 1 {
				bad("invalid health check test %q: NONE takes no arguments", clipAll(h.Test))
			}
		case "CMD":
			if len(h.Test) < 2 || h.Test[1] == "" {
				bad("invalid health check test %q: CMD needs a command", clipAll(h.Test))
			}
		case "CMD-SHELL":
			if len(h.Test) != 2 || h.Test[1] == "" {
				bad("invalid health check test %q: CMD-SHELL takes one command line", clipAll(h.Test))
			}
		default:
			bad("invalid health check test %q: want NONE, CMD or CMD-SHELL first", clipAll(h.Test))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start period", h.StartPeriod}} {
		switch {
		case d.v != 0 && d.v < MinHealthDuration:
			bad("invalid health check %s %s: must be 0 or at least %s", d.name, d.v, MinHealthDuration)
		case d.v > MaxHealthDuration:
			bad("invalid health check %s %s: the limit is %s", d.name, d.v, MaxHealthDuration)
		}
	}
	switch {
	case h.Retries < 0:
		bad("invalid health check retries %d: must not be negative", h.Retries)
	case h.Retries > MaxHealthRetries:
		bad("invalid health check retries %d: the limit is %d", h.Retries, MaxHealthRetries)
	}
	return errs
}

// clipAll clips every entry of a list quoted in an error, and the list
// itself to its first few entries.
func clipAll(ss []string) []string {
	out := make([]string, 0, min(len(ss), maxReported+1))
	for i, s := range ss {
		if i == maxReported {
			out = append(out, "...")
			break
		}
		out = append(out, clip(s))
	}
	return out
}
