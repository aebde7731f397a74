package overlay

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestDeviceName(t *testing.T) {
	for _, tc := range []struct {
		vni  uint32
		want string
	}{
		{1, "swvx-1"},
		{4096, "swvx-4096"},
		{maxVNI, "swvx-16777215"},
	} {
		got := DeviceName(tc.vni)
		if got != tc.want {
			t.Errorf("DeviceName(%d) = %q, want %q", tc.vni, got, tc.want)
		}
		if len(got) > 15 {
			t.Errorf("DeviceName(%d) = %q is longer than the kernel's 15", tc.vni, got)
		}
	}
}

func TestMACFor(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want string // "" for nil
	}{
		{"10.0.1.2", "02:42:0a:00:01:02"},
		{"10.77.0.3", "02:42:0a:4d:00:03"},
		{"255.255.255.254", "02:42:ff:ff:ff:fe"},
		{"::ffff:10.0.0.1", "02:42:0a:00:00:01"}, // IPv4 in IPv6 form
		{"fd00::1", ""},
	} {
		got := MACFor(net.ParseIP(tc.ip))
		if tc.want == "" {
			if got != nil {
				t.Errorf("MACFor(%s) = %s, want nil", tc.ip, got)
			}
			continue
		}
		if got.String() != tc.want {
			t.Errorf("MACFor(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
	if got := MACFor(nil); got != nil {
		t.Errorf("MACFor(nil) = %s, want nil", got)
	}
}

func TestCheck(t *testing.T) {
	ok := Network{VNI: 4096, Bridge: "br0", Local: net.ParseIP("192.0.2.1")}
	for _, tc := range []struct {
		name    string
		edit    func(*Network)
		wantErr string // "" for none
		want    config
	}{
		{name: "defaults", edit: func(*Network) {},
			want: config{vni: 4096, bridge: "br0", local: net.IP{192, 0, 2, 1}, port: 4789}},
		{name: "port and MTU", edit: func(n *Network) { n.Port = 8472; n.MTU = 1400 },
			want: config{vni: 4096, bridge: "br0", local: net.IP{192, 0, 2, 1}, port: 8472, mtu: 1400}},
		{name: "largest VNI", edit: func(n *Network) { n.VNI = maxVNI },
			want: config{vni: maxVNI, bridge: "br0", local: net.IP{192, 0, 2, 1}, port: 4789}},
		{name: "VNI 0", edit: func(n *Network) { n.VNI = 0 }, wantErr: "VNI 0 out of range"},
		{name: "VNI too big", edit: func(n *Network) { n.VNI = maxVNI + 1 }, wantErr: "out of range"},
		{name: "no bridge", edit: func(n *Network) { n.Bridge = "" }, wantErr: "no bridge"},
		{name: "no local", edit: func(n *Network) { n.Local = nil }, wantErr: "not a unicast IPv4"},
		{name: "IPv6 local", edit: func(n *Network) { n.Local = net.ParseIP("fd00::1") }, wantErr: "not a unicast IPv4"},
		{name: "unspecified local", edit: func(n *Network) { n.Local = net.IPv4zero }, wantErr: "not a unicast IPv4"},
		{name: "multicast local", edit: func(n *Network) { n.Local = net.ParseIP("239.1.1.1") }, wantErr: "not a unicast IPv4"},
		{name: "port too big", edit: func(n *Network) { n.Port = 65536 }, wantErr: "port 65536"},
		{name: "negative port", edit: func(n *Network) { n.Port = -1 }, wantErr: "port -1"},
		{name: "MTU too small", edit: func(n *Network) { n.MTU = 67 }, wantErr: "MTU 67"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ok
			tc.edit(&n)
			got, err := n.check()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "overlay: ") {
					t.Fatalf("check() error = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("check() error = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("check() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Shorthands for the tables.
func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func hw(s string) mac {
	h, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return mac(h)
}

func arp(a, m string) arpEntry { return arpEntry{IP: ip(a), MAC: hw(m)} }
func fdb(m, v string) fdbEntry { return fdbEntry{MAC: hw(m), VTEP: ip(v)} }
func peer(a, m, v string) Peer {
	return Peer{IP: net.ParseIP(a), MAC: hw(m).hw(), VTEP: net.ParseIP(v)}
}
func docker(a, v string) Peer {
	return Peer{IP: net.ParseIP(a), MAC: MACFor(net.ParseIP(a)), VTEP: net.ParseIP(v)}
}
func arps(es ...arpEntry) []arpEntry { return es }
func fdbs(es ...fdbEntry) []fdbEntry { return es }

const (
	m2 = "02:42:0a:00:01:02"
	m3 = "02:42:0a:00:01:03"
	m4 = "02:42:0a:00:01:04"
)

func TestWant(t *testing.T) {
	self := ip("198.18.1.1")
	for _, tc := range []struct {
		name    string
		peers   []Peer
		wantARP []arpEntry
		wantFDB []fdbEntry
		wantErr string
	}{
		{name: "none"},
		{
			name:    "sorted and deduplicated",
			peers:   []Peer{docker("10.0.1.3", "198.18.1.3"), docker("10.0.1.2", "198.18.1.2"), docker("10.0.1.3", "198.18.1.3")},
			wantARP: arps(arp("10.0.1.2", m2), arp("10.0.1.3", m3)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m3, "198.18.1.3")),
		},
		{
			name:    "IPv4 in IPv6 form",
			peers:   []Peer{{IP: net.ParseIP("10.0.1.2").To16(), MAC: hw(m2).hw(), VTEP: net.ParseIP("198.18.1.2").To16()}},
			wantARP: arps(arp("10.0.1.2", m2)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2")),
		},
		{
			name:    "two IPs on one MAC",
			peers:   []Peer{peer("10.0.1.2", m2, "198.18.1.2"), peer("10.0.1.9", m2, "198.18.1.2")},
			wantARP: arps(arp("10.0.1.2", m2), arp("10.0.1.9", m2)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2")),
		},
		{name: "IP with two MACs", peers: []Peer{peer("10.0.1.2", m2, "198.18.1.2"), peer("10.0.1.2", m3, "198.18.1.2")}, wantErr: "has two MACs"},
		{name: "MAC on two hosts", peers: []Peer{peer("10.0.1.2", m2, "198.18.1.2"), peer("10.0.1.3", m2, "198.18.1.3")}, wantErr: "on two hosts"},
		{name: "on this host", peers: []Peer{docker("10.0.1.2", "198.18.1.1")}, wantErr: "is this host"},
		{name: "IPv6 IP", peers: []Peer{peer("fd00::2", m2, "198.18.1.2")}, wantErr: "not a unicast IPv4"},
		{name: "no IP", peers: []Peer{{MAC: hw(m2).hw(), VTEP: net.ParseIP("198.18.1.2")}}, wantErr: "not a unicast IPv4"},
		{name: "no VTEP", peers: []Peer{{IP: net.ParseIP("10.0.1.2"), MAC: hw(m2).hw()}}, wantErr: "VTEP <nil>"},
		{name: "multicast VTEP", peers: []Peer{docker("10.0.1.2", "239.0.0.1")}, wantErr: "VTEP 239.0.0.1"},
		{name: "short MAC", peers: []Peer{{IP: net.ParseIP("10.0.1.2"), MAC: net.HardwareAddr{2, 0x42}, VTEP: net.ParseIP("198.18.1.2")}}, wantErr: "not 6 bytes"},
		{name: "zero MAC", peers: []Peer{peer("10.0.1.2", "00:00:00:00:00:00", "198.18.1.2")}, wantErr: "not a unicast address"},
		{name: "broadcast MAC", peers: []Peer{peer("10.0.1.2", "ff:ff:ff:ff:ff:ff", "198.18.1.2")}, wantErr: "not a unicast address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotARP, gotFDB, err := want(tc.peers, self)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "overlay: ") {
					t.Fatalf("want() error = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("want() error = %v", err)
			}
			if len(gotARP)+len(tc.wantARP) > 0 && !reflect.DeepEqual(gotARP, tc.wantARP) {
				t.Errorf("neighbours = %v, want %v", gotARP, tc.wantARP)
			}
			if len(gotFDB)+len(tc.wantFDB) > 0 && !reflect.DeepEqual(gotFDB, tc.wantFDB) {
				t.Errorf("forwarding = %v, want %v", gotFDB, tc.wantFDB)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name             string
		wantARP, haveARP []arpEntry
		wantFDB, haveFDB []fdbEntry
		plan             plan
	}{
		{name: "nothing"},
		{
			name:    "all new",
			wantARP: arps(arp("10.0.1.2", m2), arp("10.0.1.3", m3)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m3, "198.18.1.3")),
			plan: plan{
				setFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m3, "198.18.1.3")),
				setARP: arps(arp("10.0.1.2", m2), arp("10.0.1.3", m3)),
			},
		},
		{
			name:    "unchanged",
			wantARP: arps(arp("10.0.1.2", m2), arp("10.0.1.3", m3)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m3, "198.18.1.3")),
			haveARP: arps(arp("10.0.1.3", m3), arp("10.0.1.2", m2)),
			haveFDB: fdbs(fdb(m3, "198.18.1.3"), fdb(m2, "198.18.1.2")),
		},
		{
			name:    "all gone",
			haveARP: arps(arp("10.0.1.3", m3), arp("10.0.1.2", m2)),
			haveFDB: fdbs(fdb(m3, "198.18.1.3"), fdb(m2, "198.18.1.2")),
			plan: plan{
				delARP: arps(arp("10.0.1.2", m2), arp("10.0.1.3", m3)),
				delFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m3, "198.18.1.3")),
			},
		},
		{
			name:    "endpoint moved to another host: replaced in place",
			wantARP: arps(arp("10.0.1.2", m2)),
			wantFDB: fdbs(fdb(m2, "198.18.1.4")),
			haveARP: arps(arp("10.0.1.2", m2)),
			haveFDB: fdbs(fdb(m2, "198.18.1.2")),
			plan:    plan{setFDB: fdbs(fdb(m2, "198.18.1.4"))},
		},
		{
			name:    "IP reused with another MAC",
			wantARP: arps(arp("10.0.1.2", m4)),
			wantFDB: fdbs(fdb(m4, "198.18.1.2")),
			haveARP: arps(arp("10.0.1.2", m2)),
			haveFDB: fdbs(fdb(m2, "198.18.1.2")),
			plan: plan{
				delFDB: fdbs(fdb(m2, "198.18.1.2")),
				setFDB: fdbs(fdb(m4, "198.18.1.2")),
				setARP: arps(arp("10.0.1.2", m4)),
			},
		},
		{
			name:    "one added, one kept, one removed",
			wantARP: arps(arp("10.0.1.2", m2), arp("10.0.1.4", m4)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m4, "198.18.1.2")),
			haveARP: arps(arp("10.0.1.2", m2), arp("10.0.1.3", m3)),
			haveFDB: fdbs(fdb(m2, "198.18.1.2"), fdb(m3, "198.18.1.3")),
			plan: plan{
				delARP: arps(arp("10.0.1.3", m3)),
				delFDB: fdbs(fdb(m3, "198.18.1.3")),
				setFDB: fdbs(fdb(m4, "198.18.1.2")),
				setARP: arps(arp("10.0.1.4", m4)),
			},
		},
		{
			name:    "extra remotes of a wanted MAC deleted",
			wantARP: arps(arp("10.0.1.2", m2)),
			wantFDB: fdbs(fdb(m2, "198.18.1.2")),
			haveARP: arps(arp("10.0.1.2", m2)),
			haveFDB: fdbs(fdb(m2, "198.18.1.9"), fdb(m2, "198.18.1.2"), fdb(m2, "198.18.1.8")),
			plan:    plan{delFDB: fdbs(fdb(m2, "198.18.1.8"), fdb(m2, "198.18.1.9"))},
		},
		{
			name:    "several remotes, none wanted: all deleted, then set",
			wantFDB: fdbs(fdb(m2, "198.18.1.2")),
			haveFDB: fdbs(fdb(m2, "198.18.1.9"), fdb(m2, "198.18.1.8")),
			plan: plan{
				delFDB: fdbs(fdb(m2, "198.18.1.8"), fdb(m2, "198.18.1.9")),
				setFDB: fdbs(fdb(m2, "198.18.1.2")),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := diff(tc.wantARP, tc.wantFDB, tc.haveARP, tc.haveFDB)
			if !samePlan(got, tc.plan) {
				t.Fatalf("diff =\n %v\nwant\n %v", got, tc.plan)
			}
			if got.empty() != tc.plan.empty() {
				t.Fatalf("empty() = %v", got.empty())
			}
		})
	}
}

// samePlan compares plans with nil and empty slices alike.
func samePlan(a, b plan) bool {
	eqA := func(x, y []arpEntry) bool { return len(x) == 0 && len(y) == 0 || reflect.DeepEqual(x, y) }
	eqF := func(x, y []fdbEntry) bool { return len(x) == 0 && len(y) == 0 || reflect.DeepEqual(x, y) }
	return eqA(a.delARP, b.delARP) && eqF(a.delFDB, b.delFDB) && eqF(a.setFDB, b.setFDB) && eqA(a.setARP, b.setARP)
}

// String makes test failures readable.
func (p plan) String() string {
	return fmt.Sprintf("{delete neighbours %v, delete forwarding %v, set forwarding %v, set neighbours %v}", p.delARP, p.delFDB, p.setFDB, p.setARP)
}
