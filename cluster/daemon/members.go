package daemon

import (
	"context"
	"time"

	"sw/cluster/store"
	"sw/cluster/types"
)

// membersGrace is how long a new leader trusts gossip's silence about a
// node before calling it down: its pool may not have heard of everyone.
const membersGrace = 3 * time.Second

// watchMembers (leader only) keeps each node's STATUS in step with the
// gossip pool, or for a node that does not gossip its heartbeats: alive
// members and nodes heard from within types.HeartbeatTTL are Ready, the
// rest Down.
func (d *Daemon) watchMembers(ctx context.Context, sw *swarm) {
	started := time.Now()
	sw.beats.Start()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		alive := sw.pool.Alive()
		var changes []store.Change
		for _, n := range sw.store.View().Nodes() {
			want := types.NodeDown
			if n.Liveness == types.LivenessHeartbeat {
				beat, known := sw.beats.Alive(n.ID)
				if beat {
					want = types.NodeReady
				} else if !known {
					continue
				}
			} else if alive[n.ID] || n.ID == sw.id.NodeID {
				want = types.NodeReady
			} else if time.Since(started) < membersGrace {
				continue
			}
			if n.State != want {
				msg := ""
				if want == types.NodeDown {
					msg = "heartbeat failure"
				}
				changes = append(changes, store.Change{NodeState: &store.NodeStateFrom{NodeID: n.ID, State: want, Message: msg}})
			}
		}
		if len(changes) > 0 {
			if err := sw.raft.Propose(ctx, &store.Command{Changes: changes}); err != nil && ctx.Err() == nil {
				d.log.Warn("recording node states failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
