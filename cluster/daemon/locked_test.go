package daemon

import (
	"bytes"
	"testing"

	"sw/cluster/hooks"
	"sw/cluster/types"
)

type keysNamed string

func (n keysNamed) Name() string        { return string(n) }
func (n keysNamed) Description() string { return "test plugin " + string(n) }

type lockerPlugin struct{ keysNamed }

func (lockerPlugin) LocksManagers()        {}
func (lockerPlugin) DefaultDisabled() bool { return true }

var _ hooks.Locker = lockerPlugin{}

// TestUnlockKeyFollowsSwitch: the cluster has an unlock key exactly while
// the locking plugin is on; rotating needs it on; errors name it.
func TestUnlockKeyFollowsSwitch(t *testing.T) {
	d := testDaemon(keysNamed("ingress"), lockerPlugin{keysNamed("autolock")})
	c := &types.Cluster{Plugins: map[string]bool{"ingress": true}}
	if err := d.keepUnlockKey(c); err != nil || c.UnlockKey != nil {
		t.Fatalf("default off: key %x, %v", c.UnlockKey, err)
	}
	if err := d.rotateUnlockKey(c); err == nil || err.Error() != "plugin autolock is disabled: no unlock key is set; enable it with 'sw plugin enable autolock'" {
		t.Fatalf("rotate while off: %v", err)
	}
	c.Plugins["autolock"] = true
	d.keepUnlockKey(c)
	first := c.UnlockKey
	if len(first) != 32 {
		t.Fatalf("on: key %x", first)
	}
	d.keepUnlockKey(c)
	if !bytes.Equal(c.UnlockKey, first) {
		t.Fatal("the key changed on an unrelated write")
	}
	if err := d.rotateUnlockKey(c); err != nil || bytes.Equal(c.UnlockKey, first) || len(c.UnlockKey) != 32 {
		t.Fatalf("rotate: %v", err)
	}
	c.Plugins["autolock"] = false
	d.keepUnlockKey(c)
	if c.UnlockKey != nil {
		t.Fatal("key kept with the plugin off")
	}
	// Without a locking plugin there is never a key.
	d = testDaemon(keysNamed("ingress"))
	c = &types.Cluster{UnlockKey: first}
	d.keepUnlockKey(c)
	if c.UnlockKey != nil {
		t.Fatal("key kept without a locking plugin")
	}
}
