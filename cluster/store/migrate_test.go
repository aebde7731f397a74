package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sw/cluster/types"
)

// schemaV0Dir holds a Raft log and a snapshot in the store's first format
// (format 0: the Docker-shaped JSON the API spoke too), as the release
// before the versioned format wrote them. Written by
// SW_WRITE_SCHEMA_V0=1 go test -run TestSchemaV0Fixtures ./cluster/store/
// (format 0 is plain encoding/json of Command and snapshotData).
var schemaV0Dir = filepath.Join("testdata", "schema-v0")

// v0History is a history that touches every kind of change and most
// fields of the stored objects.
func v0History() []*Command {
	at := func(s int) time.Time { return time.Date(2026, 11, 30, 9, 0, s, 0, time.UTC) }
	code := 137
	role, avail := types.RoleManager, types.AvailabilityDrain
	web := &types.Service{ID: "svc1", Spec: types.ServiceSpec{
		Name: "web", Labels: map[string]string{"tier": "front"}, Mode: types.ModeReplicated, Replicas: 3,
		Container: types.ContainerSpec{Image: "sw-demo:latest", Command: []string{"/demo"}, Args: []string{"-v"},
			Env: []string{"A=1"}, Labels: map[string]string{"c": "d"}, StopGracePeriod: 10 * time.Second,
			Healthcheck: &types.HealthConfig{Test: []string{"CMD", "/demo", "-check"}, Interval: 2 * time.Second,
				Timeout: time.Second, StartPeriod: 3 * time.Second, Retries: 2}},
		Restart:      types.RestartPolicy{Condition: types.RestartOnFailure, Delay: 5 * time.Second, MaxAttempts: 4},
		Ports:        []types.PortConfig{{Protocol: "tcp", TargetPort: 8080, PublishedPort: 9080, PublishMode: "ingress"}},
		Placement:    types.Placement{Constraints: []string{"node.role==worker"}},
		Networks:     []types.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"www"}}},
		EndpointMode: types.EndpointVIP,
	}, SpecVersion: 1}
	updated := *web
	updated.Version = 6 // the index of its last change (a VIP leaves it)
	updated.Spec.Replicas = 2
	updated.SpecVersion = 2
	task := &types.Task{ID: "task1", ServiceID: "svc1", ServiceName: "web", Slot: 1, SpecVersion: 1,
		Spec: web.Spec.Container, Ports: web.Spec.Ports, Placement: web.Spec.Placement,
		DesiredState: types.TaskRunning, Status: types.TaskStatus{State: types.TaskNew, Timestamp: at(5), Message: "created"},
		Networks: []types.Attachment{{NetworkID: "net1"}}}
	task2 := *task
	task2.ID, task2.Slot = "task2", 2
	return []*Command{
		{Time: at(1), Changes: []Change{{PutCluster: &types.Cluster{ID: "c1", TaskHistoryLimit: 5, CertExpiry: 90 * 24 * time.Hour,
			RootCA:          types.RootCA{CertPEM: []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), KeyPEM: []byte("key")},
			JoinTokens:      types.JoinTokens{Worker: "SWMTKN-1-w", Manager: "SWMTKN-1-m"},
			DefaultAddrPool: []string{"10.20.0.0/16"}, SubnetSize: 24, DataPathPort: 4789}}}},
		{Time: at(2), Changes: []Change{
			{PutNode: &types.Node{ID: "n1", Hostname: "host1", Role: types.RoleManager, Availability: types.AvailabilityActive,
				State: types.NodeReady, Labels: map[string]string{"zone": "a"}, ManagerAddr: "198.18.0.11:2377"}},
			{PutNode: &types.Node{ID: "n2", Hostname: "host2", Role: types.RoleWorker, Availability: types.AvailabilityActive,
				State: types.NodeUnknown}}}},
		{Time: at(3), Changes: []Change{{NodeState: &NodeStateFrom{NodeID: "n2", State: types.NodeReady, Message: "up"}}}},
		{Time: at(3), Changes: []Change{{CreateNetwork: &types.Network{ID: "net1", Spec: types.NetworkSpec{Name: "app", Driver: "overlay",
			Labels: map[string]string{"k": "v"}, Attachable: true}}}}},
		{Time: at(4), Changes: []Change{{Allocate: &NetworkAllocation{NetworkID: "net1", Subnet: "10.20.1.0/24", Gateway: "10.20.1.1", VNI: 4097}}}},
		{Time: at(4), RequestID: "req-1", Changes: []Change{{CreateService: web}}},
		{Time: at(5), Changes: []Change{{CreateTask: task}, {CreateTask: &task2}}},
		{Time: at(6), Changes: []Change{{Allocate: &NetworkAllocation{TaskID: "task1", Attachments: []types.Attachment{{NetworkID: "net1", Addr: "10.20.1.2", Bits: 24}}}},
			{Allocate: &NetworkAllocation{ServiceID: "svc1", Attachments: []types.Attachment{{NetworkID: "net1", Addr: "10.20.1.3", Bits: 24}}}}}},
		{Time: at(7), Changes: []Change{{AssignTask: &TaskAssignment{TaskID: "task1", NodeID: "n2", Status: types.TaskStatus{State: types.TaskAssigned, Timestamp: at(7)}}},
			{AssignTask: &TaskAssignment{TaskID: "task2", Status: types.TaskStatus{State: types.TaskPending, Timestamp: at(7), Message: "no suitable node"}}}}},
		{Time: at(8), Changes: []Change{{TaskStatus: &TaskStatusFrom{TaskID: "task1", NodeID: "n2", Status: types.TaskStatus{State: types.TaskRunning,
			Timestamp: at(8), Message: "started", ContainerID: "abc123", Addr: "10.20.1.2"}}}}},
		{Time: at(9), Changes: []Change{{TaskStatus: &TaskStatusFrom{TaskID: "task1", NodeID: "n2", Status: types.TaskStatus{State: types.TaskFailed,
			Timestamp: at(9), Err: "task: non-zero exit (137)", ExitCode: &code}}}}},
		{Time: at(10), Changes: []Change{{TaskDesired: &TaskDesiredFrom{TaskID: "task1", State: types.TaskShutdown}}, {DeleteTask: "task2"}}},
		{Time: at(11), RequestID: "req-2", Changes: []Change{{UpdateService: &updated}}},
		{Time: at(12), Changes: []Change{{ServiceProblem: &ServiceProblem{ServiceID: "svc1", Message: "not reconciled"}}}},
		{Time: at(13), Changes: []Change{{UpdateNode: &NodeUpdate{NodeID: "n2", Role: &role, Availability: &avail,
			Labels: map[string]string{"zone": "b"}, SetLabels: true, ManagerAddr: "198.18.0.12:2377"}}}},
	}
}

