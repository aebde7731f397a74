package autolock

import (
	"fmt"

	"sw/cluster/api"
	"sw/cluster/hooks"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// The unlock key policy (hooks.Locker): the swarm holds an unlock key
// exactly while the plugin is on. The daemon calls these on every write
// of the cluster object; every manager then seals its key file with the
// key, or unseals it (cluster/keyfile).

// KeepUnlockKey completes a cluster object about to be written: an unlock
// key while the plugin is on (a new one when it was just turned on), none
// while off.
func (p *Plugin) KeepUnlockKey(c *types.Cluster) error {
	if !hooks.Enabled(p, c.Plugins) {
		c.UnlockKey = nil
		return nil
	}
	if len(c.UnlockKey) > 0 {
		return nil
	}
	return p.newKey(c)
}

// RotateUnlockKey gives c a new unlock key; managers re-seal with it.
// Refused while the plugin is off.
func (p *Plugin) RotateUnlockKey(c *types.Cluster) error {
	if err := p.enabled(c); err != nil {
		return err
	}
	return p.newKey(c)
}

// ShowUnlockKey returns c's unlock key, formatted (SWMKEY-1-…). Refused
// while the plugin is off or, should that ever be, no key is set.
func (p *Plugin) ShowUnlockKey(c *types.Cluster) (string, error) {
	if err := p.enabled(c); err != nil {
		return "", err
	}
	if len(c.UnlockKey) == 0 {
		return "", store.Errorf(api.ErrUnavailable, "no unlock key is set")
	}
	return pki.FormatUnlockKey(c.UnlockKey), nil
}

// enabled says, as an error for the user, why c has no unlock key to
// speak of.
func (p *Plugin) enabled(c *types.Cluster) error {
	if !hooks.Enabled(p, c.Plugins) {
		return store.Errorf(api.ErrBadRequest, "plugin %s is disabled: no unlock key is set; enable it with 'sw plugin enable %s'",
			p.Name(), p.Name())
	}
	return nil
}

// newKey sets a new random unlock key in c.
func (p *Plugin) newKey(c *types.Cluster) error {
	_, raw, err := pki.NewUnlockKey()
	if err != nil {
		return fmt.Errorf("%s: making an unlock key: %w", p.Name(), err)
	}
	c.UnlockKey = raw
	return nil
}
