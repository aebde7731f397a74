package seal

import (
	"errors"
	"sync"
)

// Keyring holds a manager's data keys: the current DEK, which seals
// everything new, and, while a rotation is under way, the previous one,
// which still opens what is not re-encrypted yet. It is safe for
// concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	cur  Key
	prev *Key
}

// NewKeyring returns a keyring with the current key and, if not nil, the
// previous one.
func NewKeyring(cur Key, prev *Key) *Keyring {
	r := &Keyring{cur: cur}
	if prev != nil {
		p := *prev
		r.prev = &p
	}
	return r
}

// Current is the key that seals.
func (r *Keyring) Current() Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur
}

// Previous is the key a rotation is moving away from, nil if none.
func (r *Keyring) Previous() *Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.prev == nil {
		return nil
	}
	p := *r.prev
	return &p
}

// Keys lists the keys that open data, the current first.
func (r *Keyring) Keys() []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.prev == nil {
		return []Key{r.cur}
	}
	return []Key{r.cur, *r.prev}
}

// ErrRotating: a rotation is still under way (a previous key is set).
var ErrRotating = errors.New("seal: a data key rotation is still under way")

// Rotate makes next the current key and keeps the current one as the
// previous, until DropPrevious. It refuses while a previous key is still
// set, as data may still need it.
func (r *Keyring) Rotate(next Key) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prev != nil {
		return ErrRotating
	}
	old := r.cur
	r.prev = &old
	r.cur = next
	return nil
}

// DropPrevious forgets the previous key, once nothing uses it.
func (r *Keyring) DropPrevious() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prev = nil
}

// Seal seals with the current key.
func (r *Keyring) Seal(plain, ad []byte) []byte {
	return Seal(r.Current(), plain, ad)
}

// Open opens with the current key, else the previous one.
func (r *Keyring) Open(sealed, ad []byte) ([]byte, error) {
	for _, k := range r.Keys() {
		if p, err := Open(k, sealed, ad); err == nil {
			return p, nil
		}
	}
	return nil, ErrDecrypt
}
