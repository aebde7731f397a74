package types

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"sw/cluster/strictjson"
)

// FuzzServiceSpecJSON decodes a spec both ways. The lenient decoder (the
// Raft log's) and the strict one (requests') never panic; what the strict
// one accepts the lenient one accepts alike, has at most one mode, and
// re-encodes to JSON that decodes strictly to the same; a strict refusal
// matches strictjson.ErrInvalid.
func FuzzServiceSpecJSON(f *testing.F) {
	full, _ := json.Marshal(fullSpec())
	f.Add(full)
	for _, s := range []string{
		`{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox"}},"Mode":{"Replicated":{"Replicas":1}}}`,
		`{"Name":"g","Mode":{"Global":{}}}`,
		`{"Mode":{"Replicated":{"Replicas":1},"Global":{}}}`,
		`{"Name":"x","Bogus":true}`,
		`{"TaskTemplate":{"ContainerSpec":{"Healthcheck":{"Test":["NONE"],"Interval":-1}}}}`,
		`{"EndpointSpec":{"Mode":"dnsrr","Ports":[{"TargetPort":65535,"PublishedPort":1}]}}`,
		`{"TaskTemplate":{"Placement":{"Constraints":["node.role==worker"]}}}`,
		`null`, `[]`, `{}`, `{"Name":"x"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var lenient ServiceSpec
		lenientErr := json.Unmarshal(b, &lenient)
		var s ServiceSpec
		if err := s.UnmarshalStrictJSON(b); err != nil {
			if !errors.Is(err, strictjson.ErrInvalid) {
				t.Fatalf("UnmarshalStrictJSON(%q) error %v does not match ErrInvalid", b, err)
			}
			return
		}
		if lenientErr != nil {
			t.Fatalf("UnmarshalStrictJSON(%q) accepted, UnmarshalJSON refused: %v", b, lenientErr)
		}
		enc, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", s, err)
		}
		if lenc, _ := json.Marshal(lenient); !bytes.Equal(lenc, enc) {
			t.Fatalf("%q: strict gives %s, lenient %s", b, enc, lenc)
		}
		if s.Mode != "" && s.Mode != ModeReplicated && s.Mode != ModeGlobal {
			t.Fatalf("%q decoded to mode %q", b, s.Mode)
		}
		var again ServiceSpec
		if err := again.UnmarshalStrictJSON(enc); err != nil {
			t.Fatalf("%q accepted; its re-encoding %s refused: %v", b, enc, err)
		}
		if enc2, _ := json.Marshal(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("round trip of %q: %s, then %s", b, enc, enc2)
		}
	})
}
