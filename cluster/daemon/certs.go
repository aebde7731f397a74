package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sw/cluster/keyfile"
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

// newKeyFile is the node's key file in data dir dir.
func newKeyFile(dataDir string) *keyfile.File {
	return keyfile.New(filepath.Join(dataDir, certDir, nodeKeyFile))
}

// loadTLS reads the node's certificates from its data dir, opening its
// key file with d.keys (a sealed one needs the unlock key first).
func (d *Daemon) loadTLS() (*tlsMaterial, error) {
	dir := filepath.Join(d.cfg.DataDir, certDir)
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	caPEM, err := read(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the node's certificates: %w", err)
	}
	certPEM, err := read(nodeCertFile)
	if err != nil {
		return nil, fmt.Errorf("reading the node's certificates: %w", err)
	}
	keyPEM, err := d.keys.Load()
	if errors.Is(err, keyfile.ErrLocked) {
		return nil, errLocked
	}
	if err != nil {
		return nil, err
	}
	return newTLSMaterial(caPEM, certPEM, keyPEM)
}

// save writes the certificates next to key file k, and the key through
// it: with the node's Raft data key in its headers, sealed while the
// swarm is autolocked.
func (m *tlsMaterial) save(k *keyfile.File) error {
	dir := filepath.Dir(k.Path())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{caFile, m.caPEM, 0o644}, {nodeCertFile, m.certPEM, 0o644}} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return k.WriteKey(m.keyPEM, m.id.IsManager())
}
