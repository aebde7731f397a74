// Package autolock is the autolock plugin: while the swarm has it enabled,
// every manager keeps its TLS private key and the data key of its Raft
// log and snapshots sealed with a key derived from the swarm's unlock key
// (`SWMKEY-1-…`), so a restarted manager stays locked — nothing readable
// of the swarm on its disk — until `sw swarm unlock` gives it the key.
//
// The plugin is the switch (hooks.Locker: on means autolock on; off by
// default, as Docker) and the CLI: `swarm init --autolock`, `swarm update
// --autolock=true|false`, `swarm unlock-key [-q] [--rotate]`, `swarm
// unlock`. The core does the sealing (cluster/keyfile, cluster/daemon:
// locked.go) with cluster/seal; Raft data is always encrypted at rest
// (cluster/consensus), autolock only decides whether its key is sealed.
package autolock

import (
	"sw/cluster/hooks"
	"sw/commands"
)

// Plugin is the autolock plugin.
type Plugin struct{}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

var (
	_ hooks.Plugin             = (*Plugin)(nil)
	_ hooks.DefaultDisabled    = (*Plugin)(nil)
	_ hooks.Locker             = (*Plugin)(nil)
	_ commands.Extender        = (*Plugin)(nil)
	_ commands.UnlockKeyReader = (*Plugin)(nil)
)

// Name is "autolock".
func (*Plugin) Name() string { return "autolock" }

// Description is shown by `sw plugin ls`.
func (*Plugin) Description() string {
	return "locks managers at rest: keys and Raft data sealed with an unlock key, restarted managers wait for 'sw swarm unlock'"
}

// DefaultDisabled: a new swarm is not autolocked unless `swarm init
// --autolock` (or `--plugin autolock`).
func (*Plugin) DefaultDisabled() bool { return true }

// LocksManagers marks the plugin as the one whose switch is autolock.
func (*Plugin) LocksManagers() {}
