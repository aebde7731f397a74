package pki

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// unlockPrefix starts every unlock key, as swarmkit's.
const unlockPrefix = "SWMKEY-1-"

// UnlockKeyLen is the length in bytes of an unlock key.
const UnlockKeyLen = 32

// ErrInvalidUnlockKey is matched (errors.Is) by every ParseUnlockKey error.
var ErrInvalidUnlockKey = errors.New("pki: invalid unlock key")

// NewUnlockKey returns a new random unlock key, formatted for people
// ("SWMKEY-1-" and the key in unpadded standard base64), and its raw bytes.
func NewUnlockKey() (string, []byte, error) {
	key := make([]byte, UnlockKeyLen)
	if _, err := rand.Read(key); err != nil {
		return "", nil, fmt.Errorf("pki: unlock key: %w", err)
	}
	return FormatUnlockKey(key), key, nil
}

// FormatUnlockKey formats a raw key as "SWMKEY-1-<base64>".
func FormatUnlockKey(key []byte) string {
	return unlockPrefix + base64.RawStdEncoding.EncodeToString(key)
}

// ParseUnlockKey returns the raw bytes of a formatted unlock key;
// surrounding white space is ignored. Errors match ErrInvalidUnlockKey and
// never quote the key.
func ParseUnlockKey(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), unlockPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it must start with %s", ErrInvalidUnlockKey, unlockPrefix)
	}
	// The decoder skips line breaks, even strict; a key is one line.
	key, err := base64.RawStdEncoding.Strict().DecodeString(rest)
	if err != nil || strings.ContainsAny(rest, "\r\n") {
		return nil, fmt.Errorf("%w: bad base64", ErrInvalidUnlockKey)
	}
	if len(key) != UnlockKeyLen {
		return nil, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidUnlockKey, UnlockKeyLen, len(key))
	}
	return key, nil
}
