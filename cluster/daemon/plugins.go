package daemon

import (
	"context"

	"sw/cluster/api"
	"sw/cluster/pluginhost"
	"sw/cluster/store"
	"sw/cluster/types"
)

// plugins hosts the plugins built into this sw (package pluginhost).
func (d *Daemon) plugins() *pluginhost.Host {
	return &pluginhost.Host{Plugins: d.cfg.Plugins, Log: d.log}
}

// Plugins lists the plugins with their state in this swarm.
func (d *Daemon) Plugins(ctx context.Context) ([]api.Plugin, error) {
	sw, err := d.current()
	if err != nil {
		return nil, err
	}
	return d.plugins().List(sw.store.View()), nil
}

// SetPlugin switches a plugin on or off for the whole swarm; every node
// follows within moments. Setting what is already set is no error.
func (d *Daemon) SetPlugin(ctx context.Context, name string, on bool) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	return d.plugins().Set(ctx, sw.store.View(), name, on, func(ctx context.Context, next *types.Cluster) error {
		if err := d.locker().KeepUnlockKey(next); err != nil {
			return err
		}
		return d.propose(ctx, sw, store.Change{PutCluster: next})
	})
}
