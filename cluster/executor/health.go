package executor

import (
	"context"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"sw/cluster/types"
)

// A container's health, as the engine reports it (State.Health.Status).
const (
	HealthNone      = "none" // no health check: neither the spec's nor the image's
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// HasHealthcheck reports whether a container's health status comes from a
// health check ("" is taken as none).
func HasHealthcheck(status string) bool {
	return status != "" && status != HealthNone
}

// HealthChange is a task container's health status change, seen in the
// engine's event stream (a "health_status: healthy" event).
type HealthChange struct {
	ContainerID string
	TaskID      string
	Status      string // HealthHealthy or HealthUnhealthy
}

// healthConfig turns a task's health check into the engine's; nil keeps
// the image's HEALTHCHECK as it is.
func healthConfig(h *types.HealthConfig) *container.HealthConfig {
	if h == nil {
		return nil
	}
	return &container.HealthConfig{Test: append([]string(nil), h.Test...), Interval: h.Interval,
		Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
}

// healthStatus reads the health from an inspected container's state.
func healthStatus(st *container.State) string {
	if st == nil || st.Health == nil || st.Health.Status == "" {
		return HealthNone
	}
	return st.Health.Status
}

// HealthChanges streams this node's task containers' health changes until
// ctx ends or the stream breaks (the error channel then says why).
func (d *Docker) HealthChanges(ctx context.Context) (<-chan HealthChange, <-chan error) {
	// The engine matches "health_status" against the event's action
	// ("health_status: healthy") by prefix.
	return watchEvents(ctx, d, "health_status", func(m events.Message) (HealthChange, bool) {
		status, ok := strings.CutPrefix(string(m.Action), "health_status:")
		return HealthChange{ContainerID: m.Actor.ID, TaskID: m.Actor.Attributes[types.LabelTask],
			Status: strings.TrimSpace(status)}, ok
	})
}
