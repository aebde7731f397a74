package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"sw/cluster/pki"
	"sw/cluster/types"
)

// TestRenewRestoredCert: a restored manager gets a certificate valid from
// now, for its own key, from the swarm's CA in the snapshot — whatever
// the age of the one in the backup.
func TestRenewRestoredCert(t *testing.T) {
	ca, err := pki.NewRootCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _, err := pki.NewKeyAndCSR("n1")
	if err != nil {
		t.Fatal(err)
	}
	staging := t.TempDir()
	if err := os.MkdirAll(filepath.Join(staging, certDir), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &types.Cluster{ID: "c1", CertExpiry: 2 * time.Hour, RootCA: types.RootCA{CertPEM: ca.CertPEM, KeyPEM: ca.KeyPEM}}
	id := &identity{NodeID: "n1", ClusterID: "c1", Role: "manager", AdvertiseAddr: "10.1.2.3:2377"}
	if err := renewRestoredCert(staging, c, id, keyPEM); err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(staging, certDir, nodeCertFile))
	if err != nil {
		t.Fatal(err)
	}
	mat, err := newTLSMaterial(ca.CertPEM, certPEM, keyPEM) // the key matches the certificate
	if err != nil {
		t.Fatal(err)
	}
	leaf := mat.cert.Leaf
	if mat.id.NodeID != "n1" || mat.id.ClusterID != "c1" || !mat.id.IsManager() {
		t.Fatalf("identity %+v", mat.id)
	}
	if left := time.Until(leaf.NotAfter); left < 119*time.Minute || left > 2*time.Hour {
		t.Fatalf("valid for %s more, want the swarm's 2h", left)
	}
	if len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.1.2.3" {
		t.Fatalf("IP SANs %v", leaf.IPAddresses)
	}
	if err := renewRestoredCert(staging, &types.Cluster{ID: "c1", RootCA: types.RootCA{CertPEM: ca.CertPEM}}, id, keyPEM); err == nil {
		t.Fatal("a snapshot without the CA key gave a certificate")
	}
}
