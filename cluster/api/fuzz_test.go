package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"sw/cluster/spec"
	"sw/cluster/types"
)

// requestTypes are the bodies the API decodes, each as a fresh value.
var requestTypes = []func() any{
	func() any { return &InitRequest{} },
	func() any { return &JoinRequest{} },
	func() any { return &SwarmUpdateRequest{} },
	func() any { return &LeaveRequest{} },
	func() any { return &NodeUpdateRequest{} },
	func() any { return &types.StrictSpec{} },
	func() any { return &UpdateServiceRequest{} },
	func() any { return &UnlockRequest{} },
	func() any { return &types.NetworkSpec{} },
}

// FuzzDecodeRequest decodes a body as one of the request types, through
// the server's own decodeBody. A refused body is a bad request whose
// message says so; an accepted one re-encodes to JSON that decodes,
// strictly, to the same; an accepted spec validates without trouble and,
// if valid, is still valid after a round trip.
func FuzzDecodeRequest(f *testing.F) {
	for i, body := range []string{
		`{"AdvertiseAddr":"127.0.0.1","ListenAddr":"127.0.0.1:2377","Plugins":["autolock"],"CertExpiry":3600000000000}`,
		`{"RemoteAddr":"127.0.0.1:2377","Token":"SWMTKN-1-x-y"}`,
		`{"RotateWorkerToken":true,"CertExpiry":1}`,
		`{"Force":true}`,
		`{"Availability":"drain","LabelAdd":{"a":"b"},"LabelRm":["c"]}`,
		`{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Env":["A=1"]},"RestartPolicy":{"Condition":"any"}},` +
			`"Mode":{"Replicated":{"Replicas":2}},"EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080}]}}`,
		`{"Version":3,"Spec":{"Name":"web","Mode":{"Global":{}},"TaskTemplate":{"ContainerSpec":{"Image":"busybox"}}}}`,
		`{"UnlockKey":"SWMKEY-1-AAAA"}`,
		`{"Name":"front","Driver":"overlay","Labels":{"a":"b"},"Attachable":true,"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(5), []byte(`{"Name":"web","Mode":{"Replicated":{"Replicas":1},"Global":{}}}`))
	f.Add(uint8(5), []byte(`{"Name":"web","Bogus":1}`))
	f.Add(uint8(6), []byte(`{"Version":1,"Spec":{}} {}`))
	f.Add(uint8(0), []byte(``))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		v := requestTypes[int(kind)%len(requestTypes)]()
		if err := decodeBody(bytes.NewReader(body), v); err != nil {
			if !errors.Is(err, ErrBadRequest) || !strings.HasPrefix(err.Error(), "invalid request body: ") {
				t.Fatalf("decodeBody(%q) error %v: not a bad request that says so", body, err)
			}
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", v, err)
		}
		again := requestTypes[int(kind)%len(requestTypes)]()
		if err := decodeBody(bytes.NewReader(enc), again); err != nil {
			t.Fatalf("decodeBody(%q) accepted, its re-encoding %s refused: %v", body, enc, err)
		}
		if enc2, _ := json.Marshal(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("round trip of %q: %s, then %s", body, enc, enc2)
		}
		var s *types.ServiceSpec
		switch r := v.(type) {
		case *types.StrictSpec:
			s = &r.ServiceSpec
		case *UpdateServiceRequest:
			s = &r.Spec.ServiceSpec
		default:
			return
		}
		spec.Defaults(s)
		if err := spec.Validate(s); err != nil {
			if len(err.Error()) > 64<<10 {
				t.Fatalf("Validate error is %d bytes long", len(err.Error()))
			}
			return
		}
		b, _ := json.Marshal(s)
		var back types.ServiceSpec
		if err := back.UnmarshalStrictJSON(b); err != nil {
			t.Fatalf("a valid spec %s does not decode back: %v", b, err)
		}
		if err := spec.Validate(&back); err != nil {
			t.Fatalf("a valid spec %s is invalid after a round trip: %v", b, err)
		}
	})
}
