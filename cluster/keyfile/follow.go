package keyfile

import (
	"context"
	"log/slog"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/store"
)

// KeepSealed (every manager, once its store is caught up) keeps the key
// file sealed with the swarm's current unlock key (Cluster.UnlockKey), or
// unsealed while there is none, until ctx ends; a failed update is logged
// and retried. It runs whether a locking plugin is built in and on or
// not, as the cluster object alone decides: a build without one clears
// the key on its next write of the cluster object, and the file is then
// stored unsealed.
func KeepSealed(ctx context.Context, st *store.Store, k *File, data Reencrypter, log *slog.Logger) {
	retryIn := backoff.Backoff{Initial: 2 * time.Second, Jitter: backoff.Equal}
	for {
		changed := st.Changed()
		c := st.View().Cluster()
		if c == nil { // not applied yet (just after init): nothing to follow
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		var retry <-chan time.Time
		if err := k.Follow(c.UnlockKey, data); err != nil {
			wait := retryIn.Next()
			log.Error("autolock: updating this manager's key file failed; retrying", "err", err, "in", wait)
			retry = retryIn.After(wait)
		} else {
			retryIn.Reset()
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
		}
	}
}
