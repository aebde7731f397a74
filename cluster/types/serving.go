package types

// Serving reports whether a task should receive traffic: running, meant
// to keep running, and with an address.
func (t *Task) Serving() bool {
	return t.Status.State == TaskRunning && t.DesiredState == TaskRunning && t.Status.Addr != ""
}
