package format

import "testing"

func TestTruncateID(t *testing.T) {
	tests := map[string]string{
		"kq3pz8m1x0ab7c5d2e9f1g3h4": "kq3pz8m1x0ab",
		"kq3pz8m1x0ab":              "kq3pz8m1x0ab",
		"abc":                       "abc",
		"":                          "",
		"sha256:0123456789abcdef":   "0123456789ab",
	}
	for in, want := range tests {
		if got := TruncateID(in); got != want {
			t.Errorf("TruncateID(%q) = %q, want %q", in, got, want)
		}
	}
}
