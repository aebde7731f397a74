package types

import (
	"fmt"
	"time"
)

// UpdateConfig says how a service's tasks are replaced after a change of
// spec (ServiceSpec.Update) or when it is rolled back (ServiceSpec.Rollback),
// in Docker's field names.
type UpdateConfig struct {
	// Parallelism is how many slots are replaced at once; 0 means all.
	Parallelism uint64 `json:"Parallelism"`
	// Delay is how long a slot's new task must have run before another
	// slot takes its turn.
	Delay time.Duration `json:"Delay,omitempty"`
	// FailureAction is what a failed update does: FailurePause,
	// FailureContinue or FailureRollback (the last only for updates).
	FailureAction string `json:"FailureAction,omitempty"`
	// Monitor is how long after it starts a new task that stops counts as
	// a failure of the update.
	Monitor time.Duration `json:"Monitor,omitempty"`
	// MaxFailureRatio is the share of the service's slots whose new tasks
	// may fail before the failure action is taken (0: none may).
	MaxFailureRatio float64 `json:"MaxFailureRatio"`
	// Order is OrderStopFirst or OrderStartFirst.
	Order string `json:"Order"`
}

// Failure actions and orders, as Docker names them.
const (
	FailurePause    = "pause"
	FailureContinue = "continue"
	FailureRollback = "rollback"

	OrderStopFirst  = "stop-first"
	OrderStartFirst = "start-first"
)

// DefaultUpdateConfig is Docker's update and rollback configuration.
func DefaultUpdateConfig() UpdateConfig {
	return UpdateConfig{Parallelism: 1, FailureAction: FailurePause, Monitor: 5 * time.Second, Order: OrderStopFirst}
}

// UpdateState is where a service's rollout stands.
type UpdateState string

// Update states, as Docker's.
const (
	UpdateUpdating          UpdateState = "updating"
	UpdatePaused            UpdateState = "paused"
	UpdateCompleted         UpdateState = "completed"
	UpdateRollbackStarted   UpdateState = "rollback_started"
	UpdateRollbackPaused    UpdateState = "rollback_paused"
	UpdateRollbackCompleted UpdateState = "rollback_completed"
)

// Active reports whether a rollout in this state is still replacing tasks.
func (s UpdateState) Active() bool { return s == UpdateUpdating || s == UpdateRollbackStarted }

// Paused reports whether a rollout in this state stopped on failures.
func (s UpdateState) Paused() bool { return s == UpdatePaused || s == UpdateRollbackPaused }

// Rollback reports whether the state is one of a rollback's.
func (s UpdateState) Rollback() bool {
	return s == UpdateRollbackStarted || s == UpdateRollbackPaused || s == UpdateRollbackCompleted
}

// UpdateStatus is the state of a service's latest rollout (Docker's
// Service.UpdateStatus).
type UpdateStatus struct {
	State       UpdateState `json:"State,omitempty"`
	StartedAt   *time.Time  `json:"StartedAt,omitempty"`
	CompletedAt *time.Time  `json:"CompletedAt,omitempty"`
	Message     string      `json:"Message,omitempty"`
}

// Started returns when the rollout began (zero if unknown).
func (u *UpdateStatus) Started() time.Time {
	if u == nil || u.StartedAt == nil {
		return time.Time{}
	}
	return *u.StartedAt
}

// ParseFailureAction checks a failure action given by a user; rollback
// says whether it is a rollback's, which cannot itself roll back.
func ParseFailureAction(s string, rollback bool) (string, error) {
	switch s {
	case FailurePause, FailureContinue:
		return s, nil
	case FailureRollback:
		if !rollback {
			return s, nil
		}
	}
	if rollback {
		return "", fmt.Errorf("invalid rollback failure action %q: want pause or continue", s)
	}
	return "", fmt.Errorf("invalid update failure action %q: want pause, continue or rollback", s)
}

// ParseOrder checks an update order given by a user.
func ParseOrder(s string) (string, error) {
	switch s {
	case OrderStopFirst, OrderStartFirst:
		return s, nil
	}
	return "", fmt.Errorf("invalid update order %q: want stop-first or start-first", s)
}
