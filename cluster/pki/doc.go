// Package pki is the cluster's public-key infrastructure, modelled on Docker
// Swarm's (swarmkit's ca package): a self-signed root CA, node certificates
// that carry the node's ID, role and cluster, join tokens that pin the root
// CA by digest, unlock keys, and TLS configurations that verify peers
// against the cluster CA.
//
// Everything here is pure: time is passed in where it matters and the only
// I/O is WriteFileAtomic. Randomness comes from crypto/rand, except RenewAt,
// which takes its jitter source as an argument.
package pki

import "time"

// Certificate subject values, as swarmkit's.
const (
	// CACommonName is the root CA's Subject CN.
	CACommonName = "swarm-ca"
	// RoleManager is the OU (and a DNS SAN) of a manager's certificate.
	RoleManager = "swarm-manager"
	// RoleWorker is the OU (and a DNS SAN) of a worker's certificate.
	RoleWorker = "swarm-worker"
)

// Lifetimes, as swarmkit's.
const (
	// RootCAExpiry is the root CA's lifetime: 20 years of 365 days.
	RootCAExpiry = 20 * 365 * 24 * time.Hour
	// DefaultCertExpiry is a node certificate's default lifetime: 90 days.
	DefaultCertExpiry = 90 * 24 * time.Hour
	// MinCertExpiry is the shortest node certificate lifetime SignCSR accepts.
	MinCertExpiry = time.Hour
	// CertBackdate is how far NotBefore is set before the signing time, to
	// tolerate clock skew between nodes.
	CertBackdate = time.Hour
)
