package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewKeyAndCSR(t *testing.T) {
	keyPEM, csrPEM, err := NewKeyAndCSR("node1")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key = %T, want ECDSA P-256", key)
	}
	csr, err := parseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != "node1" || !publicKeysEqual(csr.PublicKey, key.Public()) {
		t.Errorf("CSR subject %v / key mismatch", csr.Subject)
	}
	if _, _, err := NewKeyAndCSR("bad id"); err == nil {
		t.Errorf("NewKeyAndCSR accepted an invalid node ID")
	}
}

func TestSignCSR(t *testing.T) {
	ca := newCA(t, testNow)
	_, csrPEM, err := NewKeyAndCSR("whatever-the-node-asked")
	if err != nil {
		t.Fatal(err)
	}
	ip4, ip6 := net.ParseIP("10.0.0.7"), net.ParseIP("fd00::7")
	tests := []struct {
		name     string
		role     string
		wantOU   string
		ips      []net.IP
		expiry   time.Duration
		wantLife time.Duration
	}{
		{"manager default expiry", RoleManager, "swarm-manager", []net.IP{ip4}, 0, 90 * 24 * time.Hour},
		{"worker short name", "worker", "swarm-worker", nil, 2 * time.Hour, 2 * time.Hour},
		{"manager short name, two IPs", "manager", "swarm-manager", []net.IP{ip4, nil, ip6}, time.Hour, time.Hour},
		{"clamped to CA expiry", RoleWorker, "swarm-worker", nil, 30 * 365 * 24 * time.Hour, 20 * 365 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, err := ca.SignCSR(csrPEM, "node7", tc.role, "cluster9", tc.ips, testNow, tc.expiry)
			if err != nil {
				t.Fatalf("SignCSR: %v", err)
			}
			c, err := ParseCertificatePEM(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			s := c.Subject
			if s.CommonName != "node7" || !slices.Equal(s.OrganizationalUnit, []string{tc.wantOU}) || !slices.Equal(s.Organization, []string{"cluster9"}) {
				t.Errorf("subject = CN %q OU %q O %q", s.CommonName, s.OrganizationalUnit, s.Organization)
			}
			if !slices.Equal(c.DNSNames, []string{tc.wantOU, "node7"}) {
				t.Errorf("DNS SANs = %q", c.DNSNames)
			}
			var wantIPs []string
			for _, ip := range tc.ips {
				if ip != nil {
					wantIPs = append(wantIPs, ip.String())
				}
			}
			var gotIPs []string
			for _, ip := range c.IPAddresses {
				gotIPs = append(gotIPs, ip.String())
			}
			if !slices.Equal(gotIPs, wantIPs) {
				t.Errorf("IP SANs = %v, want %v", gotIPs, wantIPs)
			}
			if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
				t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
			}
			if c.IsCA {
				t.Errorf("node certificate is a CA")
			}
			if !c.NotBefore.Equal(testNow.Add(-time.Hour)) {
				t.Errorf("NotBefore = %v, want now-1h", c.NotBefore)
			}
			if got := c.NotAfter.Sub(testNow); got != tc.wantLife {
				t.Errorf("NotAfter = now+%v, want now+%v", got, tc.wantLife)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: testNow, DNSName: tc.wantOU,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("Verify: %v", err)
			}
			id, err := ParseNodeCert(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			if want := (NodeIdentity{NodeID: "node7", Role: tc.wantOU, ClusterID: "cluster9", NotAfter: c.NotAfter}); id != want {
				t.Errorf("ParseNodeCert = %+v, want %+v", id, want)
			}
			if id.IsManager() != (tc.wantOU == RoleManager) {
				t.Errorf("IsManager = %v", id.IsManager())
			}
		})
	}
}

