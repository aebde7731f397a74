package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNewRootCA(t *testing.T) {
	ca := newCA(t, testNow)
	c := ca.Cert
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		t.Errorf("key = %T, want ECDSA P-256", c.PublicKey)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"CN", c.Subject.CommonName, "swarm-ca"},
		{"issuer CN", c.Issuer.CommonName, "swarm-ca"},
		{"IsCA", c.IsCA, true},
		{"BasicConstraintsValid", c.BasicConstraintsValid, true},
		{"KeyUsage", c.KeyUsage, x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
		{"NotBefore", c.NotBefore, testNow.Add(-time.Hour)},
		{"NotAfter", c.NotAfter, testNow.Add(20 * 365 * 24 * time.Hour)},
		{"SignatureAlgorithm", c.SignatureAlgorithm, x509.ECDSAWithSHA256},
		{"serial positive", c.SerialNumber.Sign(), 1},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			if gt, ok := tc.got.(time.Time); ok && gt.Equal(tc.want.(time.Time)) {
				continue
			}
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if b, _ := pem.Decode(ca.CertPEM); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("CertPEM is not a CERTIFICATE block")
	}
	if b, _ := pem.Decode(ca.KeyPEM); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Errorf("KeyPEM is not an EC PRIVATE KEY block")
	}
	if other := newCA(t, testNow); other.Cert.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("two CAs share a serial number")
	}
}

func TestDigest(t *testing.T) {
	ca := newCA(t, testNow)
	d := ca.Digest()
	if !regexp.MustCompile(`^[0-9a-z]{50}$`).MatchString(d) {
		t.Fatalf("Digest = %q, want 50 base-36 characters", d)
	}
	if d2 := ca.Digest(); d2 != d {
		t.Errorf("Digest not stable: %q then %q", d, d2)
	}
	loaded, err := LoadCA(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Digest() != d {
		t.Errorf("Digest after LoadCA = %q, want %q", loaded.Digest(), d)
	}
	if newCA(t, testNow).Digest() == d {
		t.Errorf("two CAs have the same digest")
	}
	// Independently: the SHA-256 in hex, re-read as a number, in base 36.
	n, _ := new(big.Int).SetString("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", 16) // sha256("hello")
	want := strings.Repeat("0", 50-len(n.Text(36))) + n.Text(36)
	if got := DigestOf([]byte("hello")); got != want {
		t.Errorf("DigestOf(hello) = %q, want %q", got, want)
	}
}

func TestBase36Padding(t *testing.T) {
	tests := []struct {
		in    []byte
		width int
		want  string
	}{
		{nil, 5, "00000"},
		{[]byte{35}, 3, "00z"},
		{[]byte{36}, 3, "010"},
		{[]byte{1, 0}, 1, "74"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 25, "f5lxx1zz5pnorynqglhzmsp33"},
	}
	for _, tc := range tests {
		if got := base36(tc.in, tc.width); got != tc.want {
			t.Errorf("base36(%x, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

func TestLoadCA(t *testing.T) {
	ca := newCA(t, testNow)
	other := newCA(t, testNow)
	nodeCert, nodeKey, _ := issue(t, ca, "node1", RoleManager, "cluster1", nil, testNow, 0)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "external-ca"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	rsaDER, err := x509.CreateCertificate(rand.Reader, rsaTmpl, rsaTmpl, rsaKey.Public(), rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaCertPEM := EncodeCertificatePEM(rsaDER)
	rsaKeyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	encKeyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
	withParams := append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), ca.KeyPEM...)

	tests := []struct {
		name         string
		cert, key    []byte
		wantErr      string
		wantDigestOf *CA
	}{
		{"round trip", ca.CertPEM, ca.KeyPEM, "", ca},
		{"openssl EC PARAMETERS block", ca.CertPEM, withParams, "", ca},
		{"RSA PKCS#8 external CA", rsaCertPEM, rsaKeyPEM, "", nil},
		{"key of another CA", ca.CertPEM, other.KeyPEM, "does not match", nil},
		{"node certificate", nodeCert, nodeKey, "not a CA certificate", nil},
		{"no certificate", []byte("junk"), ca.KeyPEM, "no PEM certificate", nil},
		{"no key", ca.CertPEM, []byte("junk"), "no PEM private key", nil},
		{"encrypted key", ca.CertPEM, encKeyPEM, "encrypted", nil},
		{"key as certificate", ca.KeyPEM, ca.KeyPEM, "no PEM certificate", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadCA(tc.cert, tc.key)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "pki: ") {
					t.Fatalf("LoadCA err = %v, want pki: …%s…", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadCA: %v", err)
			}
			if tc.wantDigestOf != nil && got.Digest() != tc.wantDigestOf.Digest() {
				t.Errorf("digest changed")
			}
			// The loaded CA can sign, and what it signs verifies against it.
			_, _, c := issue(t, got, "n1", RoleWorker, "c1", nil, testNow, 0)
			if _, err := c.Verify(x509.VerifyOptions{Roots: got.Pool(), CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("issued certificate does not verify: %v", err)
			}
		})
	}
}

func TestLoadCANotSelfSigned(t *testing.T) {
	root := newCA(t, testNow)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "intermediate"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour * 24),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, key.Public(), root.key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := encodeECKeyPEM(key)
	if _, err := LoadCA(EncodeCertificatePEM(der), keyPEM); err == nil || !strings.Contains(err.Error(), "self-signed") {
		t.Errorf("LoadCA(intermediate) err = %v, want not self-signed", err)
	}
}

func TestKeyPairChainsCA(t *testing.T) {
	ca := newCA(t, testNow)
	certPEM, keyPEM, _ := issue(t, ca, "n1", RoleManager, "c1", nil, testNow, 0)
	for _, tc := range []struct {
		name string
		ca   *x509.Certificate
		want int
	}{{"with CA", ca.Cert, 2}, {"without CA", nil, 1}} {
		kp, err := KeyPair(certPEM, keyPEM, tc.ca)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(kp.Certificate) != tc.want || kp.Leaf == nil || kp.Leaf.Subject.CommonName != "n1" {
			t.Errorf("%s: chain %d certs, leaf %v; want %d certs and leaf n1", tc.name, len(kp.Certificate), kp.Leaf, tc.want)
		}
	}
	if _, err := KeyPair(certPEM, ca.KeyPEM, nil); err == nil {
		t.Errorf("KeyPair with the wrong key succeeded")
	}
}
