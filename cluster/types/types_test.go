package types

import (
	"encoding/json"
	"regexp"
	"testing"
)

var allStates = []TaskState{
	TaskNew, TaskPending, TaskAssigned, TaskAccepted, TaskPreparing, TaskStarting, TaskRunning,
	TaskComplete, TaskShutdown, TaskFailed, TaskRejected, TaskRemove, TaskOrphaned,
}

func TestStateNamesRoundTrip(t *testing.T) {
	if len(allStates) != len(taskStateNames) {
		t.Fatalf("%d states listed, %d names", len(allStates), len(taskStateNames))
	}
	for i, s := range allStates {
		if int(s) != i {
			t.Fatalf("state %v has value %d, want %d", s, s, i)
		}
		got, err := ParseTaskState(s.Title())
		if err != nil || got != s {
			t.Errorf("ParseTaskState(%q) = %v, %v", s.Title(), got, err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back TaskState
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("JSON round trip of %v: %s -> %v, %v", s, b, back, err)
		}
	}
	if s := TaskState(99).String(); s != "TaskState(99)" {
		t.Errorf("unknown state prints %q", s)
	}
	if TaskRunning.Title() != "Running" {
		t.Errorf("Title = %q", TaskRunning.Title())
	}
	if _, err := ParseTaskState("sleeping"); err == nil {
		t.Error("ParseTaskState accepted a bad name")
	}
	var s TaskState
	if err := json.Unmarshal([]byte(`"bogus"`), &s); err == nil {
		t.Error("UnmarshalText accepted a bad name")
	}
}

func TestTerminal(t *testing.T) {
	for _, s := range allStates {
		want := s >= TaskComplete
		if s.Terminal() != want {
			t.Errorf("%v.Terminal() = %v, want %v", s, s.Terminal(), want)
		}
	}
}

// TestCanMoveTo checks every pair: forward only, never out of a terminal
// state, never to itself.
func TestCanMoveTo(t *testing.T) {
	for _, from := range allStates {
		for _, to := range allStates {
			want := to > from && !from.Terminal()
			if got := from.CanMoveTo(to); got != want {
				t.Errorf("%v.CanMoveTo(%v) = %v, want %v", from, to, got, want)
			}
		}
		// Out-of-range states are never reachable.
		if from.CanMoveTo(TaskOrphaned + 1) {
			t.Errorf("%v.CanMoveTo(out of range) = true", from)
		}
		if from.CanMoveTo(-1) {
			t.Errorf("%v.CanMoveTo(-1) = true", from)
		}
	}
	// Spot checks that read like the rule.
	cases := []struct {
		from, to TaskState
		want     bool
	}{
		{TaskNew, TaskPending, true},
		{TaskNew, TaskRunning, true},
		{TaskAssigned, TaskFailed, true},
		{TaskRunning, TaskComplete, true},
		{TaskRunning, TaskStarting, false},
		{TaskRunning, TaskRunning, false},
		{TaskFailed, TaskShutdown, false},
		{TaskComplete, TaskFailed, false},
		{TaskShutdown, TaskRemove, false},
		{TaskOrphaned, TaskOrphaned, false},
	}
	for _, c := range cases {
		if got := c.from.CanMoveTo(c.to); got != c.want {
			t.Errorf("%v -> %v: got %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

// TestCanDesire checks every pair: only forward, only to RUNNING, SHUTDOWN
// or REMOVE.
func TestCanDesire(t *testing.T) {
	desirable := map[TaskState]bool{TaskRunning: true, TaskShutdown: true, TaskRemove: true}
	for _, from := range allStates {
		for _, to := range allStates {
			want := desirable[to] && to > from
			if got := from.CanDesire(to); got != want {
				t.Errorf("%v.CanDesire(%v) = %v, want %v", from, to, got, want)
			}
		}
	}
	cases := []struct {
		from, to TaskState
		want     bool
	}{
		{TaskNew, TaskRunning, true},
		{TaskRunning, TaskShutdown, true},
		{TaskRunning, TaskRemove, true},
		{TaskShutdown, TaskRemove, true},
		{TaskShutdown, TaskRunning, false},
		{TaskRemove, TaskShutdown, false},
		{TaskRunning, TaskRunning, false},
		{TaskRunning, TaskComplete, false},
		{TaskNew, TaskAssigned, false},
	}
	for _, c := range cases {
		if got := c.from.CanDesire(c.to); got != c.want {
			t.Errorf("desire %v -> %v: got %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

var idShape = regexp.MustCompile(`^[0-9a-z]{25}$`)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id := NewID()
		if len(id) != IDLength || !idShape.MatchString(id) {
			t.Fatalf("NewID() = %q: want 25 characters of [0-9a-z]", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestTaskNames(t *testing.T) {
	cases := []struct {
		name            string
		task            Task
		wantName, wantC string
		wantSlotKey     string
	}{
		{
			name:        "replicated",
			task:        Task{ID: "t1", ServiceName: "web", Slot: 3, NodeID: "n1"},
			wantName:    "web.3",
			wantC:       "web.3.t1",
			wantSlotKey: "3",
		},
		{
			name:        "replicated slot 12",
			task:        Task{ID: "abc", ServiceName: "api", Slot: 12},
			wantName:    "api.12",
			wantC:       "api.12.abc",
			wantSlotKey: "12",
		},
		{
			name:        "global",
			task:        Task{ID: "t2", ServiceName: "agent", NodeID: "node0000000000000000000001"},
			wantName:    "agent.node0000000000000000000001",
			wantC:       "agent.node0000000000000000000001.t2",
			wantSlotKey: "node:node0000000000000000000001",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.task.Name(); got != c.wantName {
				t.Errorf("Name() = %q, want %q", got, c.wantName)
			}
			if got := c.task.ContainerName(); got != c.wantC {
				t.Errorf("ContainerName() = %q, want %q", got, c.wantC)
			}
			if got := c.task.SlotKey(); got != c.wantSlotKey {
				t.Errorf("SlotKey() = %q, want %q", got, c.wantSlotKey)
			}
		})
	}
}

func TestNodeSchedulable(t *testing.T) {
	for _, st := range []NodeState{NodeUnknown, NodeReady, NodeDown} {
		for _, av := range []Availability{AvailabilityActive, AvailabilityPause, AvailabilityDrain} {
			n := Node{State: st, Availability: av}
			want := st == NodeReady && av == AvailabilityActive
			if n.Schedulable() != want {
				t.Errorf("%s/%s: Schedulable() = %v", st, av, !want)
			}
		}
	}
}

func TestParseAvailability(t *testing.T) {
	for _, s := range []string{"active", "pause", "drain"} {
		if a, err := ParseAvailability(s); err != nil || string(a) != s {
			t.Errorf("ParseAvailability(%q) = %q, %v", s, a, err)
		}
	}
	if _, err := ParseAvailability("paused"); err == nil {
		t.Error("ParseAvailability accepted \"paused\"")
	}
}

func TestPortString(t *testing.T) {
	p := PortConfig{Protocol: "tcp", TargetPort: 8080, PublishedPort: 9000}
	if got := p.String(); got != "*:9000->8080/tcp" {
		t.Errorf("String() = %q", got)
	}
}

func TestServiceJSONEndpoint(t *testing.T) {
	s := Service{ID: "s1", Spec: ServiceSpec{Name: "web", Mode: ModeReplicated, Replicas: 2,
		EndpointMode: EndpointVIP}, VirtualIPs: []Attachment{{NetworkID: "n1", Addr: "10.0.0.2", Bits: 16}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID       string
		Endpoint struct {
			Spec       struct{ Mode string }
			VirtualIPs []struct{ Addr string }
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "s1" || m.Endpoint.Spec.Mode != "vip" || len(m.Endpoint.VirtualIPs) != 1 || m.Endpoint.VirtualIPs[0].Addr != "10.0.0.2/16" {
		t.Fatalf("JSON %s", b)
	}
	var back Service
	if err := json.Unmarshal(b, &back); err != nil || len(back.VirtualIPs) != 1 || back.VirtualIPs[0].Addr != "10.0.0.2" || back.ID != "s1" {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}
