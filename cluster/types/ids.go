package types

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// IDLength is the length of node, service, task and cluster IDs: 25 base-36
// characters, as Docker's.
const IDLength = 25

// NewID returns a random 25-character lowercase base-36 identifier made from
// 128 random bits, the shape Docker Swarm uses for its object IDs.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("types: no randomness: " + err.Error())
	}
	s := new(big.Int).SetBytes(b[:]).Text(36)
	if len(s) < IDLength {
		s = strings.Repeat("0", IDLength-len(s)) + s
	}
	return s
}
