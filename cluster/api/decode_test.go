package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"sw/cluster/types"
)

// recorder is a Backend that records what reached it; the routes these
// tests take call nothing else.
type recorder struct {
	Backend
	got any
}

func (b *recorder) Init(_ context.Context, req InitRequest) (InitResponse, error) {
	b.got = req
	return InitResponse{}, nil
}

func (b *recorder) Join(_ context.Context, req JoinRequest) (JoinResponse, error) {
	b.got = req
	return JoinResponse{}, nil
}

func (b *recorder) Leave(_ context.Context, force bool) error {
	b.got = LeaveRequest{Force: force}
	return nil
}

func (b *recorder) UpdateSwarm(_ context.Context, req SwarmUpdateRequest) error {
	b.got = req
	return nil
}

func (b *recorder) UpdateNode(_ context.Context, _ string, req NodeUpdateRequest) (NodeUpdateResponse, error) {
	b.got = req
	return NodeUpdateResponse{}, nil
}

func (b *recorder) CreateService(_ context.Context, spec types.ServiceSpec) (string, error) {
	b.got = spec
	return "id", nil
}

func (b *recorder) CreateNetwork(_ context.Context, spec types.NetworkSpec) (string, error) {
	b.got = spec
	return "id", nil
}

func serve(t *testing.T, b Backend, method, path, body string) (int, string) {
	t.Helper()
	srv := NewServer(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := httptest.NewRecorder()
	srv.http.Handler.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	var e ErrorResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, e.Message
}

// Every body the API decodes is read strictly: an unknown field, data
// after the body, or a body over the limit is a 400 that says which, and
// the backend is never called.
func TestStrictBodies(t *testing.T) {
	spec := `{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},"Mode":{"Replicated":{"Replicas":1}}}`
	tests := []struct {
		name, path, body string
		want             any    // what reaches the backend; nil: a 400
		msg              string // in the 400's message
	}{
		{"init", "/v1/swarm/init", `{"AdvertiseAddr":"127.0.0.1"}`, InitRequest{AdvertiseAddr: "127.0.0.1"}, ""},
		{"init, unknown field", "/v1/swarm/init", `{"AdvertiseAddr":"127.0.0.1","Autolock":true}`, nil, `unknown field "Autolock"`},
		{"join", "/v1/swarm/join", `{"RemoteAddr":"m:2377","Token":"t"}`, JoinRequest{RemoteAddr: "m:2377", Token: "t"}, ""},
		{"join, unknown field", "/v1/swarm/join", `{"RemoteAddr":"m","JoinToken":"t"}`, nil, `unknown field "JoinToken"`},
		{"leave", "/v1/swarm/leave", `{"Force":true}`, LeaveRequest{Force: true}, ""},
		{"leave, two bodies", "/v1/swarm/leave", `{"Force":false}{"Force":true}`, nil, "unexpected data after the JSON value"},
		{"leave, empty", "/v1/swarm/leave", ``, nil, "the body is empty"},
		{"swarm update", "/v1/swarm/update", `{"RotateWorkerToken":true}`, SwarmUpdateRequest{RotateWorker: true}, ""},
		{"swarm update, unknown field", "/v1/swarm/update", `{"RotateWorker":true}`, nil, `unknown field "RotateWorker"`},
		{"node update", "/v1/nodes/n1/update", `{"Availability":"drain"}`, NodeUpdateRequest{Availability: "drain"}, ""},
		{"node update, unknown field", "/v1/nodes/n1/update", `{"Availability":"drain","Labels":{}}`, nil, `unknown field "Labels"`},
		{"create", "/v1/services", spec, types.ServiceSpec{Name: "web", Mode: types.ModeReplicated, Replicas: 1,
			Container: types.ContainerSpec{Image: "busybox"}}, ""},
		{"create, unknown field", "/v1/services", `{"Name":"web","Replicas":5}`, nil, `unknown field "Replicas"`},
		{"create, unknown nested field", "/v1/services", `{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"x","Mounts":[]}}}`,
			nil, `unknown field "Mounts"`},
		{"create, both modes", "/v1/services", `{"Name":"web","Mode":{"Replicated":{"Replicas":1},"Global":{}}}`, nil,
			"more than one of Replicated, Global, ReplicatedJob and GlobalJob is set"},
		{"create, trailing data", "/v1/services", spec + `x`, nil, "unexpected data after the JSON value"},
		{"network create", "/v1/networks", `{"Name":"front","Driver":"overlay","Labels":{"a":"b"},"Attachable":true,"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}`,
			types.NetworkSpec{Name: "front", Driver: "overlay", Labels: map[string]string{"a": "b"}, Attachable: true, Subnet: "10.9.0.0/24", Gateway: "10.9.0.1"}, ""},
		{"network create, unknown field", "/v1/networks", `{"Name":"front","IPAM":{}}`, nil, `unknown field "IPAM"`},
		{"network create, allocation fields", "/v1/networks", `{"Name":"front","VNI":4097}`, nil, `unknown field "VNI"`},
		{"network create, trailing data", "/v1/networks", `{"Name":"front"}{}`, nil, "unexpected data after the JSON value"},
		{"create, over the size limit", "/v1/services", `{"Name":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, nil,
			"over the limit of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &recorder{}
			code, msg := serve(t, b, http.MethodPost, tt.path, tt.body)
			if tt.want == nil {
				if code != http.StatusBadRequest || !strings.Contains(msg, tt.msg) || !strings.HasPrefix(msg, "invalid request body: ") {
					t.Errorf("POST %s %s: %d %q, want 400 with %q", tt.path, clip(tt.body), code, msg, tt.msg)
				}
				if b.got != nil {
					t.Errorf("the backend was called with %+v", b.got)
				}
				return
			}
			if code >= 300 || !reflect.DeepEqual(b.got, tt.want) {
				t.Errorf("POST %s: %d %q; backend got %+v, want %+v", tt.path, code, msg, b.got, tt.want)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// The client's update request decodes strictly on the server's side to
// what was sent.
func TestUpdateRequestRoundTrip(t *testing.T) {
	sent := UpdateServiceRequest{Version: 7, Spec: types.StrictSpec{ServiceSpec: types.ServiceSpec{Name: "web",
		Mode: types.ModeGlobal, Container: types.ContainerSpec{Image: "busybox", Env: []string{"A=1"}},
		Ports: []types.PortConfig{{Protocol: "udp", TargetPort: 53, PublishedPort: 53, PublishMode: "host"}}}}}
	b, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	var got UpdateServiceRequest
	if err := decodeBody(strings.NewReader(string(b)), &got); err != nil {
		t.Fatalf("decodeBody(%s): %v", b, err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, sent)
	}
	if err := decodeBody(strings.NewReader(`{"Version":1,"Spec":{"Name":"x","Bogus":1}}`), &got); err == nil ||
		!strings.Contains(err.Error(), `unknown field "Bogus"`) {
		t.Errorf("unknown field in the nested spec: %v", err)
	}
}
