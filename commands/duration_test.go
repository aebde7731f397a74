package commands

import (
	"testing"
	"time"

	units "github.com/docker/go-units"
)

// TestHumanDuration pins the wording of "Running 18 minutes ago" in task
// lists (go-units, as Docker): whole seconds and minutes truncated, hours
// rounded, days, weeks, months and years counted in whole hours, each
// used from twice its size.
func TestHumanDuration(t *testing.T) {
	const (
		s = time.Second
		m = time.Minute
		h = time.Hour
		d = 24 * time.Hour
	)
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-5 * s, "Less than a second"},
		{0, "Less than a second"},
		{999 * time.Millisecond, "Less than a second"},
		{1 * s, "1 second"},
		{1999 * time.Millisecond, "1 second"},
		{2 * s, "2 seconds"},
		{59*s + 999*time.Millisecond, "59 seconds"},
		{60 * s, "About a minute"},
		{119 * s, "About a minute"},
		{120 * s, "2 minutes"},
		{18 * m, "18 minutes"},
		{59*m + 59*s, "59 minutes"},
		{60 * m, "About an hour"},
		{89*m + 59*s, "About an hour"},
		{90 * m, "2 hours"},
		{47*h + 29*m, "47 hours"},
		{47*h + 30*m, "2 days"},
		{13 * d, "13 days"},
		{13*d + 12*h, "13 days"},
		{14 * d, "2 weeks"},
		{59 * d, "8 weeks"},
		{60 * d, "2 months"},
		{729 * d, "24 months"},
		{730 * d, "2 years"},
		{10*365*d + 200*d, "10 years"},
	}
	for _, tt := range tests {
		if got := units.HumanDuration(tt.in); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
