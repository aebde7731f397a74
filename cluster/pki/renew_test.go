package pki

import (
	"crypto/x509"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// constSource is a rand.Source that always returns v.
type constSource uint64

func (s constSource) Uint64() uint64 { return uint64(s) }

func TestRenewAt(t *testing.T) {
	nb := testNow.Add(-time.Hour)
	cert := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(100 * time.Hour)}
	lo, hi := nb.Add(50*time.Hour), nb.Add(80*time.Hour)

	tests := []struct {
		name string
		rnd  *rand.Rand
		want time.Time
	}{
		{"lowest draw", rand.New(constSource(0)), lo},
		{"highest draw", rand.New(constSource(math.MaxUint64)), hi},
		{"middle draw", rand.New(constSource(1 << 52)), nb.Add(65 * time.Hour)},
	}
	for _, tc := range tests {
		got := RenewAt(cert, tc.rnd)
		if d := got.Sub(tc.want); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s: RenewAt = %v, want ≈%v", tc.name, got, tc.want)
		}
	}

	seeded := rand.New(rand.NewPCG(1, 2))
	seen := map[int]bool{}
	for i := range 2000 {
		rnd := seeded
		if i%2 == 1 {
			rnd = nil // the global source
		}
		got := RenewAt(cert, rnd)
		if got.Before(lo) || got.After(hi) {
			t.Fatalf("RenewAt = %v, outside [%v, %v]", got, lo, hi)
		}
		seen[int(got.Sub(nb)/time.Hour)] = true
	}
	if len(seen) < 25 {
		t.Errorf("RenewAt is not spread over the window: %d distinct hours", len(seen))
	}

	// A real 90-day certificate renews between day 45 and day 72 of its life.
	ca := newCA(t, testNow)
	_, _, c := issue(t, ca, "n1", RoleWorker, "c1", nil, testNow, 0)
	at := RenewAt(c, rand.New(rand.NewPCG(3, 4)))
	if life := c.NotAfter.Sub(c.NotBefore); at.Before(c.NotBefore.Add(life/2)) || at.After(c.NotBefore.Add(life*8/10)) {
		t.Errorf("RenewAt(90-day cert) = %v, outside the window", at)
	}
}
