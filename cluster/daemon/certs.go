package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"sw/cluster/pki"
)

// tlsMaterial is a node's CA and certificate, ready for TLS.
type tlsMaterial struct {
	caPEM, certPEM, keyPEM []byte
	ca                     *x509.Certificate
	cert                   tls.Certificate
	id                     pki.NodeIdentity
}

const (
	certDir      = "certificates"
	caFile       = "swarm-root-ca.crt"
	nodeCertFile = "swarm-node.crt"
	nodeKeyFile  = "swarm-node.key"
)

func newTLSMaterial(caPEM, certPEM, keyPEM []byte) (*tlsMaterial, error) {
	ca, err := pki.ParseCertificatePEM(caPEM)
	if err != nil {
		return nil, err
	}
	cert, err := pki.KeyPair(certPEM, keyPEM, ca)
	if err != nil {
		return nil, err
	}
	id, err := pki.ParseNodeCert(certPEM)
	if err != nil {
		return nil, err
	}
	return &tlsMaterial{caPEM: caPEM, certPEM: certPEM, keyPEM: keyPEM, ca: ca, cert: cert, id: id}, nil
}

// loadTLS reads the node's certificates from its data dir.
func loadTLS(dataDir string) (*tlsMaterial, error) {
	dir := filepath.Join(dataDir, certDir)
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	caPEM, err := read(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the node's certificates: %w", err)
	}
	certPEM, err := read(nodeCertFile)
	if err != nil {
		return nil, fmt.Errorf("reading the node's certificates: %w", err)
	}
	keyPEM, err := read(nodeKeyFile)
	if err != nil {
		return nil, fmt.Errorf("reading the node's certificates: %w", err)
	}
	return newTLSMaterial(caPEM, certPEM, keyPEM)
}

// save writes the certificates, the key readable by the owner only.
func (m *tlsMaterial) save(dataDir string) error {
	dir := filepath.Join(dataDir, certDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{caFile, m.caPEM, 0o644}, {nodeCertFile, m.certPEM, 0o644}, {nodeKeyFile, m.keyPEM, 0o600}} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}