func TestSignCSRRefused(t *testing.T) {
	ca := newCA(t, testNow)
	_, good, err := NewKeyAndCSR("n1")
	if err != nil {
		t.Fatal(err)
	}
	// A CSR whose signature does not match its content.
	b, _ := pem.Decode(good)
	der := slices.Clone(b.Bytes)
	der[len(der)-3] ^= 0xff
	badSig := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	// A CSR with a key that is too weak.
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "n1"}}, weak)
	if err != nil {
		t.Fatal(err)
	}
	weakCSR := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER})
	noKey := &CA{Cert: ca.Cert, CertPEM: ca.CertPEM}

	tests := []struct {
		name    string
		ca      *CA
		csr     []byte
		node    string
		role    string
		cluster string
		now     time.Time
		expiry  time.Duration
		wantErr string
	}{
		{"expiry below minimum", ca, good, "n1", RoleWorker, "c1", testNow, 59 * time.Minute, "less than the minimum"},
		{"negative expiry", ca, good, "n1", RoleWorker, "c1", testNow, -time.Hour, "less than the minimum"},
		{"bad CSR signature", ca, badSig, "n1", RoleWorker, "c1", testNow, 0, "signature"},
		{"weak key", ca, weakCSR, "n1", RoleWorker, "c1", testNow, 0, "too weak"},
		{"not PEM", ca, []byte("junk"), "n1", RoleWorker, "c1", testNow, 0, "no PEM certificate request"},
		{"certificate instead of CSR", ca, ca.CertPEM, "n1", RoleWorker, "c1", testNow, 0, "no PEM certificate request"},
		{"unknown role", ca, good, "n1", "swarm-admin", "c1", testNow, 0, "invalid role"},
		{"empty node ID", ca, good, "", RoleWorker, "c1", testNow, 0, "invalid node ID"},
		{"node ID with space", ca, good, "n 1", RoleWorker, "c1", testNow, 0, "invalid node ID"},
		{"node ID is a role", ca, good, RoleManager, RoleWorker, "c1", testNow, 0, "reserved"},
		{"empty cluster ID", ca, good, "n1", RoleWorker, "", testNow, 0, "invalid cluster ID"},
		{"CA not yet valid", ca, good, "n1", RoleWorker, "c1", testNow.Add(-2 * time.Hour), 0, "not valid at"},
		{"CA expired", ca, good, "n1", RoleWorker, "c1", ca.Cert.NotAfter, 0, "not valid at"},
		{"CA expires too soon", ca, good, "n1", RoleWorker, "c1", ca.Cert.NotAfter.Add(-time.Minute), 0, "expires too soon"},
		{"CA without key", noKey, good, "n1", RoleWorker, "c1", testNow, 0, "no signing key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.ca.SignCSR(tc.csr, tc.node, tc.role, tc.cluster, nil, tc.now, tc.expiry)
			if err == nil || !strings.HasPrefix(err.Error(), "pki: ") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("SignCSR err = %v, want pki: …%s…", err, tc.wantErr)
			}
		})
	}
}

func TestIdentityFromCert(t *testing.T) {
	ca := newCA(t, testNow)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(s pkix.Name) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: bigOne(), Subject: s, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		ok   bool
	}{
		{"node", mk(pkix.Name{CommonName: "n", OrganizationalUnit: []string{RoleWorker}, Organization: []string{"c"}}), true},
		{"no CN", mk(pkix.Name{OrganizationalUnit: []string{RoleWorker}, Organization: []string{"c"}}), false},
		{"other OU", mk(pkix.Name{CommonName: "n", OrganizationalUnit: []string{"admins"}, Organization: []string{"c"}}), false},
		{"two OUs", mk(pkix.Name{CommonName: "n", OrganizationalUnit: []string{RoleWorker, RoleManager}, Organization: []string{"c"}}), false},
		{"no O", mk(pkix.Name{CommonName: "n", OrganizationalUnit: []string{RoleWorker}}), false},
		{"the CA", ca.Cert, false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		_, err := IdentityFromCert(tc.cert)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
		_, ok := IdentityFromChains([][]*x509.Certificate{{tc.cert}})
		if ok != tc.ok {
			t.Errorf("%s: IdentityFromChains ok = %v", tc.name, ok)
		}
	}
	if _, ok := IdentityFromChains(nil); ok {
		t.Errorf("IdentityFromChains(nil) ok")
	}
}
