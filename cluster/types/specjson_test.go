package types

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sw/cluster/strictjson"
)

// fullSpec sets every field of a spec, so that a round trip covers all.
func fullSpec() ServiceSpec {
	return ServiceSpec{Name: "web", Labels: map[string]string{"tier": "front"}, Mode: ModeReplicated, Replicas: 3,
		Container: ContainerSpec{Image: "nginx:1", Command: []string{"/bin/app"}, Args: []string{"-v"}, Env: []string{"A=1"},
			Labels: map[string]string{"c": "d"}, StopGracePeriod: 10 * time.Second,
			Healthcheck: &HealthConfig{Test: []string{"CMD", "/bin/ok"}, Interval: time.Second, Timeout: time.Second,
				StartPeriod: time.Second, Retries: 2}},
		Restart:   RestartPolicy{Condition: RestartOnFailure, Delay: time.Second, MaxAttempts: 4},
		Ports:     []PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}},
		Placement: Placement{Constraints: []string{"node.role==worker"}}, EndpointMode: EndpointVIP}
}

// What the CLI sends (a spec as it marshals, and the spec of a service
// read back from the daemon) decodes strictly to the same spec.
func TestStrictSpecRoundTrip(t *testing.T) {
	global := fullSpec()
	global.Mode, global.Replicas = ModeGlobal, 0
	for _, s := range []ServiceSpec{fullSpec(), global, {Name: "min", Mode: ModeReplicated, Container: ContainerSpec{Image: "x"}}} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back ServiceSpec
		if err := back.UnmarshalStrictJSON(b); err != nil {
			t.Fatalf("UnmarshalStrictJSON(%s): %v", b, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", back, s)
		}
		// The spec inside a service read back (with Docker's Endpoint).
		svc, err := json.Marshal(Service{ID: "x", Spec: s})
		if err != nil {
			t.Fatal(err)
		}
		var read Service
		if err := json.Unmarshal(svc, &read); err != nil {
			t.Fatal(err)
		}
		resent, _ := json.Marshal(read.Spec)
		var again StrictSpec
		if err := json.Unmarshal(resent, &again); err != nil || !reflect.DeepEqual(again.ServiceSpec, s) {
			t.Errorf("read back and sent again: %+v, %v", again.ServiceSpec, err)
		}
		if sb, _ := json.Marshal(StrictSpec{s}); string(sb) != string(b) {
			t.Errorf("StrictSpec marshals as %s, ServiceSpec as %s", sb, b)
		}
	}
}

func TestUnmarshalStrictJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"top level", `{"Name":"x","Replicas":3}`, `unknown field "Replicas"`},
		{"task template", `{"TaskTemplate":{"LogDriver":{}}}`, `unknown field "LogDriver"`},
		{"container spec", `{"TaskTemplate":{"ContainerSpec":{"Image":"x","Isolation":"default"}}}`, `unknown field "Isolation"`},
		{"health check", `{"TaskTemplate":{"ContainerSpec":{"Healthcheck":{"Every":1}}}}`, `unknown field "Every"`},
		{"restart policy", `{"TaskTemplate":{"RestartPolicy":{"Windows":1}}}`, `unknown field "Windows"`},
		{"placement", `{"TaskTemplate":{"Placement":{"Platforms":[]}}}`, `unknown field "Platforms"`},
		{"replicated", `{"Mode":{"Replicated":{"Replicas":1,"Max":2}}}`, `unknown field "Max"`},
		{"global", `{"Mode":{"Global":{"x":1}}}`, `unknown field "x"`},
		{"unknown mode", `{"Mode":{"Job":{}}}`, `unknown field "Job"`},
		{"endpoint spec", `{"EndpointSpec":{"Ports":[{"TargetPort":80,"Name":"http"}]}}`, `unknown field "Name"`},
		{"both modes", `{"Name":"x","Mode":{"Replicated":{"Replicas":2},"Global":{}}}`, "more than one of Replicated, Global, ReplicatedJob and GlobalJob is set"},
		{"trailing data", `{"Name":"x"} {"Name":"y"}`, "unexpected data after the JSON value"},
		{"wrong type", `{"Mode":{"Replicated":{"Replicas":-1}}}`, "Replicas: got a JSON number -1, want uint64"},
		{"empty", ``, "the body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s ServiceSpec
			err := s.UnmarshalStrictJSON([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, strictjson.ErrInvalid) {
				t.Fatalf("UnmarshalStrictJSON(%s) = %v, want an ErrInvalid with %q", tt.in, err, tt.want)
			}
			// Nested in a request body, the error comes out the same.
			var req struct {
				Spec StrictSpec `json:"Spec"`
			}
			err2 := strictjson.Unmarshal([]byte(`{"Spec":`+orNull(tt.in)+`}`), &req)
			if tt.name != "trailing data" && tt.name != "empty" && (err2 == nil || !strings.Contains(err2.Error(), tt.want)) {
				t.Errorf("nested: %v, want an error with %q", err2, tt.want)
			}
		})
	}
	if err := (&ServiceSpec{}).UnmarshalStrictJSON([]byte(`{"Mode":{"Replicated":{},"Global":{}}}`)); !errors.Is(err, ErrModeConflict) {
		t.Errorf("both modes: %v, want ErrModeConflict", err)
	}
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// The lenient decoder (the Raft log's) skips what it does not know, so
// entries written by other versions stay readable.
func TestUnmarshalJSONLenient(t *testing.T) {
	in := `{"Name":"x","Future":1,"TaskTemplate":{"ContainerSpec":{"Image":"y","User":"root"},"LogDriver":{}},` +
		`"Mode":{"Replicated":{"Replicas":2,"Max":1}}}`
	var s ServiceSpec
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatalf("lenient decode: %v", err)
	}
	if s.Name != "x" || s.Container.Image != "y" || s.Mode != ModeReplicated || s.Replicas != 2 {
		t.Errorf("lenient decode: %+v", s)
	}
}
