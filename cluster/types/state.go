package types

import (
	"fmt"
	"strings"
)

// TaskState is a step in a task's life. States are ordered: a task's
// observed state and its desired state only ever move forward.
type TaskState int

// The task states, in the order a task moves through them.
const (
	TaskNew TaskState = iota
	TaskPending
	TaskAssigned
	TaskAccepted
	TaskPreparing
	TaskStarting
	TaskRunning
	TaskComplete
	TaskShutdown
	TaskFailed
	TaskRejected
	TaskRemove
	TaskOrphaned
)

var taskStateNames = [...]string{
	"NEW", "PENDING", "ASSIGNED", "ACCEPTED", "PREPARING", "STARTING", "RUNNING",
	"COMPLETE", "SHUTDOWN", "FAILED", "REJECTED", "REMOVE", "ORPHANED",
}

// String returns the state's upper-case name, e.g. "RUNNING".
func (s TaskState) String() string {
	if s < 0 || int(s) >= len(taskStateNames) {
		return fmt.Sprintf("TaskState(%d)", int(s))
	}
	return taskStateNames[s]
}

// Title returns the state as Docker prints it in tables, e.g. "Running".
func (s TaskState) Title() string {
	n := s.String()
	return n[:1] + strings.ToLower(n[1:])
}

// ParseTaskState reads a state name in any letter case.
func ParseTaskState(name string) (TaskState, error) {
	for i, n := range taskStateNames {
		if strings.EqualFold(n, name) {
			return TaskState(i), nil
		}
	}
	return 0, fmt.Errorf("unknown task state %q", name)
}

// MarshalText encodes the state by name, so JSON shows "RUNNING".
func (s TaskState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state name.
func (s *TaskState) UnmarshalText(b []byte) error {
	v, err := ParseTaskState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Terminal reports whether a task in this state has stopped for good.
func (s TaskState) Terminal() bool { return s >= TaskComplete }

// CanMoveTo reports whether an observed state may change from s to next:
// only forward, and never out of a terminal state. This is the one place
// the rule lives; the store refuses any update that breaks it.
func (s TaskState) CanMoveTo(next TaskState) bool {
	return next > s && !s.Terminal() && next <= TaskOrphaned
}

// CanDesire reports whether a desired state may change from s to next: only
// forward, and only to RUNNING, SHUTDOWN or REMOVE.
func (s TaskState) CanDesire(next TaskState) bool {
	switch next {
	case TaskRunning, TaskShutdown, TaskRemove:
		return next > s
	}
	return false
}
