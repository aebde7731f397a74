package daemon

import (
	"reflect"
	"strings"
	"testing"
)

func TestResolveAddrs(t *testing.T) {
	cases := []struct {
		listen, adv         string
		wantListen, wantAdv string
		wantErr             string
	}{
		{"127.0.1.5:2377", "", "127.0.1.5:2377", "127.0.1.5:2377", ""},
		{"127.0.1.5:4000", "", "127.0.1.5:4000", "127.0.1.5:4000", ""},
		{"", "10.1.2.3", "0.0.0.0:2377", "10.1.2.3:2377", ""},
		{"0.0.0.0:2377", "10.1.2.3:5000", "0.0.0.0:2377", "10.1.2.3:5000", ""},
		{"127.0.0.1", "", "127.0.0.1:2377", "127.0.0.1:2377", ""},
		{"127.0.0.1:99999", "", "", "", "out of range"},
		{"host:2377", "", "", "", "not an IP"},
		{"127.0.0.1:2377", "0.0.0.0", "", "", "other than 0.0.0.0"},
		{"127.0.0.1:2377", "nonsense", "", "", "invalid --advertise-addr"},
	}
	for _, c := range cases {
		l, a, err := resolveAddrs(c.listen, c.adv)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("resolveAddrs(%q, %q) error = %v, want %q", c.listen, c.adv, err, c.wantErr)
			}
			continue
		}
		if err != nil || l != c.wantListen || a != c.wantAdv {
			t.Errorf("resolveAddrs(%q, %q) = %q, %q, %v; want %q, %q", c.listen, c.adv, l, a, err, c.wantListen, c.wantAdv)
		}
	}
	if _, a, err := resolveAddrs("", ""); err != nil || strings.HasPrefix(a, "0.0.0.0") {
		t.Errorf("default advertise address = %q, %v", a, err)
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if id, err := loadIdentity(dir); err != nil || id != nil {
		t.Fatalf("empty dir: %v %v", id, err)
	}
	want := &identity{NodeID: "n", ClusterID: "c", Role: "manager", AdvertiseAddr: "127.0.0.1:2377", ListenAddr: "0.0.0.0:2377"}
	if err := saveIdentity(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadIdentity(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, err)
	}
}
