// Package autolock is the autolock plugin: while the swarm has it enabled,
// every manager keeps its TLS private key and the data key of its Raft
// log and snapshots sealed with a key derived from the swarm's unlock key
// (`SWMKEY-1-…`), so a restarted manager stays locked — nothing readable
// of the swarm on its disk — until `sw swarm unlock` gives it the key.
//
// The plugin is the switch and the unlock key's policy (hooks.Locker, in
// unlockkey.go: on means autolock on, off by default as Docker; a key
// while on, a new one when turned on or rotated, none while off) and the
// CLI (commands.go): `swarm init --autolock`, `swarm update
// --autolock=true|false`, `swarm unlock-key [-q] [--rotate]`, `swarm
// unlock`. The core seals: cluster/keyfile keeps every manager's key file
// sealed with the cluster's unlock key (cluster/seal), and the daemon
// holds a restarted manager locked until `swarm unlock`; Raft data is
// always encrypted at rest (cluster/consensus), autolock only decides
// whether its key is sealed. A build without this plugin can still
// unlock a manager left locked; it drops the unlock key on its next write
// of the cluster object, and the managers then unseal their files.
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
