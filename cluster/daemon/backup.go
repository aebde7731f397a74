package daemon

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"sw/cluster/api"
	"sw/cluster/backoff"
	"sw/cluster/backup"
	"sw/cluster/consensus"
	"sw/cluster/pki"
	"sw/cluster/seal"
	"sw/cluster/store"
	"sw/cluster/types"
)

// `sw swarm backup` and `sw swarm restore`: a manager's swarm state as
// one archive (cluster/backup) holding what its data dir holds —
// node.json, the certificates, the key file exactly as on disk (sealed
// while autolock is on) and the Raft state as one fresh snapshot sealed
// with the data key that key file holds. The archive is as protected as
// the data dir: with autolock on, the keys and the Raft state do not open
// without the unlock key (node.json, as in the data dir, holds the gossip
// key in the clear); with autolock off the key file, and so the data key,
// is plain in it, as it is on the manager's disk.

// Names of the archive's files: those of the data dir.
var (
	backupCAName   = path.Join(certDir, caFile)
	backupCertName = path.Join(certDir, nodeCertFile)
	backupKeyName  = path.Join(certDir, nodeKeyFile)
)

const backupRaftPrefix = "raft/"

// backupFileAllowed says whether name may be in a backup.
func backupFileAllowed(name string) bool {
	switch name {
	case identityFile, backupCAName, backupCertName, backupKeyName:
		return true
	}
	rest, ok := strings.CutPrefix(name, backupRaftPrefix)
	return ok && consensus.IsSnapshotFile(rest)
}

// backupTimeout bounds waiting for this manager to catch up and snapshot.
const backupTimeout = 30 * time.Second

// Backup writes a consistent archive of this manager's swarm state: what
// it has applied once it has caught up with every committed entry.
func (d *Daemon) Backup(ctx context.Context) (api.BackupInfo, []byte, error) {
	sw, err := d.current()
	if err != nil {
		return api.BackupInfo{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, backupTimeout)
	defer cancel()
	// A follower first takes in every write acknowledged so far.
	if sw.catchUp != nil {
		if err := sw.catchUp(ctx); err != nil {
			return api.BackupInfo{}, nil, fmt.Errorf("backup: %w", err)
		}
	}
	snap, err := sw.raft.FreshSnapshot(ctx)
	if err != nil {
		return api.BackupInfo{}, nil, fmt.Errorf("backup: %w", err)
	}
	// The certificate and the key file are written one after the other on
	// renewal: read them again if a renewal fell in between.
	var entries []backup.Entry
	var sealed bool
	retry := backoff.Backoff{Initial: 200 * time.Millisecond, Jitter: backoff.Equal}
	for attempt := 0; ; attempt++ {
		entries, sealed, err = d.backupFiles(snap)
		if err == nil || attempt == 2 || retry.Wait(ctx) != nil {
			break
		}
	}
	if err != nil {
		return api.BackupInfo{}, nil, fmt.Errorf("backup: %w", err)
	}
	m := backup.Manifest{CreatedAt: now(), SwVersion: Version, NodeID: sw.id.NodeID, ClusterID: sw.id.ClusterID,
		Hostname: d.cfg.Hostname, RaftIndex: snap.Index, RaftTerm: snap.Term, KeySealed: sealed}
	var buf bytes.Buffer
	if err := backup.Write(&buf, m, entries); err != nil {
		return api.BackupInfo{}, nil, err
	}
	d.log.Info("swarm state backed up", "raft-index", snap.Index, "bytes", buf.Len(), "sealed", sealed)
	return api.BackupInfo{NodeID: m.NodeID, ClusterID: m.ClusterID, RaftIndex: m.RaftIndex, RaftTerm: m.RaftTerm,
		KeySealed: sealed, Size: int64(buf.Len())}, buf.Bytes(), nil
}

// backupFiles reads the data dir's files for a backup and seals the
// snapshot with the data key of the key file read, checking that the
// certificate and the key go together.
func (d *Daemon) backupFiles(snap *consensus.PlainSnapshot) ([]backup.Entry, bool, error) {
	read := func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(d.cfg.DataDir, filepath.FromSlash(name)))
	}
	idJSON, err := read(identityFile)
	if err != nil {
		return nil, false, err
	}
	caPEM, err := read(backupCAName)
	if err != nil {
		return nil, false, err
	}
	certPEM, err := read(backupCertName)
	if err != nil {
		return nil, false, err
	}
	keyFile, kf, sealed, err := d.keys.ReadForBackup()
	if err != nil {
		return nil, false, err
	}
	if _, err := newTLSMaterial(caPEM, certPEM, kf.KeyPEM); err != nil {
		return nil, false, fmt.Errorf("the node's certificate and key do not match: %w", err)
	}
	files, err := snap.Seal(*kf.DEK)
	if err != nil {
		return nil, false, err
	}
	return []backup.Entry{
		{Name: identityFile, Data: idJSON, Mode: 0o600},
		{Name: backupCAName, Data: caPEM, Mode: 0o644},
		{Name: backupCertName, Data: certPEM, Mode: 0o644},
		{Name: backupKeyName, Data: keyFile, Mode: 0o600},
		{Name: backupRaftPrefix + files.MetaName(), Data: files.Meta, Mode: 0o600},
		{Name: backupRaftPrefix + files.StateName(), Data: files.State, Mode: 0o600},
	}, sealed, nil
}

