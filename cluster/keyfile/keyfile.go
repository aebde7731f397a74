// Package keyfile is a node's key file (certificates/swarm-node.key): its
// TLS private key, with in its headers the data key (DEK) that encrypts a
// manager's Raft log and snapshots. The file always holds both — Raft
// data is always encrypted at rest — and is sealed, or not, with a
// key-encryption key (KEK) derived from the swarm's unlock key: sealed
// while the swarm is autolocked (a locking plugin, hooks.Locker, is on),
// and then a restarted manager cannot read it until it is given the key.
//
// The package does not decide whether the file is sealed: it follows the
// cluster object's unlock key (KeepSealed), which a locking plugin keeps.
// It stays in core so that a build without that plugin can still open
// (Open), and unseal, the file of a manager that was locked.
package keyfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"sw/cluster/pki"
	"sw/cluster/seal"
)

// File is the node's key file and the keys read from or written to it.
// Its methods are safe for concurrent use.
type File struct {
	path string

	mu sync.Mutex
	// ring holds the DEK (and the previous one during a rotation); the
	// manager's Raft uses this very keyring. nil until the key file is
	// read or first written.
	ring *seal.Keyring
	// keyPEM is the plain TLS key last written or read.
	keyPEM []byte
	// kek seals the file; nil: stored unsealed. unlockKey is what it was
	// derived from.
	kek       *seal.Key
	unlockKey []byte
}

// New returns the key file at path; nothing is read or written yet.
func New(path string) *File { return &File{path: path} }

// Path is where the file is.
func (k *File) Path() string { return k.path }

// ErrInvalidUnlockKey is an unlock key that does not open this file.
var ErrInvalidUnlockKey = errors.New("invalid unlock key")

// ErrLocked is a sealed file that no unlock key was given for.
var ErrLocked = errors.New("the node's key file is sealed and no unlock key was given")

// SealedOnDisk reports whether the key file is sealed with an unlock key.
func (k *File) SealedOnDisk() bool {
	b, err := os.ReadFile(k.path)
	return err == nil && seal.IsSealed(b)
}

// HasKEK reports whether an unlock key is known (given or followed).
func (k *File) HasKEK() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kek != nil
}

// Load opens the key file with the KEK known (a sealed file without one
// is ErrLocked, a wrong one ErrInvalidUnlockKey) and returns the plain
// TLS key. A file without a data key (from a worker, or from before data
// keys) gets one.
func (k *File) Load() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	data, err := os.ReadFile(k.path)
	if err != nil {
		return nil, fmt.Errorf("reading the node's certificates: %w", err)
	}
	kf, err := seal.ParseKeyFile(data, k.kek)
	switch {
	case errors.Is(err, seal.ErrLocked):
		return nil, ErrLocked
	case errors.Is(err, seal.ErrWrongKey):
		return nil, ErrInvalidUnlockKey
	case err != nil:
		return nil, fmt.Errorf("reading the node's key: %w", err)
	}
	if !seal.IsSealed(data) {
		k.kek, k.unlockKey = nil, nil
	}
	k.keyPEM = kf.KeyPEM
	if kf.DEK != nil {
		k.ring = seal.NewKeyring(*kf.DEK, kf.PreviousDEK)
		return kf.KeyPEM, nil
	}
	dek, err := seal.NewKey()
	if err != nil {
		return nil, err
	}
	k.ring = seal.NewKeyring(dek, nil)
	return kf.KeyPEM, k.flushLocked()
}

// WriteKey stores a new TLS key (a new certificate's), keeping the data
// key; a worker's file is never sealed (workers are not locked).
func (k *File) WriteKey(keyPEM []byte, manager bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == nil {
		dek, err := seal.NewKey()
		if err != nil {
			return err
		}
		k.ring = seal.NewKeyring(dek, nil)
	}
	k.keyPEM = keyPEM
	if !manager {
		k.kek, k.unlockKey = nil, nil
	}
	return k.flushLocked()
}

// flushLocked writes the key file as the state says; k.mu is held.
func (k *File) flushLocked() error {
	return k.writeFile(k.ring.Current(), k.ring.Previous(), k.kek)
}

// writeFile writes the key file with these keys; k.mu is held. The state
// in memory is changed only once the file says the same.
func (k *File) writeFile(dek seal.Key, prev, kek *seal.Key) error {
	kf := &seal.KeyFile{KeyPEM: k.keyPEM, DEK: &dek, PreviousDEK: prev}
	data, err := kf.Marshal(kek)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return err
	}
	return pki.WriteFileAtomic(k.path, data, 0o600)
}

