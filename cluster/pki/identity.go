package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// NodeIdentity is what a node certificate says about its holder.
type NodeIdentity struct {
	// NodeID is the certificate's CN.
	NodeID string
	// Role is the certificate's OU: RoleManager or RoleWorker.
	Role string
	// ClusterID is the certificate's O.
	ClusterID string
	// NotAfter is when the certificate expires.
	NotAfter time.Time
}

// IsManager reports whether the identity is a manager's.
func (id NodeIdentity) IsManager() bool { return id.Role == RoleManager }

// ParseNodeCert returns the identity in a PEM node certificate. It does not
// verify the certificate against a CA.
func ParseNodeCert(certPEM []byte) (NodeIdentity, error) {
	c, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return NodeIdentity{}, err
	}
	return IdentityFromCert(c)
}

// IdentityFromCert returns the identity in a parsed node certificate: it
// must have a CN, exactly one OU that is a role, and exactly one O. It
// does not verify the certificate against a CA.
func IdentityFromCert(c *x509.Certificate) (NodeIdentity, error) {
	if c == nil {
		return NodeIdentity{}, errors.New("pki: no certificate")
	}
	s := c.Subject
	if s.CommonName == "" {
		return NodeIdentity{}, errors.New("pki: not a node certificate: no CN (node ID)")
	}
	if len(s.OrganizationalUnit) != 1 || (s.OrganizationalUnit[0] != RoleManager && s.OrganizationalUnit[0] != RoleWorker) {
		return NodeIdentity{}, fmt.Errorf("pki: not a node certificate: OU %q is not %s or %s", s.OrganizationalUnit, RoleManager, RoleWorker)
	}
	if len(s.Organization) != 1 || s.Organization[0] == "" {
		return NodeIdentity{}, fmt.Errorf("pki: not a node certificate: O %q is not one cluster ID", s.Organization)
	}
	return NodeIdentity{
		NodeID:    s.CommonName,
		Role:      s.OrganizationalUnit[0],
		ClusterID: s.Organization[0],
		NotAfter:  c.NotAfter,
	}, nil
}

// IdentityFromChains returns the identity of the leaf of the first
// verified chain, as found in tls.ConnectionState.VerifiedChains; false if
// there is none or it is not a node certificate.
func IdentityFromChains(chains [][]*x509.Certificate) (NodeIdentity, bool) {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return NodeIdentity{}, false
	}
	id, err := IdentityFromCert(chains[0][0])
	return id, err == nil
}

// IdentityFromConnState returns the verified peer's identity on a
// connection made with ServerTLS or ClientTLS; false if the peer presented
// no verified certificate (a joining node, or a JoinTLS connection).
func IdentityFromConnState(cs tls.ConnectionState) (NodeIdentity, bool) {
	return IdentityFromChains(cs.VerifiedChains)
}
