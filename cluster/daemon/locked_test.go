package daemon

import (
	"errors"
	"log/slog"
	"testing"

	"sw/cluster/api"
	"sw/cluster/hooks"
	"sw/cluster/store"
	"sw/cluster/types"
)

func testDaemon(ps ...hooks.Plugin) *Daemon {
	return &Daemon{cfg: Config{Plugins: ps}, log: slog.New(slog.DiscardHandler)}
}

type keysNamed string

func (n keysNamed) Name() string        { return string(n) }
func (n keysNamed) Description() string { return "test plugin " + string(n) }

// lockerPlugin is a Locker that records the daemon's calls.
type lockerPlugin struct {
	keysNamed
	calls *[]string
}

var _ hooks.Locker = lockerPlugin{}

func (l lockerPlugin) KeepUnlockKey(*types.Cluster) error {
	*l.calls = append(*l.calls, "keep")
	return nil
}

func (l lockerPlugin) RotateUnlockKey(*types.Cluster) error {
	*l.calls = append(*l.calls, "rotate")
	return errors.New("rotate refused")
}

func (l lockerPlugin) ShowUnlockKey(*types.Cluster) (string, error) {
	*l.calls = append(*l.calls, "show")
	return "SWMKEY-1-x", nil
}

// TestNoLockerNoUnlockKey: without a locking plugin there is never a key,
// and asking for one (or its rotation) says why.
func TestNoLockerNoUnlockKey(t *testing.T) {
	d := testDaemon(keysNamed("ingress"))
	c := &types.Cluster{UnlockKey: make([]byte, 32), Plugins: map[string]bool{"autolock": true}}
	if err := d.locker().KeepUnlockKey(c); err != nil || c.UnlockKey != nil {
		t.Fatalf("key kept without a locking plugin: %x, %v", c.UnlockKey, err)
	}
	const want = "no unlock key is set: this sw has no plugin that locks managers"
	if err := d.locker().RotateUnlockKey(c); err == nil || err.Error() != want || !store.KindIs(err, api.ErrBadRequest) {
		t.Fatalf("rotate without a locking plugin: %v", err)
	}
	if key, err := d.locker().ShowUnlockKey(c); key != "" || err == nil || err.Error() != want || !store.KindIs(err, api.ErrBadRequest) {
		t.Fatalf("show without a locking plugin: %q, %v", key, err)
	}
}

// TestLockerIsThePlugins: with a locking plugin, the daemon's unlock key
// calls are its own, results and errors unchanged.
func TestLockerIsThePlugins(t *testing.T) {
	var calls []string
	d := testDaemon(keysNamed("ingress"), lockerPlugin{keysNamed("autolock"), &calls})
	c := &types.Cluster{}
	l := d.locker()
	if err := l.KeepUnlockKey(c); err != nil {
		t.Fatal(err)
	}
	if err := l.RotateUnlockKey(c); err == nil || err.Error() != "rotate refused" {
		t.Fatalf("rotate: %v", err)
	}
	if key, err := l.ShowUnlockKey(c); key != "SWMKEY-1-x" || err != nil {
		t.Fatalf("show: %q, %v", key, err)
	}
	if len(calls) != 3 || calls[0] != "keep" || calls[1] != "rotate" || calls[2] != "show" {
		t.Fatalf("calls: %v", calls)
	}
}
