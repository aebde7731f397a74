package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Join token format, as swarmkit's version 1:
//
//	SWMTKN-1-<digest>-<secret>
//
// digest is the SHA-256 of the root CA certificate's DER as a base-36
// number left-padded with '0' to 50 characters; secret is 16 random bytes
// as a base-36 number padded to 25.
const (
	tokenPrefix     = "SWMTKN"
	tokenVersion    = 1
	digestLen       = 50
	secretLen       = 25
	secretEntropy   = 16
	maxDigestBitLen = 256
)

// ErrInvalidJoinToken is matched (errors.Is) by every ParseJoinToken error.
var ErrInvalidJoinToken = errors.New("pki: invalid join token")

// Token is a parsed join token.
type Token struct {
	// Version is the token format version; only 1 exists.
	Version int
	// Digest is the root CA's digest, 50 lowercase base-36 characters.
	Digest string
	// Secret is the role's secret, 25 lowercase base-36 characters.
	Secret string
}

// DigestOf returns the digest of a root CA certificate used in join
// tokens: SHA-256 of its DER as lowercase base 36, padded to 50.
func DigestOf(caCertDER []byte) string {
	sum := sha256.Sum256(caCertDER)
	return base36(sum[:], digestLen)
}

// NewJoinToken returns a new join token for the root CA whose certificate
// DER is given, with a fresh random secret.
func NewJoinToken(caCertDER []byte) (string, error) {
	if len(caCertDER) == 0 {
		return "", errors.New("pki: no CA certificate for the join token")
	}
	var secret [secretEntropy]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", fmt.Errorf("pki: join token secret: %w", err)
	}
	t := Token{Version: tokenVersion, Digest: DigestOf(caCertDER), Secret: base36(secret[:], secretLen)}
	return t.String(), nil
}

// String formats the token as SWMTKN-1-<digest>-<secret>.
func (t Token) String() string {
	return fmt.Sprintf("%s-%d-%s-%s", tokenPrefix, t.Version, t.Digest, t.Secret)
}

// ParseJoinToken parses a join token; surrounding white space is ignored.
// Errors match ErrInvalidJoinToken and never quote the secret.
func ParseJoinToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), "-")
	if len(parts) < 2 || parts[0] != tokenPrefix {
		return Token{}, fmt.Errorf("%w: it must start with %s-", ErrInvalidJoinToken, tokenPrefix)
	}
	if parts[1] != "1" {
		// Not quoted: a mangled token may have its secret there.
		return Token{}, fmt.Errorf("%w: unsupported version (want %d)", ErrInvalidJoinToken, tokenVersion)
	}
	if len(parts) != 4 {
		return Token{}, fmt.Errorf("%w: want %s-1-<digest>-<secret>", ErrInvalidJoinToken, tokenPrefix)
	}
	digest, secret := parts[2], parts[3]
	if len(digest) != digestLen || !isBase36(digest) {
		return Token{}, fmt.Errorf("%w: the CA digest must be %d base-36 characters", ErrInvalidJoinToken, digestLen)
	}
	if n, _ := new(big.Int).SetString(digest, 36); n.BitLen() > maxDigestBitLen {
		return Token{}, fmt.Errorf("%w: the CA digest is out of range", ErrInvalidJoinToken)
	}
	if len(secret) != secretLen || !isBase36(secret) {
		return Token{}, fmt.Errorf("%w: the secret must be %d base-36 characters", ErrInvalidJoinToken, secretLen)
	}
	return Token{Version: tokenVersion, Digest: digest, Secret: secret}, nil
}

// MatchesCA reports whether the token pins the root CA whose certificate
// DER is given.
func (t Token) MatchesCA(caCertDER []byte) bool {
	return SecretEqual(t.Digest, DigestOf(caCertDER))
}

// SecretEqual compares two secrets or tokens in time that depends only on
// their lengths, not on where they differ.
func SecretEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// base36 formats b as a big-endian unsigned number in lowercase base 36,
// left-padded with '0' to width.
func base36(b []byte, width int) string {
	s := new(big.Int).SetBytes(b).Text(36)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// isBase36 reports whether s is all lowercase base-36 digits.
func isBase36(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
