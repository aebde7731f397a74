package keyfile

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// lockedData is a fakeData safe to read while KeepSealed runs.
type lockedData struct {
	mu sync.Mutex
	fakeData
}

func (l *lockedData) Reencrypt() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeData.Reencrypt()
}

// TestKeepSealedFollowsCluster: the loop seals the file once the cluster
// object has an unlock key, unseals it when the key goes, and returns
// when ctx ends.
func TestKeepSealedFollowsCluster(t *testing.T) {
	k, _ := newTestKeys(t)
	st := store.New()
	data := &lockedData{fakeData: fakeData{ring: k.Keyring()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); KeepSealed(ctx, st, k, data, slog.New(slog.DiscardHandler)) }()
	defer func() { cancel(); <-done }()

	put := func(index uint64, key []byte) {
		t.Helper()
		c := &types.Cluster{ID: "c1", UnlockKey: key}
		if err := st.Apply(index, &store.Command{Changes: []store.Change{{PutCluster: c}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(sealed bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); k.SealedOnDisk() != sealed; {
			if time.Now().After(deadline) {
				t.Fatalf("the key file did not become sealed=%v", sealed)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	put(1, unlockKey(t))
	waitFor(true)
	put(2, nil)
	waitFor(false)
}
