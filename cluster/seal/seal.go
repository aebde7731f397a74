// Package seal encrypts a manager's data at rest: the Raft log entries and
// snapshots (with a data key, the DEK) and, while the swarm is autolocked,
// the DEK and the node's TLS private key (with a key-encryption key, the
// KEK, derived from the swarm's unlock key).
//
// Everything is AES-256-GCM from the standard library, with a random
// 96-bit nonce per message and caller-chosen additional data that binds a
// ciphertext to its place (a log index, a snapshot chunk), so that
// ciphertexts cannot be swapped around unnoticed. The KEK is
// HKDF-SHA256 of the 32-byte unlock key.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the size of every key here: AES-256.
const KeySize = 32

// Key is a DEK or a KEK.
type Key [KeySize]byte

// Errors.
var (
	// ErrDecrypt: the ciphertext was not made with this key and additional
	// data, or it was altered.
	ErrDecrypt = errors.New("seal: decryption failed: wrong key or corrupt data")
	// ErrWrongKey: a sealed key file does not open with the KEK given.
	ErrWrongKey = errors.New("seal: the key does not open this key file")
	// ErrLocked: a sealed key file was read without a KEK.
	ErrLocked = errors.New("seal: the key file is sealed; its unlock key is needed")
)

// version is the first byte of every sealed message.
const version byte = 1

// Overhead is how many bytes Seal adds to a message.
const Overhead = 1 + 12 + 16

// NewKey returns a random key.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("seal: new key: %w", err)
	}
	return k, nil
}

// kekInfo is HKDF's context string: a KEK is good for nothing else.
const kekInfo = "sw autolock: key-encryption key v1"

// KEK derives the key-encryption key from a raw unlock key.
func KEK(unlockKey []byte) (Key, error) {
	if len(unlockKey) < 16 {
		return Key{}, errors.New("seal: unlock key too short")
	}
	b, err := hkdf.Key(sha256.New, unlockKey, nil, kekInfo, KeySize)
	if err != nil {
		return Key{}, fmt.Errorf("seal: derive KEK: %w", err)
	}
	var k Key
	copy(k[:], b)
	return k, nil
}

func gcm(k Key) cipher.AEAD {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // only for a bad key size, which Key rules out
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

// Seal encrypts and authenticates plain, binding it to ad: the result is
// a version byte, a random nonce and the GCM ciphertext.
func Seal(k Key, plain, ad []byte) []byte {
	a := gcm(k)
	out := make([]byte, 1+a.NonceSize(), Overhead+len(plain))
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return a.Seal(out, out[1:], plain, ad)
}

// Open reverses Seal; any other key, other ad or altered byte gives
// ErrDecrypt.
func Open(k Key, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != version {
		return nil, ErrDecrypt
	}
	a := gcm(k)
	n := a.NonceSize()
	plain, err := a.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}
