package daemon

import (
	"errors"
	"fmt"
	"path/filepath"

	"sw/cluster/consensus"
)

// A manager's Raft state that cannot be used — damaged, or missing while
// node.json says the node is a manager — stops it from starting, with
// the way back spelled out: starting it anyway would make it an empty
// swarm, or crash it on the first entry it cannot read.

// raftDir is the manager's Raft data dir.
func (d *Daemon) raftDir() string { return filepath.Join(d.cfg.DataDir, "raft") }

// checkState checks, without the data key, a locked manager's Raft data:
// present, and sound as far as can be seen without decrypting it.
func (d *Daemon) checkState(id *identity) error {
	res, err := consensus.Check(d.raftDir(), nil)
	if err == nil && !res.HasState {
		err = consensus.NoStateError(d.raftDir())
	}
	return d.unusableState(id, err)
}

// unusableState adds to an error about the Raft state what it means for
// this node and how to recover; other errors are returned as they are.
func (d *Daemon) unusableState(id *identity, err error) error {
	if !errors.Is(err, consensus.ErrDamaged) && !errors.Is(err, consensus.ErrNoState) {
		return err
	}
	dir := d.cfg.DataDir
	return fmt.Errorf("%s says this node is a manager of swarm %s, but its Raft state cannot be used: %w\n\n"+
		"It was not started: it would come up without the swarm's state. To recover:\n"+
		"  1. stop this daemon and move the data dir %s aside (keep it: it holds the node's keys);\n"+
		"  2. start the daemon again with an empty data dir, then either\n"+
		"     - restore a backup of this manager:   sw swarm restore FILE\n"+
		"     - or, if the swarm's other managers still have a quorum, remove this node there\n"+
		"       ('sw node demote %s', 'sw node rm --force %s') and join again:\n"+
		"       sw swarm join --token TOKEN MANAGER:2377\n"+
		"     - or, if the swarm lost its quorum, run 'sw swarm init --force-new-cluster' on a manager\n"+
		"       that still has its state, and join this node to it again",
		filepath.Join(dir, identityFile), id.ClusterID, err, dir, id.NodeID, id.NodeID)
}
