package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA is a cluster root certificate authority: its certificate and the key
// that signs node certificates. Only managers hold one.
type CA struct {
	// Cert is the parsed root certificate.
	Cert *x509.Certificate
	// CertPEM is Cert as a single PEM block; it is what nodes trust.
	CertPEM []byte
	// KeyPEM is the signing key in PEM; keep it secret.
	KeyPEM []byte

	key crypto.Signer
}

// NewRootCA creates a self-signed root CA as swarmkit does: an ECDSA P-256
// key, Subject CN "swarm-ca", valid from now-CertBackdate for RootCAExpiry.
func NewRootCA(now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CACommonName},
		NotBefore:             now.Add(-CertBackdate).UTC(),
		NotAfter:              now.Add(RootCAExpiry).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	keyPEM, err := encodeECKeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: EncodeCertificatePEM(der), KeyPEM: keyPEM, key: key}, nil
}

// LoadCA restores a CA from its PEM certificate and key, such as a
// manager's saved CA or one given by the user (--ca-cert/--ca-key). The
// certificate must be a self-signed CA certificate allowed to sign
// certificates, and the key must be its key. ECDSA, RSA and Ed25519 keys
// are accepted; CertPEM is normalised to the single certificate.
//
// LoadCA does not check the validity period; SignCSR does, at signing time.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, err
	}
	if err := checkCACert(cert); err != nil {
		return nil, err
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("pki: the CA key does not match the CA certificate")
	}
	return &CA{Cert: cert, CertPEM: EncodeCertificatePEM(cert.Raw), KeyPEM: keyPEM, key: key}, nil
}

// checkCACert reports why cert cannot serve as the cluster's root CA.
func checkCACert(cert *x509.Certificate) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return errors.New("pki: the certificate is not a CA certificate")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("pki: the CA certificate may not sign certificates")
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		return fmt.Errorf("pki: the CA certificate is not a self-signed root: %w", err)
	}
	return nil
}

// Digest returns the CA's digest as it appears in join tokens: see DigestOf.
func (ca *CA) Digest() string { return DigestOf(ca.Cert.Raw) }

// Pool returns a certificate pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool { return certPool(ca.Cert) }

// IssueNodeCert creates a key for a node and signs its certificate, for a
// manager issuing its own certificate; remote nodes send a CSR from
// NewKeyAndCSR instead. The arguments are SignCSR's.
func (ca *CA) IssueNodeCert(nodeID, role, clusterID string, ips []net.IP, now time.Time, expiry time.Duration) (certPEM, keyPEM []byte, err error) {
	keyPEM, csrPEM, err := NewKeyAndCSR(nodeID)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.SignCSR(csrPEM, nodeID, role, clusterID, ips, now, expiry)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// KeyPair builds the TLS certificate for a node from its PEM certificate
// and key; if ca is not nil its certificate follows the node's in the
// chain, so that a joining peer can find the root and check it against the
// join token (see VerifyCADigest). Leaf is set.
func KeyPair(certPEM, keyPEM []byte, ca *x509.Certificate) (tls.Certificate, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: key pair: %w", err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("pki: key pair: %w", err)
		}
	}
	if ca != nil && len(c.Certificate) == 1 {
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c, nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// certPool returns a pool holding the given certificates.
func certPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
