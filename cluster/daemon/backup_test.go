package daemon

import (
	"testing"

	"sw/cluster/api"
)

// TestBackupFileAllowed: only the data dir's swarm files may be in a
// backup: node.json, the three certificate files, snapshot files.
func TestBackupFileAllowed(t *testing.T) {
	for name, want := range map[string]bool{
		"node.json":                         true,
		"certificates/swarm-root-ca.crt":    true,
		"certificates/swarm-node.crt":       true,
		"certificates/swarm-node.key":       true,
		"raft/snapshots/2-10-1796/meta":     true,
		"raft/snapshots/2-10-1796/state":    true,
		"raft/raft.db":                      false,
		"raft/snapshots/2-10-1796/evil":     false,
		"raft/snapshots/../../node.json":    false,
		"raft/snapshots/x/meta":             false,
		"certificates/other.key":            false,
		"daemon.yaml":                       false,
		"/etc/passwd":                       false,
		"raft/snapshots/2-10-1796.tmp/meta": false,
	} {
		if got := backupFileAllowed(name); got != want {
			t.Errorf("backupFileAllowed(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestRestoreAddrs: a restore keeps the backed-up manager's addresses
// unless told others; a new listen address alone gives the advertised one
// too; the node knows itself as the only manager.
func TestRestoreAddrs(t *testing.T) {
	cases := []struct {
		req               api.RestoreRequest
		listen, advertise string
		wantErr           bool
	}{
		{api.RestoreRequest{}, "10.0.0.1:2377", "10.0.0.1:2377", false},
		{api.RestoreRequest{ListenAddr: "10.0.0.9:2377"}, "10.0.0.9:2377", "10.0.0.9:2377", false},
		{api.RestoreRequest{AdvertiseAddr: "192.0.2.7"}, "10.0.0.1:2377", "192.0.2.7:2377", false},
		{api.RestoreRequest{ListenAddr: "0.0.0.0:2400", AdvertiseAddr: "192.0.2.7:2400"}, "0.0.0.0:2400", "192.0.2.7:2400", false},
		{api.RestoreRequest{ListenAddr: "nonsense"}, "", "", true},
		{api.RestoreRequest{AdvertiseAddr: "0.0.0.0"}, "", "", true},
	}
	for _, c := range cases {
		id := &identity{ListenAddr: "10.0.0.1:2377", AdvertiseAddr: "10.0.0.1:2377", Managers: []string{"10.0.0.1:2377", "10.0.0.2:2377"}}
		err := restoreAddrs(id, c.req)
		if (err != nil) != c.wantErr {
			t.Fatalf("%+v: error %v", c.req, err)
		}
		if err == nil && (id.ListenAddr != c.listen || id.AdvertiseAddr != c.advertise || len(id.Managers) != 1 || id.Managers[0] != c.advertise) {
			t.Fatalf("%+v: listen %s advertise %s managers %v", c.req, id.ListenAddr, id.AdvertiseAddr, id.Managers)
		}
	}
}