// restoreStaging is where an archive is unpacked and checked, inside the
// data dir so that installing it is a rename.
const restoreStaging = "restore.tmp"

// restoreTimeout bounds the restored manager's start.
const restoreTimeout = 20 * time.Second

// Restore makes this node, outside any swarm, the single manager of the
// swarm an archive holds: same node ID, cluster ID, CA, services and
// tasks; this node the only voter (as --force-new-cluster). The whole
// archive is checked before anything is installed: an archive that fails
// a check leaves the data dir as it was; a failure after that (installing,
// starting) leaves it without swarm state, as before the restore.
func (d *Daemon) Restore(ctx context.Context, req api.RestoreRequest, archive io.Reader) (api.RestoreResponse, error) {
	d.roleMu.Lock()
	defer d.roleMu.Unlock()
	if err := d.lockedErr(); err != nil {
		return api.RestoreResponse{}, store.Errorf(api.ErrBadRequest, "this node is part of a swarm (locked): "+
			"a backup is restored on a node outside any swarm")
	}
	if d.active() != nil {
		return api.RestoreResponse{}, store.Errorf(api.ErrBadRequest, "this node is already part of a swarm: a backup is "+
			"restored on a node outside any swarm (a new daemon with an empty data dir, or after 'sw swarm leave --force', "+
			"which erases this node's swarm state)")
	}
	if id, err := loadIdentity(d.cfg.DataDir); err != nil || id != nil {
		return api.RestoreResponse{}, store.Errorf(api.ErrBadRequest, "%s holds a swarm identity: a backup is restored "+
			"into a data dir without one", filepath.Join(d.cfg.DataDir, identityFile))
	}
	staging := filepath.Join(d.cfg.DataDir, restoreStaging)
	_ = os.RemoveAll(staging)
	defer os.RemoveAll(staging)
	r, err := d.checkBackup(staging, req, archive)
	if err != nil {
		return api.RestoreResponse{}, err
	}
	if err := d.installBackup(staging); err != nil {
		_ = d.forget()
		return api.RestoreResponse{}, err
	}
	if r.unlockKey != nil {
		if err := d.keys.Open(r.unlockKey); err != nil {
			_ = d.forget()
			return api.RestoreResponse{}, err
		}
	}
	sw, err := d.startSwarm(ctx, r.id, startOptions{forceNewCluster: true, resume: true, fromSnapshot: true})
	if err != nil {
		_ = d.forget()
		return api.RestoreResponse{}, fmt.Errorf("restore: starting the restored manager: %w", err)
	}
	select {
	case <-sw.ready:
	case <-time.After(restoreTimeout):
		d.abandon(sw)
		return api.RestoreResponse{}, errors.New("restore: the restored manager did not take the lead in time")
	}
	if err := saveIdentity(d.cfg.DataDir, r.id); err != nil {
		d.abandon(sw)
		return api.RestoreResponse{}, err
	}
	v := sw.store.View()
	// The manager's gossip loop joins the nodes the restored state has as
	// ready (gossipPeers): the workers still hold the old manager alive in
	// their pools (same name, same address) and would not join it again.
	resp := api.RestoreResponse{NodeID: r.id.NodeID, ClusterID: r.id.ClusterID, AdvertiseAddr: r.id.AdvertiseAddr,
		RaftIndex: r.snap.Index, Services: len(v.Services())}
	for _, n := range v.Nodes() {
		resp.Nodes++
		if n.Role == types.RoleManager && n.ID != r.id.NodeID {
			resp.OtherManagers = append(resp.OtherManagers, n.ID)
		}
	}
	d.log.Info("swarm restored from a backup", "node", r.id.NodeID, "cluster", r.id.ClusterID, "raft-index", r.snap.Index)
	return resp, nil
}

