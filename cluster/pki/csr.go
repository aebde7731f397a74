package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"
)

// NewKeyAndCSR generates a node's ECDSA P-256 key and a certificate
// signing request for it with Subject CN nodeID. The key never leaves the
// node; the CSR goes to a manager, whose CA decides the final subject.
func NewKeyAndCSR(nodeID string) (keyPEM, csrPEM []byte, err error) {
	if err := checkName("node ID", nodeID); err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: nodeID},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create CSR: %w", err)
	}
	keyPEM, err = encodeECKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der}), nil
}

// CSRFor makes a certificate signing request for a key the node already
// has (keyPEM), with Subject CN nodeID: to renew a certificate without a
// new key, as a restored manager does for itself.
func CSRFor(keyPEM []byte, nodeID string) ([]byte, error) {
	if err := checkName("node ID", nodeID); err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: nodeID},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der}), nil
}

// SignCSR issues a node certificate for the public key in csrPEM after
// checking the CSR's signature. The CSR's subject and extensions are
// ignored: the certificate has CN nodeID, OU the role, O clusterID, DNS
// SANs the role and nodeID plus the given IP SANs, extended key usages
// server and client auth, and is valid from now-CertBackdate to now+expiry
// (clamped to the CA's own expiry).
//
// role is RoleManager or RoleWorker; "manager" and "worker" are accepted
// too. expiry 0 means DefaultCertExpiry; less than MinCertExpiry is
// refused.
func (ca *CA) SignCSR(csrPEM []byte, nodeID, role, clusterID string, ips []net.IP, now time.Time, expiry time.Duration) (certPEM []byte, err error) {
	if ca == nil || ca.key == nil {
		return nil, errors.New("pki: the CA has no signing key")
	}
	ou, err := roleOU(role)
	if err != nil {
		return nil, err
	}
	if err := checkName("node ID", nodeID); err != nil {
		return nil, err
	}
	if err := checkName("cluster ID", clusterID); err != nil {
		return nil, err
	}
	if expiry == 0 {
		expiry = DefaultCertExpiry
	}
	if expiry < MinCertExpiry {
		return nil, fmt.Errorf("pki: certificate expiry %v is less than the minimum %v", expiry, MinCertExpiry)
	}
	if now.Before(ca.Cert.NotBefore) || !now.Before(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("pki: the CA certificate is not valid at %s (valid %s to %s)",
			now.UTC().Format(time.RFC3339), ca.Cert.NotBefore.Format(time.RFC3339), ca.Cert.NotAfter.Format(time.RFC3339))
	}
	notAfter := now.Add(expiry)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
		if notAfter.Sub(now) < MinCertExpiry {
			return nil, errors.New("pki: the CA certificate expires too soon to sign certificates")
		}
	}
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	var sans []net.IP
	for _, ip := range ips {
		if ip != nil {
			sans = append(sans, ip)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         nodeID,
			OrganizationalUnit: []string{ou},
			Organization:       []string{clusterID},
		},
		NotBefore:             now.Add(-CertBackdate).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{ou, nodeID},
		IPAddresses:           sans,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign certificate: %w", err)
	}
	return EncodeCertificatePEM(der), nil
}

// parseCSR decodes a PEM CSR, checks its self-signature and its key.
func parseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || (b.Type != pemCSR && b.Type != pemCSROld) {
		return nil, errors.New("pki: no PEM certificate request found")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: bad certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: bad certificate request signature: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P224() {
			return nil, errors.New("pki: certificate request key is too weak (P-224)")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("pki: certificate request key is too weak (RSA %d bits)", k.N.BitLen())
		}
	default:
		return nil, fmt.Errorf("pki: unsupported certificate request key type %T", k)
	}
	return csr, nil
}

// roleOU maps a role to its certificate OU.
func roleOU(role string) (string, error) {
	switch role {
	case RoleManager, "manager":
		return RoleManager, nil
	case RoleWorker, "worker":
		return RoleWorker, nil
	}
	return "", fmt.Errorf("pki: invalid role %q (want %s or %s)", role, RoleManager, RoleWorker)
}

// checkName checks that an ID can be a certificate CN, O and DNS SAN:
// 1 to 64 characters of letters, digits, '-', '_' and '.'; and that it
// cannot pass for a role.
func checkName(what, s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("pki: invalid %s %q: must be 1 to 64 characters", what, s)
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("pki: invalid %s %q: only letters, digits, '-', '_' and '.' are allowed", what, s)
		}
	}
	if s == RoleManager || s == RoleWorker || s == CACommonName {
		return fmt.Errorf("pki: invalid %s %q: reserved name", what, s)
	}
	return nil
}
