package pki

import (
	"bytes"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestUnlockKeyRoundTrip(t *testing.T) {
	s, key, err := NewUnlockKey()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^SWMKEY-1-[A-Za-z0-9+/]{43}$`).MatchString(s) {
		t.Fatalf("unlock key %q has the wrong shape", s)
	}
	got, err := ParseUnlockKey(s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, key) || len(key) != 32 {
		t.Errorf("ParseUnlockKey = %x, want %x", got, key)
	}
	if s2, key2, _ := NewUnlockKey(); s2 == s || bytes.Equal(key2, key) {
		t.Errorf("two unlock keys are equal")
	}
}

func TestParseUnlockKeyMalformed(t *testing.T) {
	good := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name, key, want string
	}{
		{"empty", "", "must start with"},
		{"wrong prefix", "SWMTKN-1-" + good, "must start with"},
		{"wrong version", "SWMKEY-2-" + good, "must start with"},
		{"padded base64", "SWMKEY-1-" + base64.StdEncoding.EncodeToString(make([]byte, 32)), "bad base64"},
		{"not base64", "SWMKEY-1-" + good[1:] + "!", "bad base64"},
		{"URL alphabet", "SWMKEY-1-" + strings.Repeat("_", 43), "bad base64"},
		{"line break inside (found by fuzzing)", "SWMKEY-1-" + good[:20] + "\n" + good[20:], "bad base64"},
		{"short", "SWMKEY-1-" + base64.RawStdEncoding.EncodeToString(make([]byte, 31)), "want 32 bytes"},
		{"long", "SWMKEY-1-" + base64.RawStdEncoding.EncodeToString(make([]byte, 33)), "want 32 bytes"},
	}
	for _, tc := range tests {
		_, err := ParseUnlockKey(tc.key)
		if !errors.Is(err, ErrInvalidUnlockKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want invalid unlock key …%s…", tc.name, err, tc.want)
		}
	}
}
