package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Check is an extra test of a verified peer, run on every handshake after
// the certificate checks; a non-nil error refuses the connection. Use it
// to refuse removed nodes:
//
//	func(id pki.NodeIdentity) error {
//		if removed(id.NodeID) {
//			return fmt.Errorf("node %s was removed from the swarm", id.NodeID)
//		}
//		return nil
//	}
type Check func(NodeIdentity) error

// ServerTLS returns the TLS configuration of a manager's listener: TLS 1.2
// at least, cert as its certificate (build it with KeyPair so the CA
// follows the leaf), and client certificates verified against ca.
//
// With requireClientCert every client must present a node certificate of
// the cluster; without it (the join endpoint) a client may present none,
// but one that is presented is still verified. A verified client
// certificate must be a node certificate of the same cluster as cert's
// (its O), and pass every check. The peer's identity is then available
// from IdentityFromConnState. ca must not be nil.
func ServerTLS(ca *x509.Certificate, cert tls.Certificate, requireClientCert bool, checks ...Check) *tls.Config {
	auth := tls.VerifyClientCertIfGiven
	if requireClientCert {
		auth = tls.RequireAndVerifyClientCert
	}
	cluster := localCluster(&cert)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    certPool(ca),
		ClientAuth:   auth,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				if requireClientCert {
					return errors.New("pki: a node certificate is required")
				}
				return nil
			}
			return checkPeer(cs.VerifiedChains, false, cluster, checks)
		},
	}
}

// ClientTLS returns the TLS configuration of a node dialling a manager:
// TLS 1.2 at least, cert as its client certificate (nil for a node that
// has the CA but no certificate yet), and the server verified against ca.
//
// Peers are dialled by IP address, so the server is not checked against
// the dialled host: ServerName is fixed to RoleManager, a DNS SAN that
// every manager certificate carries, and the certificate's OU must be
// RoleManager. If cert is given, the server must also belong to its
// cluster. Every check must pass. ca must not be nil.
func ClientTLS(ca *x509.Certificate, cert *tls.Certificate, checks ...Check) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    certPool(ca),
		ServerName: RoleManager,
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	cluster := localCluster(cert)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return checkPeer(cs.VerifiedChains, true, cluster, checks)
	}
	return cfg
}

// NodeClientTLS returns the TLS configuration of a node dialling one
// given node, manager or worker (a manager reading the logs of a task on
// another node): as ClientTLS, but the server must be node nodeID, of
// either role. ServerName is nodeID, a DNS SAN that every node
// certificate carries, and the certificate's CN must be nodeID too. If
// cert is given, the server must also belong to its cluster. Every check
// must pass. ca must not be nil.
func NodeClientTLS(ca *x509.Certificate, cert *tls.Certificate, nodeID string, checks ...Check) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    certPool(ca),
		ServerName: nodeID,
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	cluster := localCluster(cert)
	pinned := func(id NodeIdentity) error {
		if id.NodeID != nodeID {
			return fmt.Errorf("pki: the peer is node %s, not %s", id.NodeID, nodeID)
		}
		return nil
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return checkPeer(cs.VerifiedChains, false, cluster, append([]Check{pinned}, checks...))
	}
	return cfg
}

// JoinTLS returns the TLS configuration of a node joining with tok, which
// has no CA yet: the server's chain is checked with VerifyCADigest, so the
// handshake fails (before the token's secret is sent) unless the server
// holds a manager certificate from the CA the token pins. After the
// handshake, VerifyCADigest(conn.ConnectionState().PeerCertificates, tok)
// returns that CA.
func JoinTLS(tok Token) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified in VerifyConnection against the token's digest instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := VerifyCADigest(cs.PeerCertificates, tok)
			return err
		},
	}
}

// ErrCAMismatch is returned by VerifyCADigest when no certificate in the
// chain is the CA the join token pins.
var ErrCAMismatch = errors.New("pki: the manager's CA does not match the join token")

// VerifyCADigest finds, in the chain a manager presented to a joining node
// (leaf first, then its CA), the CA certificate whose digest the token
// holds, and returns it after checking that it is a CA and that the leaf
// is a manager's certificate signed by it for server authentication.
func VerifyCADigest(chain []*x509.Certificate, tok Token) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("pki: the manager presented no certificate")
	}
	var root *x509.Certificate
	var inter []*x509.Certificate
	for _, c := range chain[1:] {
		if root == nil && tok.MatchesCA(c.Raw) {
			root = c
		} else {
			inter = append(inter, c)
		}
	}
	if root == nil {
		return nil, ErrCAMismatch
	}
	if !root.BasicConstraintsValid || !root.IsCA {
		return nil, fmt.Errorf("%w: the pinned certificate is not a CA", ErrCAMismatch)
	}
	opts := x509.VerifyOptions{
		Roots:         certPool(root),
		Intermediates: certPool(inter...),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return nil, fmt.Errorf("pki: the manager's certificate does not verify against the join token's CA: %w", err)
	}
	id, err := IdentityFromCert(chain[0])
	if err != nil {
		return nil, err
	}
	if !id.IsManager() {
		return nil, fmt.Errorf("pki: node %s is not a manager", id.NodeID)
	}
	return root, nil
}

// checkPeer applies the node-certificate, role, cluster and caller checks
// to the leaf of the first verified chain.
func checkPeer(chains [][]*x509.Certificate, wantManager bool, cluster string, checks []Check) error {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return errors.New("pki: the peer's certificate was not verified")
	}
	id, err := IdentityFromCert(chains[0][0])
	if err != nil {
		return err
	}
	if wantManager && !id.IsManager() {
		return fmt.Errorf("pki: node %s is not a manager", id.NodeID)
	}
	if cluster != "" && id.ClusterID != cluster {
		return fmt.Errorf("pki: node %s belongs to cluster %s, not %s", id.NodeID, id.ClusterID, cluster)
	}
	for _, check := range checks {
		if check == nil {
			continue
		}
		if err := check(id); err != nil {
			return err
		}
	}
	return nil
}

// localCluster returns the cluster ID in a node's own certificate, or ""
// if there is none.
func localCluster(cert *tls.Certificate) string {
	if cert == nil || len(cert.Certificate) == 0 {
		return ""
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return ""
		}
	}
	id, err := IdentityFromCert(leaf)
	if err != nil {
		return ""
	}
	return id.ClusterID
}
