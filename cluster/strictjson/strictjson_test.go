package strictjson

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type inner struct {
	A int    `json:"A"`
	S string `json:"S,omitempty"`
}

type outer struct {
	Name  string        `json:"Name"`
	In    inner         `json:"In"`
	List  []inner       `json:"List,omitempty"`
	Ptr   *inner        `json:"Ptr,omitempty"`
	Count uint64        `json:"Count"`
	D     time.Duration `json:"D"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" = decodes
	}{
		{"all fields", `{"Name":"x","In":{"A":1,"S":"s"},"List":[{"A":2}],"Ptr":{"A":3},"Count":4,"D":5}`, ""},
		{"some fields", `{"Name":"x"}`, ""},
		{"white space after", "{\"Name\":\"x\"}\n\t ", ""},
		{"field names in any case, as encoding/json's", `{"name":"x"}`, ""},
		{"null", `null`, ""},
		{"unknown top-level field", `{"Name":"x","Colour":"red"}`, `unknown field "Colour"`},
		{"unknown nested field", `{"In":{"A":1,"B":2}}`, `unknown field "B"`},
		{"unknown field in a list", `{"List":[{"A":1},{"Z":1}]}`, `unknown field "Z"`},
		{"unknown field behind a pointer", `{"Ptr":{"Q":1}}`, `unknown field "Q"`},
		{"second value", `{"Name":"x"}{"Name":"y"}`, "unexpected data after the JSON value"},
		{"trailing garbage", `{"Name":"x"} ]`, "unexpected data after the JSON value"},
		{"trailing word", `{"Name":"x"} hello`, "unexpected data after the JSON value"},
		{"empty", ``, "the body is empty"},
		{"only space", "  \n", "the body is empty"},
		{"cut short", `{"Name":"x"`, "cut short"},
		{"syntax", `{"Name":}`, "invalid character '}'"},
		{"wrong type", `{"Count":"many"}`, "Count: got a JSON string, want uint64"},
		{"negative count", `{"Count":-1}`, "Count: got a JSON number -1, want uint64"},
		{"huge count", `{"Count":1e30}`, "Count: got a JSON number 1e30, want uint64"},
		{"wrong nested type", `{"In":{"A":true}}`, "In.A: got a JSON bool, want int"},
		{"not an object", `[1,2]`, "want strictjson.outer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v outer
			err := Unmarshal([]byte(tt.in), &v)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			case tt.want == "":
				return
			case err == nil:
				t.Fatalf("Unmarshal(%s) = nil, want an error with %q", tt.in, tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("Unmarshal(%s) = %q, want it to contain %q", tt.in, err, tt.want)
			case !errors.Is(err, ErrInvalid):
				t.Errorf("Unmarshal(%s) = %v, which does not match ErrInvalid", tt.in, err)
			case strings.Contains(err.Error(), "json: "):
				t.Errorf("Unmarshal(%s) = %q: Go's package prefix leaks out", tt.in, err)
			}
		})
	}
}

// A body over http.MaxBytesReader's limit says so, whatever it holds.
func TestDecodeTooLarge(t *testing.T) {
	body := `{"Name":"` + strings.Repeat("x", 100) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r := http.MaxBytesReader(httptest.NewRecorder(), req.Body, 50)
	var v outer
	err := Decode(r, &v)
	if err == nil || !strings.Contains(err.Error(), "over the limit of 50 bytes") || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Decode of a body over the limit: %v", err)
	}
}