// ReadForBackup reads the key file as it is on disk and opens it with
// the KEK in use, under the lock its writers hold, so that the data key
// returned is the one the file read holds.
func (k *File) ReadForBackup() (file []byte, kf *seal.KeyFile, sealed bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	file, err = os.ReadFile(k.path)
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading the node's key: %w", err)
	}
	if kf, err = seal.ParseKeyFile(file, k.kek); err != nil {
		return nil, nil, false, fmt.Errorf("reading the node's key: %w", err)
	}
	if kf.DEK == nil {
		return nil, nil, false, errors.New("the node's key file holds no data key")
	}
	return file, kf, seal.IsSealed(file), nil
}

// Keyring is the data keyring for the manager's Raft (nil before Load
// or the first WriteKey).
func (k *File) Keyring() *seal.Keyring {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ring
}

// Open checks a raw unlock key against the sealed key file and, if it
// opens it, keeps its KEK for Load; else ErrInvalidUnlockKey.
func (k *File) Open(raw []byte) error {
	kek, err := seal.KEK(raw)
	if err != nil {
		return ErrInvalidUnlockKey
	}
	data, err := os.ReadFile(k.path)
	if err != nil {
		return err
	}
	if _, err := seal.ParseKeyFile(data, &kek); err != nil {
		if errors.Is(err, seal.ErrWrongKey) {
			return ErrInvalidUnlockKey
		}
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kek, k.unlockKey = &kek, bytes.Clone(raw)
	return nil
}

// SealFromStart makes the key file's first write sealed with unlock key
// raw (`swarm init --autolock`), so that no data key of this swarm is
// ever on disk in the clear and nothing needs re-encrypting.
func (k *File) SealFromStart(raw []byte) error {
	kek, err := seal.KEK(raw)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kek, k.unlockKey = &kek, bytes.Clone(raw)
	return nil
}

// ForgetKEK drops a KEK that did not lead to a running swarm.
func (k *File) ForgetKEK() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kek, k.unlockKey = nil, nil
}

// Reset forgets every key, as the node leaves its swarm.
func (k *File) Reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ring, k.keyPEM, k.kek, k.unlockKey = nil, nil, nil, nil
}

// Reencrypter re-encrypts a manager's Raft data with its keyring's
// current key (consensus.Node).
type Reencrypter interface{ Reencrypt() error }

// Follow brings the key file in line with the swarm's unlock key (nil:
// autolock off): sealed with a KEK from it, or unsealed. Turning autolock
// on also rotates the data key, as the old one sat on disk in the clear:
// a new DEK seals everything new, all Raft data is re-encrypted with it,
// and the old one is dropped. A rotation interrupted by a crash (both
// keys in the file) is finished first.
func (k *File) Follow(want []byte, data Reencrypter) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring == nil || k.keyPEM == nil {
		return nil
	}
	if k.ring.Previous() != nil {
		if err := k.finishRotation(data); err != nil {
			return err
		}
	}
	cur := k.ring.Current()
	switch {
	case len(want) == 0 && k.kek == nil:
		return nil
	case len(want) == 0:
		if err := k.writeFile(cur, nil, nil); err != nil {
			return err
		}
		k.kek, k.unlockKey = nil, nil
		return nil
	case k.kek != nil && bytes.Equal(want, k.unlockKey):
		return nil
	}
	kek, err := seal.KEK(want)
	if err != nil {
		return err
	}
	if k.kek != nil { // a rotated unlock key: re-seal
		if err := k.writeFile(cur, nil, &kek); err != nil {
			return err
		}
		k.kek, k.unlockKey = &kek, bytes.Clone(want)
		return nil
	}
	next, err := seal.NewKey()
	if err != nil {
		return err
	}
	// Both keys go to the file before any data uses the new one, so a
	// crash at any point leaves everything readable.
	if err := k.writeFile(next, &cur, &kek); err != nil {
		return err
	}
	k.kek, k.unlockKey = &kek, bytes.Clone(want)
	if err := k.ring.Rotate(next); err != nil {
		return err
	}
	return k.finishRotation(data)
}

// finishRotation re-encrypts the Raft data and drops the previous DEK;
// k.mu is held.
func (k *File) finishRotation(data Reencrypter) error {
	if err := data.Reencrypt(); err != nil {
		return err
	}
	if err := k.writeFile(k.ring.Current(), nil, k.kek); err != nil {
		return err
	}
	k.ring.DropPrevious()
	return nil
}
