package daemon

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sw/cluster/peer"
)

// peerRequestTypes are the bodies the peer API reads with peer.ReadJSON.
var peerRequestTypes = []func() any{
	func() any { return &peer.JoinRequest{} },
	func() any { return &peer.RaftJoinRequest{} },
	func() any { return &peer.StatusReport{} },
	func() any { return &peer.RenewRequest{} },
}

// FuzzDecodePeerRequest decodes a body as one of the peer API's requests
// (kind past the last: a forwarded command, through decodePropose), with
// the server's own decoders. A refused body says it is invalid; an
// accepted one re-encodes to JSON that decodes to the same.
func FuzzDecodePeerRequest(f *testing.F) {
	for i, body := range []string{
		`{"Token":"SWMTKN-1-x-y","CSR":"AAEC","Hostname":"n1","AdvertiseAddr":"127.0.0.1:2377","EngineVersion":"28","OS":"linux","Arch":"amd64"}`,
		`{"NodeID":"n1","Addr":"127.0.0.2:2377"}`,
		`{"Updates":[{"TaskID":"t1","NodeID":"n1","Status":{"State":"RUNNING","Timestamp":"2025-01-01T00:00:00Z","ContainerID":"c","ExitCode":0}}]}`,
		`{"CSR":"AAEC"}`,
		`{"Command":{"Time":"2025-01-01T00:00:00Z","Changes":[{"DeleteService":"s1"},{"TaskDesired":{"TaskID":"t","State":"SHUTDOWN"}}]}}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(4), []byte(`{"Command":{"Changes":[{"CreateService":{"ID":"s","Spec":{"Name":"web"},"Endpoint":{"Spec":{}}}}]}}`))
	f.Add(uint8(0), []byte(`{"Token":"t","Role":"manager"}`))
	f.Add(uint8(2), []byte(`{"Updates":[{"Status":{"State":7}}]}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		k := int(kind) % (len(peerRequestTypes) + 1)
		if k == len(peerRequestTypes) {
			cmd, err := decodePropose(bytes.NewReader(body))
			if err != nil {
				if !strings.HasPrefix(err.Error(), "invalid request body: ") {
					t.Fatalf("decodePropose(%q) error %q", body, err)
				}
				return
			}
			enc, err := json.Marshal(peer.ProposeRequest{Command: *cmd})
			if err != nil {
				t.Fatalf("re-encoding the command of %q: %v", body, err)
			}
			again, err := decodePropose(bytes.NewReader(enc))
			if err != nil {
				t.Fatalf("decodePropose(%q) accepted, its re-encoding %s refused: %v", body, enc, err)
			}
			if enc2, _ := json.Marshal(peer.ProposeRequest{Command: *again}); !bytes.Equal(enc2, enc) {
				t.Fatalf("round trip of %q: %s, then %s", body, enc, enc2)
			}
			return
		}
		v := peerRequestTypes[k]()
		if err := peer.DecodeBody(bytes.NewReader(body), v); err != nil {
			if !strings.HasPrefix(err.Error(), "invalid request body: ") {
				t.Fatalf("peer.DecodeBody(%q) error %q", body, err)
			}
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", v, err)
		}
		again := peerRequestTypes[k]()
		if err := peer.DecodeBody(bytes.NewReader(enc), again); err != nil {
			t.Fatalf("peer.DecodeBody(%q) accepted, its re-encoding %s refused: %v", body, enc, err)
		}
		if enc2, _ := json.Marshal(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("round trip of %q: %s, then %s", body, enc, enc2)
		}
	})
}