// checkedBackup is an archive unpacked and found whole.
type checkedBackup struct {
	id        *identity
	snap      *consensus.SnapshotInfo
	unlockKey []byte // the raw unlock key, for a sealed key file
}

// badRequestTrimmed is a bad request whose message is msg followed by
// err's without its package's prefix ("pki: "), keeping err as its cause.
func badRequestTrimmed(msg string, err error, prefix string) error {
	return &store.KindError{Kind: api.ErrBadRequest, Msg: msg + strings.TrimPrefix(err.Error(), prefix), Cause: err}
}

func badBackup(format string, a ...any) error {
	return store.Errorf(api.ErrBadRequest, "invalid backup: "+format, a...)
}

// checkBackup unpacks the archive into staging and checks all of it: the
// manifest, the identity, the certificates against the CA, the key file
// (opened with the unlock key if sealed), the snapshot decrypted and
// decoded, and that they all name the same node and swarm.
func (d *Daemon) checkBackup(staging string, req api.RestoreRequest, archive io.Reader) (*checkedBackup, error) {
	m, err := backup.Extract(archive, staging, backupFileAllowed)
	if err != nil {
		if errors.Is(err, backup.ErrInvalid) {
			return nil, store.Errorf(api.ErrBadRequest, "%w", err)
		}
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(staging, filepath.FromSlash(name)))
		if errors.Is(err, os.ErrNotExist) {
			return nil, badBackup("it holds no %s", name)
		}
		return b, err
	}
	if _, err := read(identityFile); err != nil {
		return nil, err
	}
	id, err := loadIdentity(staging)
	if err != nil {
		return nil, badBackup("%w", err)
	}
	switch {
	case id.NodeID == "" || id.ClusterID == "":
		return nil, badBackup("its %s names no node or no swarm", identityFile)
	case id.NodeID != m.NodeID || id.ClusterID != m.ClusterID:
		return nil, badBackup("its %s (node %s of swarm %s) is not the node the manifest names (%s of %s)",
			identityFile, id.NodeID, id.ClusterID, m.NodeID, m.ClusterID)
	case !id.isManager():
		return nil, badBackup("it is a backup of a worker: only a manager's state can be restored")
	}
	caPEM, err := read(backupCAName)
	if err != nil {
		return nil, err
	}
	certPEM, err := read(backupCertName)
	if err != nil {
		return nil, err
	}
	keyFile, err := read(backupKeyName)
	if err != nil {
		return nil, err
	}
	out := &checkedBackup{}
	sealed := seal.IsSealed(keyFile)
	if sealed != m.KeySealed {
		return nil, badBackup("its key file is %s, the manifest says otherwise", map[bool]string{true: "sealed", false: "not sealed"}[sealed])
	}
	var kek *seal.Key
	if sealed {
		if req.UnlockKey == "" {
			return nil, store.Errorf(api.ErrBadRequest, "this backup was taken with autolock on: its keys are sealed "+
				"with the swarm's unlock key, which restoring it needs")
		}
		raw, err := pki.ParseUnlockKey(req.UnlockKey)
		if err != nil {
			return nil, badRequestTrimmed("", err, "pki: ")
		}
		k, err := seal.KEK(raw)
		if err != nil {
			return nil, store.Errorf(api.ErrBadRequest, "invalid unlock key")
		}
		kek, out.unlockKey = &k, raw
	}
	kf, err := seal.ParseKeyFile(keyFile, kek)
	switch {
	case errors.Is(err, seal.ErrWrongKey):
		return nil, store.Errorf(api.ErrBadRequest, "invalid unlock key: it does not open this backup's keys "+
			"(give the unlock key the swarm had when the backup was taken)")
	case err != nil:
		return nil, badRequestTrimmed("invalid backup: its key file: ", err, "seal: ")
	case kf.DEK == nil:
		return nil, badBackup("its key file holds no data key")
	}
	mat, err := newTLSMaterial(caPEM, certPEM, kf.KeyPEM)
	if err != nil {
		return nil, badBackup("its certificates: %w", err)
	}
	if err := mat.cert.Leaf.CheckSignatureFrom(mat.ca); err != nil {
		return nil, badBackup("the node certificate is not signed by the backup's CA: %w", err)
	}
	// Checked as of a moment of its own life, not now: a backup outlives
	// the certificate in it (renewed at 50-80 % of its life); the restored
	// manager gets a new one below.
	leaf := mat.cert.Leaf
	midLife := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: poolOf(mat.ca), CurrentTime: midLife,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, badBackup("the node certificate cannot be used: %w", err)
	}
	if mat.id.NodeID != id.NodeID || mat.id.ClusterID != id.ClusterID || !mat.id.IsManager() {
		return nil, badBackup("the node certificate is for node %s (%s) of swarm %s, not manager %s of swarm %s",
			mat.id.NodeID, mat.id.Role, mat.id.ClusterID, id.NodeID, id.ClusterID)
	}
	info, st, err := consensus.LoadSnapshot(filepath.Join(staging, "raft"), seal.NewKeyring(*kf.DEK, kf.PreviousDEK))
	if err != nil {
		return nil, badBackup("its Raft snapshot: %w", err)
	}
	v := st.View()
	c := v.Cluster()
	switch {
	case info.Index != m.RaftIndex:
		return nil, badBackup("its snapshot is at Raft index %d, the manifest says %d", info.Index, m.RaftIndex)
	case c == nil || c.ID != id.ClusterID:
		return nil, badBackup("its snapshot is not of swarm %s", id.ClusterID)
	case v.Node(id.NodeID) == nil:
		return nil, badBackup("its snapshot does not know node %s", id.NodeID)
	case v.Node(id.NodeID).Role != types.RoleManager:
		return nil, badBackup("its snapshot has node %s as a worker (taken while it was being demoted?): "+
			"restore a backup of a manager", id.NodeID)
	case !bytes.Equal(pemDER(c.RootCA.CertPEM), mat.ca.Raw):
		return nil, badBackup("its CA certificate is not the CA of the swarm in its snapshot")
	case !bytes.Equal(id.GossipKey, c.GossipKey):
		return nil, badBackup("its %s holds another gossip key than the swarm in its snapshot", identityFile)
	}
	out.snap = info
	if err := restoreAddrs(id, req); err != nil {
		return nil, err
	}
	if err := renewRestoredCert(staging, c, id, kf.KeyPEM); err != nil {
		return nil, err
	}
	out.id = id
	return out, nil
}

