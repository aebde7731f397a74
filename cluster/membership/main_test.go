package membership

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
//
// One goroutine of serf itself is let go: serf.Create starts its internal
// query stream before it creates memberlist, and when that fails (a bad
// key, an address not on this host: TestStartErrors) it returns the error
// without closing the stream's shutdown channel, so that goroutine stays
// (hashicorp/serf v0.10.2, serf.go: newSerfQueries, then
// memberlist.Create). A pool this package started and did not close would
// still be caught: it leaves serf's and memberlist's other loops behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/hashicorp/serf/serf.(*serfQueries).stream"))
}
