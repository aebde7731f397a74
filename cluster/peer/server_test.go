package peer

import (
	"strings"
	"testing"
)

// Every other peer body is read strictly.
func TestDecodePeerBodies(t *testing.T) {
	tests := []struct {
		name string
		v    any
		body string
		want string // "" = decodes
	}{
		{"join", &JoinRequest{}, `{"Token":"t","CSR":"AA==","Hostname":"h"}`, ""},
		{"join, unknown field", &JoinRequest{}, `{"Token":"t","Role":"manager"}`, `unknown field "Role"`},
		{"raft join", &RaftJoinRequest{}, `{"NodeID":"n","Addr":"a:2377"}`, ""},
		{"raft join, unknown field", &RaftJoinRequest{}, `{"NodeID":"n","Voter":true}`, `unknown field "Voter"`},
		{"status", &StatusReport{}, `{"Updates":[{"TaskID":"t","NodeID":"n","Status":{"State":"RUNNING"}}]}`, ""},
		{"status, unknown nested field", &StatusReport{}, `{"Updates":[{"TaskID":"t","Status":{"Health":"ok"}}]}`,
			`unknown field "Health"`},
		{"status, bad state", &StatusReport{}, `{"Updates":[{"Status":{"State":"DANCING"}}]}`, `unknown task state "DANCING"`},
		{"renew", &RenewRequest{}, `{"CSR":"AA=="}`, ""},
		{"renew, two bodies", &RenewRequest{}, `{"CSR":"AA=="}{"CSR":"AA=="}`, "unexpected data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecodeBody(strings.NewReader(tt.body), tt.v)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("DecodeBody(%s): %v", tt.body, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("DecodeBody(%s) = %v, want an error with %q", tt.body, err, tt.want)
			}
		})
	}
}
