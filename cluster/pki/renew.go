package pki

import (
	"crypto/x509"
	"math/rand/v2"
	"time"
)

// Renewal window, as fractions of a certificate's lifetime (swarmkit's
// 50 % and 80 %).
const (
	renewMin = 0.5
	renewMax = 0.8
)

// RenewAt returns when a node should renew cert: a random point between
// 50 % and 80 % of its lifetime, NotBefore to NotAfter, so that the nodes
// of a cluster do not all renew at once. rnd supplies the jitter; nil uses
// the global math/rand/v2 source.
func RenewAt(cert *x509.Certificate, rnd *rand.Rand) time.Time {
	f := rand.Float64
	if rnd != nil {
		f = rnd.Float64
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	frac := renewMin + (renewMax-renewMin)*f()
	return cert.NotBefore.Add(time.Duration(float64(life) * frac))
}
