package daemon

import (
	"context"
	"errors"

	"sw/cluster/api"
	"sw/cluster/consensus"
	"sw/cluster/hooks"
	"sw/cluster/keyfile"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// A locked manager: one whose key file (cluster/keyfile) is sealed with
// the swarm's unlock key, as while a locking plugin (hooks.Locker,
// autolock) is on, comes up locked, answering only `sw info` (Swarm:
// locked), `sw swarm unlock` and `sw swarm leave --force`. This is core,
// not the plugin's: a build without it still unlocks such a manager.

// A manager's Raft is what its key file re-encrypts on a data key rotation.
var _ keyfile.Reencrypter = (*consensus.Node)(nil)

// errLocked is what a locked manager answers to everything else.
var errLocked = store.Errorf(api.ErrUnavailable,
	"swarm is locked: this manager's keys and Raft data are encrypted; run 'sw swarm unlock' and give the unlock key")

// rejoin resumes the swarm this node was in, unless its key file is
// sealed (a manager of an autolocked swarm): then it waits, locked, for
// the unlock key — once what can be checked of its Raft data without the
// key has been (see checkState). A manager whose Raft state is damaged or
// missing does not start: that is an error saying how to recover.
func (d *Daemon) rejoin(ctx context.Context, id *identity) error {
	if d.keys.SealedOnDisk() && !d.keys.HasKEK() {
		if id.isManager() {
			if err := d.checkState(id); err != nil {
				return err
			}
		}
		d.setLocked(id)
		d.log.Warn("this manager is locked: run 'sw swarm unlock' to unlock it", "node", id.NodeID)
		return nil
	}
	_, err := d.startSwarm(ctx, id, startOptions{resume: true})
	return d.unusableState(id, err)
}

// setLocked records the identity a locked manager waits to resume (nil:
// not locked).
func (d *Daemon) setLocked(id *identity) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.locked = id
}

// lockedID is the identity of a locked manager, nil if not locked.
func (d *Daemon) lockedID() *identity {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.locked
}

// lockedErr is errLocked while this manager is locked.
func (d *Daemon) lockedErr() error {
	if d.lockedID() != nil {
		return errLocked
	}
	return nil
}

// lockedInfo fills in `sw info` for a locked manager.
func (d *Daemon) lockedInfo(info *api.Info) {
	id := d.lockedID()
	if id == nil {
		return
	}
	info.Swarm = api.SwarmLocked
	info.NodeID, info.ClusterID, info.IsManager = id.NodeID, id.ClusterID, id.isManager()
	info.NodeAddr = hostOf(id.AdvertiseAddr)
}

// Unlock gives a locked manager its unlock key: if the key opens the
// sealed key file, the manager resumes its part in the swarm.
func (d *Daemon) Unlock(ctx context.Context, key string) error {
	d.unlockMu.Lock()
	defer d.unlockMu.Unlock()
	id := d.lockedID()
	if id == nil {
		if d.active() != nil {
			return store.Errorf(api.ErrBadRequest, "this node is not locked")
		}
		return store.Errorf(api.ErrBadRequest, "this node is not part of a swarm")
	}
	raw, err := pki.ParseUnlockKey(key)
	if err != nil {
		return badRequestTrimmed("", err, "pki: ")
	}
	if err := d.keys.Open(raw); err != nil {
		if errors.Is(err, keyfile.ErrInvalidUnlockKey) {
			return store.Errorf(api.ErrBadRequest, "invalid unlock key: it does not open this manager's keys "+
				"(if the key was rotated while this manager was down, give the one before)")
		}
		return err
	}
	if _, err := d.startSwarm(ctx, id, startOptions{resume: true}); err != nil {
		d.keys.ForgetKEK()
		return d.unusableState(id, err)
	}
	d.setLocked(nil)
	d.log.Info("this manager was unlocked")
	return nil
}

// UnlockKey returns the swarm's unlock key, formatted, as the locking
// plugin shows it.
func (d *Daemon) UnlockKey(ctx context.Context) (string, error) {
	sw, err := d.current()
	if err != nil {
		return "", err
	}
	c := sw.store.View().Cluster()
	if c == nil {
		return "", store.Errorf(api.ErrUnavailable, "the swarm's state is not initialised yet")
	}
	return d.locker().ShowUnlockKey(c)
}

// unlockKeys is what the daemon asks of the swarm's unlock key policy:
// hooks.Locker's own methods.
type unlockKeys interface {
	KeepUnlockKey(c *types.Cluster) error
	RotateUnlockKey(c *types.Cluster) error
	ShowUnlockKey(c *types.Cluster) (string, error)
}

// locker is the unlock key policy of the plugin that locks managers, or
// noLocker if none is built in; never nil.
func (d *Daemon) locker() unlockKeys {
	for _, p := range d.cfg.Plugins {
		if l, ok := p.(hooks.Locker); ok {
			return l
		}
	}
	return noLocker{}
}

// errNoLocker is a request for the unlock key of a build without a
// locking plugin.
var errNoLocker = store.Errorf(api.ErrBadRequest, "no unlock key is set: this sw has no plugin that locks managers")

// noLocker is the policy without a locking plugin: never an unlock key.
type noLocker struct{}

var _ unlockKeys = noLocker{}

// KeepUnlockKey clears c's unlock key: without a locking plugin, none.
func (noLocker) KeepUnlockKey(c *types.Cluster) error {
	c.UnlockKey = nil
	return nil
}

// RotateUnlockKey is refused: there is no key to rotate.
func (noLocker) RotateUnlockKey(*types.Cluster) error { return errNoLocker }

// ShowUnlockKey is refused: there is no key to show.
func (noLocker) ShowUnlockKey(*types.Cluster) (string, error) { return "", errNoLocker }

// leaveLocked takes a locked manager out of its swarm: only with force,
// as its state cannot be read to warn of anything.
func (d *Daemon) leaveLocked(ctx context.Context, force bool) error {
	if !force {
		return store.Errorf(api.ErrBadRequest, "this manager is locked: unlock it with 'sw swarm unlock', "+
			"or use `--force` to leave the swarm, erasing this node's swarm state")
	}
	id := d.lockedID()
	if id == nil {
		return store.Errorf(api.ErrBadRequest, "this node is not part of a swarm")
	}
	d.exec.SetNodeID(id.NodeID) // List sees this node's task containers only
	if cs, err := d.exec.List(ctx); err == nil {
		for _, c := range cs {
			_ = d.exec.Remove(ctx, c.ID)
		}
	}
	d.removeSwarmNetworks(ctx, id.ClusterID)
	d.setLocked(nil)
	return d.forget()
}
