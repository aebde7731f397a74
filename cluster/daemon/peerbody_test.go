package daemon

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/peer"
	"sw/cluster/store"
	"sw/cluster/types"
)

// A forwarded command decodes on the leader to what the follower sent,
// although a Service marshals with Docker's read-only Endpoint section,
// which no Go field takes: the command is read as the Raft log reads it.
func TestDecodePropose(t *testing.T) {
	svc := &types.Service{ID: "s1", Spec: types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 2,
		Container: types.ContainerSpec{Image: "busybox"}, EndpointMode: types.EndpointVIP,
		Ports: []types.PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}}}}
	cmd := store.Command{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Changes: []store.Change{{CreateService: svc},
		{TaskStatus: &store.TaskStatusFrom{TaskID: "t", NodeID: "n", Status: types.TaskStatus{State: types.TaskRunning}}}}}
	b, err := json.Marshal(peer.ProposeRequest{Command: cmd})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Endpoint"`) {
		t.Fatalf("the test needs a command with an Endpoint section: %s", b)
	}
	got, err := decodePropose(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("decodePropose: %v", err)
	}
	if !reflect.DeepEqual(*got, cmd) {
		t.Errorf("decodePropose:\n got %+v\nwant %+v", *got, cmd)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"Command":{"Changes":[]},"Urgent":true}`, `unknown field "Urgent"`},
		{`{"Command":{"Changes":[]}} {}`, "unexpected data after the JSON value"},
		{`{}`, "malformed command"},
		{`{"Command":{"Changes":"no"}}`, "malformed command"},
	} {
		if _, err := decodePropose(strings.NewReader(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decodePropose(%s) = %v, want an error with %q", tc.body, err, tc.want)
		}
	}
}
