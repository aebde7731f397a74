package types

import "time"

// HealthConfig is a task container's health check, in Docker's layout
// (.Spec.TaskTemplate.ContainerSpec.Healthcheck); durations are
// nanoseconds in JSON, as Docker's are. A zero field is inherited from the
// image's HEALTHCHECK by the engine.
type HealthConfig struct {
	// Test is empty (inherit the image's), ["NONE"] (disable the image's),
	// ["CMD", args...] (run directly) or ["CMD-SHELL", command] (run with
	// the image's /bin/sh).
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	// Retries is how many failures in a row make the container unhealthy
	// (0: the engine's default, 3).
	Retries int `json:"Retries,omitempty"`
}

// Disabled reports whether the health check turns off the image's.
func (h *HealthConfig) Disabled() bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] == "NONE"
}
