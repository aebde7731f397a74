package pki

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	ca := newCA(t, testNow)
	s, err := NewJoinToken(ca.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$`).MatchString(s) {
		t.Fatalf("token %q has the wrong shape", s)
	}
	tok, err := ParseJoinToken(s)
	if err != nil {
		t.Fatalf("ParseJoinToken: %v", err)
	}
	if tok.Version != 1 || tok.Digest != ca.Digest() || len(tok.Secret) != 25 {
		t.Errorf("token = %+v, want version 1 and digest %s", tok, ca.Digest())
	}
	if tok.String() != s {
		t.Errorf("String = %q, want %q", tok.String(), s)
	}
	if again, _ := ParseJoinToken("  " + s + "\n"); again != tok {
		t.Errorf("white space changed the parse")
	}
	s2, _ := NewJoinToken(ca.Cert.Raw)
	tok2, _ := ParseJoinToken(s2)
	if tok2.Secret == tok.Secret || tok2.Digest != tok.Digest {
		t.Errorf("two tokens: same secret or different digest")
	}
	if _, err := NewJoinToken(nil); err == nil {
		t.Errorf("NewJoinToken(nil) succeeded")
	}
}

func TestParseJoinTokenMalformed(t *testing.T) {
	d := strings.Repeat("1", 50)
	sec := strings.Repeat("b", 25)
	tests := []struct {
		name, tok, want string
	}{
		{"empty", "", "must start with"},
		{"wrong prefix", "SWMKEY-1-" + d + "-" + sec, "must start with"},
		{"lower-case prefix", "swmtkn-1-" + d + "-" + sec, "must start with"},
		{"version 2", "SWMTKN-2-" + d + "-" + sec, "unsupported version"},
		{"version missing", "SWMTKN", "must start with"},
		{"too few parts", "SWMTKN-1-" + d, "want SWMTKN-1-"},
		{"too many parts", "SWMTKN-1-" + d + "-" + sec + "-x", "want SWMTKN-1-"},
		{"short digest", "SWMTKN-1-" + d[1:] + "-" + sec, "CA digest"},
		{"long digest", "SWMTKN-1-" + d + "1-" + sec, "CA digest"},
		{"upper-case digest", "SWMTKN-1-" + d[1:] + "A-" + sec, "CA digest"},
		{"non-base36 digest", "SWMTKN-1-" + d[1:] + "_-" + sec, "CA digest"},
		{"digest above 2^256", "SWMTKN-1-" + strings.Repeat("z", 50) + "-" + sec, "out of range"},
		{"short secret", "SWMTKN-1-" + d + "-" + sec[1:], "secret"},
		{"long secret", "SWMTKN-1-" + d + "-" + sec + "b", "secret"},
		{"non-base36 secret", "SWMTKN-1-" + d + "-" + sec[1:] + "!", "secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJoinToken(tc.tok)
			if !errors.Is(err, ErrInvalidJoinToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want invalid join token …%s…", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "pki: invalid join token") {
				t.Errorf("err = %q lacks the prefix", err)
			}
			if strings.Contains(err.Error(), sec) {
				t.Errorf("err = %q quotes the secret", err)
			}
		})
	}
}

func TestTokenMatchesCA(t *testing.T) {
	ca, other := newCA(t, testNow), newCA(t, testNow)
	s, _ := NewJoinToken(ca.Cert.Raw)
	tok, _ := ParseJoinToken(s)
	tests := []struct {
		name string
		der  []byte
		want bool
	}{
		{"own CA", ca.Cert.Raw, true},
		{"another CA", other.Cert.Raw, false},
		{"PEM instead of DER", ca.CertPEM, false},
		{"nothing", nil, false},
	}
	for _, tc := range tests {
		if got := tok.MatchesCA(tc.der); got != tc.want {
			t.Errorf("%s: MatchesCA = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSecretEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"abc", "abc", true},
		{"", "", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"abc", "", false},
	}
	for _, tc := range tests {
		if got := SecretEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("SecretEqual(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
