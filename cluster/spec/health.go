package spec

import (
	"fmt"
	"time"

	"sw/cluster/types"
)

// minHealthDuration is the engine's smallest health check duration; zero
// (inherit the image's, or the engine's default) is allowed too.
const minHealthDuration = time.Millisecond

// validateHealth checks a container's health check as the engine would,
// so that a bad one is refused at once instead of failing every task.
func validateHealth(h *types.HealthConfig) []error {
	if h == nil {
		return nil
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
			if len(h.Test) != 1 {
				bad("invalid health check test %q: NONE takes no arguments", h.Test)
			}
		case "CMD":
			if len(h.Test) < 2 || h.Test[1] == "" {
				bad("invalid health check test %q: CMD needs a command", h.Test)
			}
		case "CMD-SHELL":
			if len(h.Test) != 2 || h.Test[1] == "" {
				bad("invalid health check test %q: CMD-SHELL takes one command line", h.Test)
			}
		default:
			bad("invalid health check test %q: want NONE, CMD or CMD-SHELL first", h.Test)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start period", h.StartPeriod}} {
		if d.v != 0 && d.v < minHealthDuration {
			bad("invalid health check %s %s: must be 0 or at least %s", d.name, d.v, minHealthDuration)
		}
	}
	if h.Retries < 0 {
		bad("invalid health check retries %d: must not be negative", h.Retries)
	}
	return errs
}