// renewRestoredCert gives the restored manager a new certificate for its
// own key from the swarm's CA in the snapshot, as swarm init does for the
// first manager: the one in the backup may have expired, and a manager
// renews its certificate through a manager, which it is alone to be.
func renewRestoredCert(staging string, c *types.Cluster, id *identity, keyPEM []byte) error {
	ca, err := pki.LoadCA(c.RootCA.CertPEM, c.RootCA.KeyPEM)
	if err != nil {
		return badBackup("the swarm's CA in its snapshot: %w", err)
	}
	csr, err := pki.CSRFor(keyPEM, id.NodeID)
	if err != nil {
		return badBackup("the node key: %w", err)
	}
	certPEM, err := ca.SignCSR(csr, id.NodeID, pki.RoleManager, id.ClusterID, ipsOf(id.AdvertiseAddr), time.Now(), c.CertExpiry)
	if err != nil {
		return fmt.Errorf("restore: a new certificate for this manager: %w", err)
	}
	return pki.WriteFileAtomic(filepath.Join(staging, filepath.FromSlash(backupCertName)), certPEM, 0o644)
}

func poolOf(ca *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca)
	return p
}

// restoreAddrs gives the restored identity its addresses: the backup's,
// unless the request names others (then as `swarm init` resolves them);
// the node is the only manager it knows.
func restoreAddrs(id *identity, req api.RestoreRequest) error {
	listen, adv := req.ListenAddr, req.AdvertiseAddr
	if listen == "" {
		listen = id.ListenAddr
	}
	if adv == "" && req.ListenAddr == "" {
		adv = id.AdvertiseAddr
	}
	listen, adv, err := resolveAddrs(listen, adv)
	if err != nil {
		return store.Errorf(api.ErrBadRequest, "%w", err)
	}
	id.ListenAddr, id.AdvertiseAddr, id.Managers = listen, adv, []string{adv}
	return nil
}

// installBackup moves the checked files into the data dir: the
// certificates and the Raft snapshot (node.json is written once the
// restored manager runs). Whatever a failed swarm left there goes first.
func (d *Daemon) installBackup(staging string) error {
	d.keys.Reset()
	certs, raftDir := filepath.Join(d.cfg.DataDir, certDir), d.raftDir()
	for _, p := range []string{certs, raftDir} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(staging, filepath.FromSlash(backupCAName)), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(staging, filepath.FromSlash(backupCertName)), 0o644); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(staging, certDir), certs); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(staging, "raft"), raftDir); err != nil {
		return err
	}
	syncDir(d.cfg.DataDir)
	return nil
}

// syncDir makes renames in dir durable.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
}
