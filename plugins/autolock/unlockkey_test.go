package autolock

import (
	"bytes"
	"strings"
	"testing"

	"sw/cluster/api"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// TestUnlockKeyFollowsSwitch: the cluster has an unlock key exactly while
// the plugin is on; rotating needs it on; errors name it.
func TestUnlockKeyFollowsSwitch(t *testing.T) {
	p := New()
	c := &types.Cluster{Plugins: map[string]bool{"ingress": true}}
	if err := p.KeepUnlockKey(c); err != nil || c.UnlockKey != nil {
		t.Fatalf("default off: key %x, %v", c.UnlockKey, err)
	}
	if err := p.RotateUnlockKey(c); err == nil || err.Error() != "plugin autolock is disabled: no unlock key is set; enable it with 'sw plugin enable autolock'" {
		t.Fatalf("rotate while off: %v", err)
	}
	c.Plugins["autolock"] = true
	p.KeepUnlockKey(c)
	first := c.UnlockKey
	if len(first) != 32 {
		t.Fatalf("on: key %x", first)
	}
	p.KeepUnlockKey(c)
	if !bytes.Equal(c.UnlockKey, first) {
		t.Fatal("the key changed on an unrelated write")
	}
	if err := p.RotateUnlockKey(c); err != nil || bytes.Equal(c.UnlockKey, first) || len(c.UnlockKey) != 32 {
		t.Fatalf("rotate: %v", err)
	}
	c.Plugins["autolock"] = false
	p.KeepUnlockKey(c)
	if c.UnlockKey != nil {
		t.Fatal("key kept with the plugin off")
	}
}

// TestShowUnlockKey: the key formatted while on; refused, as bad request,
// while off; unavailable while on without a key.
func TestShowUnlockKey(t *testing.T) {
	p := New()
	raw := bytes.Repeat([]byte{7}, pki.UnlockKeyLen)
	c := &types.Cluster{Plugins: map[string]bool{"autolock": true}, UnlockKey: raw}
	got, err := p.ShowUnlockKey(c)
	if err != nil || got != pki.FormatUnlockKey(raw) || !strings.HasPrefix(got, "SWMKEY-1-") {
		t.Fatalf("on: %q, %v", got, err)
	}
	c.Plugins["autolock"] = false
	got, err = p.ShowUnlockKey(c)
	if got != "" || err == nil || !store.KindIs(err, api.ErrBadRequest) ||
		err.Error() != "plugin autolock is disabled: no unlock key is set; enable it with 'sw plugin enable autolock'" {
		t.Fatalf("off: %q, %v", got, err)
	}
	if _, err := p.ShowUnlockKey(&types.Cluster{}); err == nil {
		t.Fatal("shown with the plugin at its default (off)")
	}
	c = &types.Cluster{Plugins: map[string]bool{"autolock": true}}
	if _, err := p.ShowUnlockKey(c); err == nil || !store.KindIs(err, api.ErrUnavailable) || err.Error() != "no unlock key is set" {
		t.Fatalf("on without a key: %v", err)
	}
}
