package spec

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"sw/cluster/types"
)

// FuzzValidate runs Defaults and Validate (the limits included) on any
// spec the API would decode. Validate never panics and never changes the
// spec; its error stays short whatever the spec holds; a spec it accepts
// is accepted again after a JSON round trip, and its defaults are stable.
// (sw parses no memory or byte sizes yet; the spec's limits are its
// sizes, and this target covers them.)
func FuzzValidate(f *testing.F) {
	g := good()
	b, _ := json.Marshal(g)
	f.Add(b)
	for _, s := range []string{
		`{"Name":"web","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Env":["A=1","B"],"Command":["sh","-c","x"]}},` +
			`"Mode":{"Replicated":{"Replicas":100001}}}`,
		`{"Name":"g","TaskTemplate":{"ContainerSpec":{"Image":"echo id:bars"}},"Mode":{"Global":{}}}`,
		`{"Name":"h","TaskTemplate":{"ContainerSpec":{"Image":"sha256:` + strings.Repeat("ab", 32) + `",` +
			`"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":1000000,"Retries":1001}},"RestartPolicy":{"Delay":86400000000001}}}`,
		`{"Name":"p","TaskTemplate":{"ContainerSpec":{"Image":"x"}},"EndpointSpec":{"Ports":[{"TargetPort":80,"PublishedPort":80},` +
			`{"TargetPort":81,"PublishedPort":80}]}}`,
		`{"Name":"l","Labels":{"":"x"},"TaskTemplate":{"ContainerSpec":{"Image":"../../etc/passwd@@","Labels":{"k":"v"}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s types.ServiceSpec
		if s.UnmarshalStrictJSON(b) != nil {
			return
		}
		Defaults(&s)
		before, _ := json.Marshal(s)
		err := Validate(&s)
		if after, _ := json.Marshal(s); !bytes.Equal(after, before) {
			t.Fatalf("Validate changed the spec: %s to %s", before, after)
		}
		if err != nil {
			if n := len(err.Error()); n > 16<<10 {
				t.Fatalf("Validate's error is %d bytes long", n)
			}
			return
		}
		var back types.ServiceSpec
		if err := back.UnmarshalStrictJSON(before); err != nil {
			t.Fatalf("a valid spec %s does not decode back: %v", before, err)
		}
		Defaults(&back)
		if again, _ := json.Marshal(back); !bytes.Equal(again, before) {
			t.Fatalf("defaults are not stable: %s, then %s", before, again)
		}
		if err := Validate(&back); err != nil {
			t.Fatalf("valid spec %s is invalid after a round trip: %v", before, err)
		}
	})
}
