package pki

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseJoinToken: an accepted token is exactly its own String (less
// surrounding space), and errors never quote the input (which may hold a
// secret).
func FuzzParseJoinToken(f *testing.F) {
	good := "SWMTKN-1-" + strings.Repeat("0", 10) + strings.Repeat("a", 40) + "-" + strings.Repeat("b", 25)
	for _, s := range []string{good, " " + good + "\n", "SWMTKN-1-nonsense", "hello", "", "SWMTKN-2-a-b",
		"SWMTKN-1-" + strings.Repeat("z", 50) + "-" + strings.Repeat("0", 25), strings.ToUpper(good), good + "-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseJoinToken(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidJoinToken) {
				t.Fatalf("ParseJoinToken(%q) error %v does not match ErrInvalidJoinToken", s, err)
			}
			// The digest and the secret (the version may be quoted).
			if parts := strings.Split(strings.TrimSpace(s), "-"); len(parts) > 2 {
				for _, p := range parts[2:] {
					if len(p) >= 8 && strings.Contains(err.Error(), p) {
						t.Fatalf("ParseJoinToken(%q) error quotes part of it: %v", s, err)
					}
				}
			}
			return
		}
		if tok.String() != strings.TrimSpace(s) || len(tok.Digest) != digestLen || len(tok.Secret) != secretLen {
			t.Fatalf("ParseJoinToken(%q) = %+v, which prints as %q", s, tok, tok.String())
		}
		if back, err := ParseJoinToken(tok.String()); err != nil || back != tok {
			t.Fatalf("ParseJoinToken(%q) = %+v; again %+v, %v", s, tok, back, err)
		}
	})
}

// FuzzParseUnlockKey: an accepted key is 32 bytes and formats back to the
// input (less surrounding space); errors never quote the input.
func FuzzParseUnlockKey(f *testing.F) {
	key := FormatUnlockKey(make([]byte, UnlockKeyLen))
	for _, s := range []string{key, key + "\n", "SWMKEY-1-", "SWMKEY-1-AAAA", "SWMKEY-1-" + strings.Repeat("A", 43) + "=", "hello", "",
		"SWMKEY-2-" + strings.Repeat("A", 43), "SWMKEY-1-" + strings.Repeat("/", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseUnlockKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidUnlockKey) {
				t.Fatalf("ParseUnlockKey(%q) error %v does not match ErrInvalidUnlockKey", s, err)
			}
			if rest, ok := strings.CutPrefix(strings.TrimSpace(s), "SWMKEY-1-"); ok && len(rest) >= 4 && strings.Contains(err.Error(), rest) {
				t.Fatalf("ParseUnlockKey(%q) error quotes the key: %v", s, err)
			}
			return
		}
		if len(k) != UnlockKeyLen || FormatUnlockKey(k) != strings.TrimSpace(s) {
			t.Fatalf("ParseUnlockKey(%q) = %x, which formats as %q", s, k, FormatUnlockKey(k))
		}
	})
}