func writeV0Fixtures(t *testing.T) {
	if err := os.MkdirAll(schemaV0Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st := New()
	var log bytes.Buffer
	for i, c := range v0History() {
		b, err := json.Marshal(c) // format 0
		if err != nil {
			t.Fatal(err)
		}
		log.Write(b)
		log.WriteByte('\n')
		if err := st.Apply(uint64(i+1), c); err != nil {
			t.Fatalf("entry %d: %v", i+1, err)
		}
	}
	snap, err := (&FSM{Store: st}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := json.Marshal(&snap.(*fsmSnapshot).data) // format 0
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"log.jsonl": log.Bytes(), "snapshot.json": append(sb, '\n')} {
		if err := os.WriteFile(filepath.Join(schemaV0Dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSchemaV0Fixtures writes the format-0 fixtures when asked to, and
// otherwise checks that they are there.
func TestSchemaV0Fixtures(t *testing.T) {
	if os.Getenv("SW_WRITE_SCHEMA_V0") == "1" {
		writeV0Fixtures(t)
	}
	for _, name := range []string{"log.jsonl", "snapshot.json"} {
		if _, err := os.Stat(filepath.Join(schemaV0Dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// stateOf is a store's whole state, as a snapshot holds it.
// knownToV0 is a state without what the release that wrote format 0 did
// not record (a rollout's status and versions, tasks' running and end
// times), which replaying its log now records.
func knownToV0(d snapshotData) snapshotData {
	out := d
	out.Services, out.Tasks = nil, nil
	for _, s := range d.Services {
		c := *s
		c.UpdateStatus, c.PreviousSpecVersion, c.TopSpecVersion = nil, 0, 0
		out.Services = append(out.Services, &c)
	}
	for _, t := range d.Tasks {
		c := *t
		c.RunningAt, c.EndedAt = time.Time{}, time.Time{}
		out.Tasks = append(out.Tasks, &c)
	}
	return out
}

func stateOf(t *testing.T, st *Store) snapshotData {
	t.Helper()
	snap, err := (&FSM{Store: st}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return snap.(*fsmSnapshot).data
}

type bufSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufSink) Close() error  { return nil }

var _ raft.SnapshotSink = (*bufSink)(nil)

// TestMigrateSchemaV0: a log and a snapshot written in format 0 (by the
// release before format 1) are read as they are, give the same state,
// and that state written again (format 1) reads back equal; each entry
// re-encoded in format 1 decodes to the same command.
func TestMigrateSchemaV0(t *testing.T) {
	f, err := os.Open(filepath.Join(schemaV0Dir, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fromLog := New()
	var v0Size, v1Size int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	i := uint64(0)
	for sc.Scan() {
		i++
		entry := sc.Bytes()
		cmd, err := DecodeCommand(entry)
		if err != nil {
			t.Fatalf("format-0 entry %d: %v", i, err)
		}
		if err := (&FSM{Store: fromLog}).Apply(&raft.Log{Index: i, Type: raft.LogCommand, Data: entry}); err != nil {
			t.Fatalf("format-0 entry %d applied: %v", i, err)
		}
		v1, err := cmd.Encode()
		if err != nil || v1[0] != FormatVersion {
			t.Fatalf("entry %d re-encoded: %v (format byte %d)", i, err, v1[0])
		}
		again, err := DecodeCommand(v1)
		if err != nil || !reflect.DeepEqual(again, cmd) {
			t.Fatalf("entry %d in format 1 decodes to\n%+v\nwant\n%+v (%v)", i, again, cmd, err)
		}
		v0Size, v1Size = v0Size+len(entry), v1Size+len(v1)
	}
	if err := sc.Err(); err != nil || i != uint64(len(v0History())) {
		t.Fatalf("%d entries read (%v), want %d", i, err, len(v0History()))
	}
	t.Logf("the log: %d bytes in format 0, %d in format 1", v0Size, v1Size)

	snap, err := os.ReadFile(filepath.Join(schemaV0Dir, "snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromSnap := New()
	if err := (&FSM{Store: fromSnap}).Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatalf("format-0 snapshot: %v", err)
	}
	want := stateOf(t, fromLog)
	if got := stateOf(t, fromSnap); !reflect.DeepEqual(knownToV0(got), knownToV0(want)) {
		t.Fatalf("the format-0 snapshot and log disagree:\nsnapshot %+v\nlog      %+v", got, want)
	}

	// What the fixtures hold, read back field by field.
	v := fromLog.View()
	web := v.Service("svc1")
	switch {
	case web == nil:
		t.Fatal("service web missing")
	case web.Spec.Replicas != 2 || web.PreviousSpec == nil || web.PreviousSpec.Replicas != 3 || web.SpecVersion != 2:
		t.Fatalf("web's update: %+v", web)
	case web.Spec.Container.Healthcheck == nil || web.Spec.Container.Healthcheck.Retries != 2 ||
		web.Spec.Container.StopGracePeriod != 10*time.Second || web.Spec.Restart.MaxAttempts != 4:
		t.Fatalf("web's container spec: %+v", web.Spec)
	case len(web.Spec.Ports) != 1 || web.Spec.Ports[0].PublishedPort != 9080 || web.Spec.Networks[0].Aliases[0] != "www":
		t.Fatalf("web's endpoint: %+v", web.Spec)
	case web.ReconcileError != "not reconciled":
		t.Fatalf("web's problem: %q", web.ReconcileError)
	}
	tk := v.Task("task1")
	if tk == nil || tk.DesiredState != types.TaskShutdown || tk.Status.State != types.TaskFailed || tk.Status.ExitCode == nil ||
		*tk.Status.ExitCode != 137 || tk.NodeID != "n2" || len(tk.Networks) != 1 || tk.Networks[0].Addr != "10.20.1.2" {
		t.Fatalf("task1: %+v", tk)
	}
	if v.Task("task2") != nil {
		t.Fatal("task2 was deleted")
	}
	n2 := v.Node("n2")
	if n2 == nil || n2.Role != types.RoleManager || n2.Availability != types.AvailabilityDrain || n2.Labels["zone"] != "b" {
		t.Fatalf("n2: %+v", n2)
	}
	c := v.Cluster()
	if c == nil || string(c.RootCA.KeyPEM) != "key" || c.DefaultAddrPool[0] != "10.20.0.0/16" || c.JoinTokens.Manager != "SWMTKN-1-m" {
		t.Fatalf("cluster: %+v", c)
	}
	if len(want.Networks) != 1 || want.Networks[0].VNI != 4097 || want.Networks[0].Subnet != "10.20.1.0/24" {
		t.Fatalf("networks: %+v", want.Networks)
	}
	if len(want.Requests) != 2 {
		t.Fatalf("request records: %+v", want.Requests)
	}

	// Written again, now in format 1, and read back.
	s1, err := (&FSM{Store: fromLog}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink bufSink
	if err := s1.Persist(&sink); err != nil || sink.cancelled {
		t.Fatalf("persist: %v", err)
	}
	if sink.Bytes()[0] != FormatVersion {
		t.Fatalf("a new snapshot starts with byte %d, want format %d", sink.Bytes()[0], FormatVersion)
	}
	t.Logf("the snapshot: %d bytes in format 0, %d in format 1", len(snap), sink.Len())
	migrated := New()
	if err := (&FSM{Store: migrated}).Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatalf("format-1 snapshot: %v", err)
	}
	if got := stateOf(t, migrated); !reflect.DeepEqual(got, want) {
		t.Fatalf("the format-1 snapshot reads back as\n%+v\nwant\n%+v", got, want)
	}
}

// TestUnknownFormatRefused: an entry or snapshot of a format this code
// does not know is refused, naming it, not misread.
func TestUnknownFormatRefused(t *testing.T) {
	for _, b := range [][]byte{{2, 0x80}, {0xff}, {}} {
		if _, err := DecodeCommand(b); err == nil || !errors.Is(err, ErrBadCommand) {
			t.Errorf("entry %x: err = %v", b, err)
		}
	}
	err := (&FSM{Store: New()}).Restore(io.NopCloser(bytes.NewReader([]byte{7, 1, 2})))
	if err == nil || !strings.Contains(err.Error(), "stored format 7 is unknown") {
		t.Fatalf("snapshot of format 7: %v", err)
	}
}
