package commands

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/types"
)

func TestOrderTasks(t *testing.T) {
	tests := []struct {
		name        string
		tasks       []tk
		wantOrder   []string // tags
		wantHistory []string // tags
	}{
		{name: "by service, slot, newest first",
			tasks: []tk{
				{id: "w1old", service: "web", slot: 1, age: 1},
				{id: "api2", service: "api", slot: 2, age: 1},
				{id: "w2", service: "web", slot: 2, age: 3},
				{id: "w1new", service: "web", slot: 1, age: 5},
				{id: "api1", service: "api", slot: 1, age: 4},
				{id: "w1mid", service: "web", slot: 1, age: 3},
			},
			wantOrder:   []string{"api1", "api2", "w1new", "w1mid", "w1old", "w2"},
			wantHistory: []string{"w1mid", "w1old"}},
		{name: "global: by node, newest first",
			tasks: []tk{
				{id: "n2", node: "node2", age: 1},
				{id: "n1old", node: "node1", age: 1},
				{id: "n1new", node: "node1", age: 2},
			},
			wantOrder:   []string{"n1new", "n1old", "n2"},
			wantHistory: []string{"n1old"}},
		{name: "log index orders a slot when the clock went back",
			tasks: []tk{
				{id: "first", slot: 1, age: 9, index: 10},
				{id: "second", slot: 1, age: 1, index: 11},
			},
			wantOrder:   []string{"second", "first"},
			wantHistory: []string{"first"}},
		{name: "time orders a slot when the log index is unknown",
			tasks: []tk{
				{id: "first", slot: 1, age: 1, noIndex: true},
				{id: "second", slot: 1, age: 2, noIndex: true},
			},
			wantOrder:   []string{"second", "first"},
			wantHistory: []string{"first"}},
		{name: "one task per slot, no history",
			tasks:     []tk{{id: "b", slot: 2}, {id: "a", slot: 1}},
			wantOrder: []string{"a", "b"}},
		{name: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ordered, history := orderTasks(tasksOf(tt.tasks...))
			var got []string
			for _, tk := range ordered {
				got = append(got, strings.TrimRight(tk.ID, "0"))
			}
			if !reflect.DeepEqual(got, tt.wantOrder) {
				t.Errorf("order %q, want %q", got, tt.wantOrder)
			}
			want := map[string]bool{}
			for _, id := range tt.wantHistory {
				want[taskID(id)] = true
			}
			if !reflect.DeepEqual(history, want) {
				t.Errorf("history %v, want %v", history, want)
			}
		})
	}
}

