package types

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The health check sits where Docker puts it, durations in nanoseconds.
func TestHealthcheckJSON(t *testing.T) {
	s := ServiceSpec{Name: "web", Mode: ModeReplicated, Replicas: 1, Container: ContainerSpec{Image: "x",
		Healthcheck: &HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 500 * time.Millisecond,
			Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 2}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":500000000,"Timeout":2000000000,"StartPeriod":1000000000,"Retries":2}`
	if !strings.Contains(string(b), `"TaskTemplate":{"ContainerSpec":{`) || !strings.Contains(string(b), want) {
		t.Fatalf("JSON %s\nwant it to hold %s", b, want)
	}
	var back ServiceSpec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip: %+v, want %+v", back.Container.Healthcheck, s.Container.Healthcheck)
	}
	s.Container.Healthcheck = nil
	if b, _ := json.Marshal(s); strings.Contains(string(b), "Healthcheck") {
		t.Errorf("no health check, yet JSON %s", b)
	}
	if !(&HealthConfig{Test: []string{"NONE"}}).Disabled() || (&HealthConfig{}).Disabled() || (*HealthConfig)(nil).Disabled() {
		t.Errorf("Disabled is wrong")
	}
}
