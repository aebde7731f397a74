package commands

import (
	"fmt"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"sw/cluster/api"
	"sw/cluster/types"
	"sw/commands/format"
)

// nodeRow is one line of `node ls`, with Docker's field names.
type nodeRow struct {
	ID            string
	Self          bool
	SelfMark      string // " *" on the node the CLI talks to
	Hostname      string
	Status        string
	Availability  string
	ManagerStatus string
	EngineVersion string
	TLSStatus     string
}

const nodeTable = "table {{.ID}}{{.SelfMark}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}"

func newNodeRow(n *types.Node, self, leader string) nodeRow {
	r := nodeRow{ID: n.ID, Self: n.ID == self, SelfMark: "  ", Hostname: n.Hostname, Status: title(string(n.State)),
		Availability: title(string(n.Availability)), EngineVersion: n.EngineVersion, TLSStatus: "Ready"}
	if r.Self {
		r.SelfMark = " *"
	}
	if n.Role == types.RoleManager {
		r.ManagerStatus = "Reachable"
		if n.ID == leader {
			r.ManagerStatus = "Leader"
		}
		if n.State == types.NodeDown {
			r.ManagerStatus = "Unreachable"
		}
	}
	return r
}

// Headers names the columns whose Docker header differs from the field.
func (nodeRow) Headers() map[string]string { return map[string]string{"SelfMark": ""} }

// serviceRow is one line of `service ls`.
type serviceRow struct {
	ID       string
	Name     string
	Mode     string
	Replicas string
	Image    string
	Ports    string
}

const serviceTable = "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}"

func newServiceRow(s *types.Service, st api.ServiceStatus) serviceRow {
	running, desired := st.RunningTasks, st.DesiredTasks
	if st.ServiceID != s.ID { // no count for it (a service made since the listing)
		running, desired = 0, s.Spec.Replicas
	}
	ports := make([]string, len(s.Spec.Ports))
	for i, p := range s.Spec.Ports {
		ports[i] = p.String()
	}
	replicas := fmt.Sprintf("%d/%d", running, desired)
	switch s.Spec.Mode {
	case types.ModeReplicatedJob:
		replicas += fmt.Sprintf(" (%d/%d completed)", st.CompletedTasks, s.Spec.Replicas)
	case types.ModeGlobalJob:
		// Docker's sum: the tasks still to complete and those completed.
		replicas += fmt.Sprintf(" (%d/%d completed)", st.CompletedTasks, desired+st.CompletedTasks)
	}
	return serviceRow{ID: format.TruncateID(s.ID), Name: s.Spec.Name, Mode: string(s.Spec.Mode),
		Replicas: replicas, Image: s.Spec.Container.Image, Ports: strings.Join(ports, ",")}
}

// taskRow is one line of `service ps` / `node ps`.
type taskRow struct {
	ID           string
	Name         string
	Image        string
	Node         string
	DesiredState string
	CurrentState string
	Error        string
	Ports        string
}

// maxErrLength is how much of a task's error a table shows without
// --no-trunc, as Docker's.
const maxErrLength = 30

const taskTable = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}"

func newTaskRow(t *types.Task, hostnames map[string]string, history, noTrunc bool, now time.Time) taskRow {
	id, errText := format.TruncateID(t.ID), t.Status.Err
	if noTrunc {
		id = t.ID
	} else if r := []rune(errText); len(r) > maxErrLength {
		// Cut on a rune, never inside a multi-byte character.
		errText = string(r[:maxErrLength-1]) + "…"
	}
	if errText != "" {
		// Quoted as Docker does, truncated or not.
		errText = fmt.Sprintf("%q", errText)
	}
	name := t.Name()
	if history {
		name = ` \_ ` + name
	}
	return taskRow{ID: id, Name: name, Image: t.Spec.Image, Node: hostnames[t.NodeID],
		DesiredState: t.DesiredState.Title(),
		CurrentState: fmt.Sprintf("%s %s ago", t.Status.State.Title(), units.HumanDuration(now.Sub(t.Status.Timestamp))),
		Error:        errText}
}

// orderTasks sorts tasks as Docker's service ps does: by service, then
// slot (or node), newest first within a slot; it marks the older ones.
func orderTasks(tasks []*types.Task) (ordered []*types.Task, history map[string]bool) {
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i], tasks[j]
		if a.ServiceName != b.ServiceName {
			return a.ServiceName < b.ServiceName
		}
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		if a.Slot == 0 && a.NodeID != b.NodeID {
			return a.NodeID < b.NodeID
		}
		return newerTask(a, b)
	})
	history = map[string]bool{}
	for i, t := range tasks {
		if i > 0 && tasks[i-1].ServiceID == t.ServiceID && tasks[i-1].SlotKey() == t.SlotKey() {
			history[t.ID] = true
		}
	}
	return tasks, history
}

// newerTask reports whether task a was created after task b: by the log
// index that created them when both are known (command times may tie, or
// go backwards when leadership moves to a manager whose clock is behind),
// else by time, then attempt. It is the orchestrator's order, reversed.
func newerTask(a, b *types.Task) bool {
	if a.CreatedIndex != 0 && b.CreatedIndex != 0 && a.CreatedIndex != b.CreatedIndex {
		return a.CreatedIndex > b.CreatedIndex
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.Attempt > b.Attempt
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