func TestNewTaskRow(t *testing.T) {
	now := t0.Add(time.Hour)
	hostnames := map[string]string{"node1": "alpha"}
	base := func() *types.Task {
		t := tk{id: "abcdefghijklmnop", slot: 2, node: "node1", desired: running, state: running}.task()
		t.Spec.Image = "nginx:1"
		t.Status.Timestamp = now.Add(-18 * time.Minute)
		return t
	}
	tests := []struct {
		name    string
		mod     func(*types.Task)
		history bool
		noTrunc bool
		want    taskRow
	}{
		{name: "truncated",
			want: taskRow{ID: "abcdefghijkl", Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Running 18 minutes ago"}},
		{name: "no-trunc",
			noTrunc: true,
			want: taskRow{ID: taskID("abcdefghijklmnop"), Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Running 18 minutes ago"}},
		{name: "history",
			history: true,
			mod: func(t *types.Task) {
				t.DesiredState, t.Status.State, t.Status.Err = shutdown, failed, "task: non-zero exit (1)"
				t.Status.Timestamp = now.Add(-2 * time.Second)
			},
			want: taskRow{ID: "abcdefghijkl", Name: ` \_ web.2`, Image: "nginx:1", Node: "alpha",
				DesiredState: "Shutdown", CurrentState: "Failed 2 seconds ago", Error: `"task: non-zero exit (1)"`}},
		{name: "global task, unknown node",
			mod: func(t *types.Task) { t.Slot, t.NodeID = 0, "node9" },
			want: taskRow{ID: "abcdefghijkl", Name: "web.node9", Image: "nginx:1", Node: "",
				DesiredState: "Running", CurrentState: "Running 18 minutes ago"}},
		{name: "long error truncated",
			mod: func(t *types.Task) {
				t.Status.State, t.Status.Err = rejected, "starting container: no such image: nginx:does-not-exist"
			},
			want: taskRow{ID: "abcdefghijkl", Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Rejected 18 minutes ago", Error: `"starting container: no such i…"`}},
		{name: "error of exactly 30 kept whole",
			mod: func(t *types.Task) { t.Status.State, t.Status.Err = failed, strings.Repeat("x", 30) },
			want: taskRow{ID: "abcdefghijkl", Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Failed 18 minutes ago", Error: `"` + strings.Repeat("x", 30) + `"`}},
		{name: "error cut on a character, not a byte",
			mod: func(t *types.Task) { t.Status.State, t.Status.Err = failed, strings.Repeat("é", 40) },
			want: taskRow{ID: "abcdefghijkl", Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Failed 18 minutes ago", Error: `"` + strings.Repeat("é", 29) + `…"`}},
		{name: "long error whole and still quoted with no-trunc",
			noTrunc: true,
			mod: func(t *types.Task) {
				t.Status.State, t.Status.Err = rejected, "starting container: no such image: nginx:does-not-exist"
			},
			want: taskRow{ID: taskID("abcdefghijklmnop"), Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Rejected 18 minutes ago",
				Error: `"starting container: no such image: nginx:does-not-exist"`}},
		{name: "status in the future reads less than a second",
			mod: func(t *types.Task) { t.Status.Timestamp = now.Add(time.Minute) },
			want: taskRow{ID: "abcdefghijkl", Name: "web.2", Image: "nginx:1", Node: "alpha",
				DesiredState: "Running", CurrentState: "Running Less than a second ago"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := base()
			if tt.mod != nil {
				tt.mod(task)
			}
			got := newTaskRow(task, hostnames, tt.history, tt.noTrunc, now)
			if got != tt.want {
				t.Errorf("newTaskRow:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNewServiceRow(t *testing.T) {
	svc := func(mode types.Mode, replicas uint64, ports ...types.PortConfig) *types.Service {
		return &types.Service{ID: taskID("svcid123456789"), Spec: types.ServiceSpec{Name: "web", Mode: mode, Replicas: replicas,
			Container: types.ContainerSpec{Image: "nginx:1"}, Ports: ports}}
	}
	tests := []struct {
		name  string
		svc   *types.Service
		tasks []tk
		want  serviceRow
	}{
		{name: "replicated, counts only running tasks meant to run",
			svc: svc(types.ModeReplicated, 3, types.PortConfig{Protocol: "tcp", PublishedPort: 8080, TargetPort: 80},
				types.PortConfig{Protocol: "udp", PublishedPort: 53, TargetPort: 5353}),
			tasks: []tk{
				{id: "a", slot: 1, desired: running, state: running},
				{id: "b", slot: 2, desired: running, state: running},
				{id: "c", slot: 3, desired: running, state: starting},
				{id: "d", slot: 3, desired: shutdown, state: running},
				{id: "e", slot: 4, desired: remove, state: running},
				{id: "f", slot: 1, desired: shutdown, state: failed},
			},
			want: serviceRow{ID: "svcid1234567", Name: "web", Mode: "replicated", Replicas: "2/3", Image: "nginx:1",
				Ports: "*:8080->80/tcp,*:53->5353/udp"}},
		{name: "replicated, no tasks",
			svc:  svc(types.ModeReplicated, 2),
			want: serviceRow{ID: "svcid1234567", Name: "web", Mode: "replicated", Replicas: "0/2", Image: "nginx:1"}},
		{name: "replicated, scaled to zero",
			svc:   svc(types.ModeReplicated, 0),
			tasks: []tk{{id: "a", slot: 1, desired: remove, state: running}},
			want:  serviceRow{ID: "svcid1234567", Name: "web", Mode: "replicated", Replicas: "0/0", Image: "nginx:1"}},
		{name: "global counts the tasks meant to run",
			svc: svc(types.ModeGlobal, 0),
			tasks: []tk{
				{id: "a", node: "n1", desired: running, state: running},
				{id: "b", node: "n2", desired: running, state: types.TaskPreparing},
				{id: "c", node: "n3", desired: shutdown, state: running},
			},
			want: serviceRow{ID: "svcid1234567", Name: "web", Mode: "global", Replicas: "1/2", Image: "nginx:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newServiceRow(tt.svc, api.CountTasks(tt.svc, tasksOf(tt.tasks...)))
			if got != tt.want {
				t.Errorf("newServiceRow:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNewNodeRow(t *testing.T) {
	node := func(id string, role types.NodeRole, state types.NodeState) *types.Node {
		return &types.Node{ID: id, Hostname: "host-" + id, Role: role, State: state,
			Availability: types.AvailabilityActive, EngineVersion: "27.0.1"}
	}
	tests := []struct {
		name         string
		node         *types.Node
		self, leader string
		want         nodeRow
	}{
		{name: "self and leader", node: node("n1", types.RoleManager, types.NodeReady), self: "n1", leader: "n1",
			want: nodeRow{ID: "n1", Self: true, SelfMark: " *", Hostname: "host-n1", Status: "Ready", Availability: "Active",
				ManagerStatus: "Leader", EngineVersion: "27.0.1", TLSStatus: "Ready"}},
		{name: "other manager", node: node("n2", types.RoleManager, types.NodeReady), self: "n1", leader: "n1",
			want: nodeRow{ID: "n2", SelfMark: "  ", Hostname: "host-n2", Status: "Ready", Availability: "Active",
				ManagerStatus: "Reachable", EngineVersion: "27.0.1", TLSStatus: "Ready"}},
		{name: "manager down", node: node("n3", types.RoleManager, types.NodeDown), self: "n1", leader: "n1",
			want: nodeRow{ID: "n3", SelfMark: "  ", Hostname: "host-n3", Status: "Down", Availability: "Active",
				ManagerStatus: "Unreachable", EngineVersion: "27.0.1", TLSStatus: "Ready"}},
		{name: "leader seen down", node: node("n1", types.RoleManager, types.NodeDown), self: "n2", leader: "n1",
			want: nodeRow{ID: "n1", SelfMark: "  ", Hostname: "host-n1", Status: "Down", Availability: "Active",
				ManagerStatus: "Unreachable", EngineVersion: "27.0.1", TLSStatus: "Ready"}},
		{name: "worker, self", node: node("w1", types.RoleWorker, types.NodeReady), self: "w1", leader: "n1",
			want: nodeRow{ID: "w1", Self: true, SelfMark: " *", Hostname: "host-w1", Status: "Ready", Availability: "Active",
				EngineVersion: "27.0.1", TLSStatus: "Ready"}},
		{name: "worker down, drained", node: func() *types.Node {
			n := node("w2", types.RoleWorker, types.NodeDown)
			n.Availability = types.AvailabilityDrain
			return n
		}(), self: "n1", leader: "n1",
			want: nodeRow{ID: "w2", SelfMark: "  ", Hostname: "host-w2", Status: "Down", Availability: "Drain",
				EngineVersion: "27.0.1", TLSStatus: "Ready"}},
		{name: "unknown state, no leader", node: node("n4", types.RoleManager, types.NodeUnknown), self: "n1",
			want: nodeRow{ID: "n4", SelfMark: "  ", Hostname: "host-n4", Status: "Unknown", Availability: "Active",
				ManagerStatus: "Reachable", EngineVersion: "27.0.1", TLSStatus: "Ready"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newNodeRow(tt.node, tt.self, tt.leader); got != tt.want {
				t.Errorf("newNodeRow:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	for in, want := range map[string]string{"": "", "ready": "Ready", "a": "A", "Drain": "Drain"} {
		if got := title(in); got != want {
			t.Errorf("title(%q) = %q, want %q", in, got, want)
		}
	}
}
