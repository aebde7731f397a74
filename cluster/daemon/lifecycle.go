package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"sw/cluster/api"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Init makes this node the single manager of a new swarm: a new CA (or
// the one given), join tokens, a gossip key, and Raft with one voter.
// With ForceNewCluster it instead restarts this manager's existing state
// as a cluster of one.
func (d *Daemon) Init(ctx context.Context, req api.InitRequest) (api.InitResponse, error) {
	// One change of swarm membership at a time (init, join, leave,
	// restore, a role switch).
	d.roleMu.Lock()
	defer d.roleMu.Unlock()
	if req.ForceNewCluster {
		return d.forceNewCluster(ctx, req)
	}
	if err := d.lockedErr(); err != nil {
		return api.InitResponse{}, err
	}
	if d.active() != nil {
		return api.InitResponse{}, store.Errorf(api.ErrBadRequest, "%w", errInSwarm)
	}
	listen, adv, err := resolveAddrs(req.ListenAddr, req.AdvertiseAddr)
	if err != nil {
		return api.InitResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	expiry, err := certExpiry(req.CertExpiry)
	if err != nil {
		return api.InitResponse{}, err
	}
	plugins, err := d.plugins().Initial(req.Plugins, req.NoPlugins)
	if err != nil {
		return api.InitResponse{}, err
	}
	ca, err := newCA(req)
	if err != nil {
		return api.InitResponse{}, err
	}
	if err := checkNetworking(req); err != nil {
		return api.InitResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	gossip := make([]byte, 32)
	if _, err := rand.Read(gossip); err != nil {
		return api.InitResponse{}, err
	}
	id := &identity{NodeID: types.NewID(), ClusterID: types.NewID(), Role: string(types.RoleManager),
		AdvertiseAddr: adv, ListenAddr: listen, GossipKey: gossip, Managers: []string{adv}, DataPathAddr: req.DataPathAddr}
	history := types.DefaultTaskHistoryLimit
	if req.TaskHistoryLimit != 0 {
		if err := api.CheckTaskHistoryLimit(req.TaskHistoryLimit); err != nil {
			return api.InitResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
		}
		history = req.TaskHistoryLimit
	}
	cluster := &types.Cluster{ID: id.ClusterID, TaskHistoryLimit: history, CertExpiry: expiry,
		RootCA: types.RootCA{CertPEM: ca.CertPEM, KeyPEM: ca.KeyPEM}, GossipKey: gossip, Plugins: plugins,
		DefaultAddrPool: req.DefaultAddrPool, SubnetSize: req.SubnetSize, DataPathPort: req.DataPathPort}
	if cluster.JoinTokens, err = newTokens(ca); err != nil {
		return api.InitResponse{}, err
	}
	if err := d.locker().KeepUnlockKey(cluster); err != nil {
		return api.InitResponse{}, err
	}
	if len(cluster.UnlockKey) > 0 {
		if err := d.keys.SealFromStart(cluster.UnlockKey); err != nil {
			return api.InitResponse{}, err
		}
	}
	if err := d.issueOwnCert(ca, id, expiry); err != nil {
		d.keys.Reset()
		return api.InitResponse{}, err
	}
	_ = os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
	sw, err := d.startSwarm(ctx, id, startOptions{bootstrap: true})
	if err != nil {
		_ = d.forget()
		return api.InitResponse{}, err
	}
	if err := d.bootstrapState(ctx, sw, cluster); err != nil {
		d.abandon(sw)
		return api.InitResponse{}, err
	}
	if err := saveIdentity(d.cfg.DataDir, id); err != nil {
		d.abandon(sw)
		return api.InitResponse{}, err
	}
	return api.InitResponse{NodeID: id.NodeID, ClusterID: id.ClusterID, AdvertiseAddr: adv,
		WorkerToken: cluster.JoinTokens.Worker}, nil
}

func certExpiry(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return pki.DefaultCertExpiry, nil
	case d < pki.MinCertExpiry:
		return 0, store.Errorf(api.ErrBadRequest, "invalid certificate expiry %s: the minimum is %s", d, pki.MinCertExpiry)
	}
	return d, nil
}

func newCA(req api.InitRequest) (*pki.CA, error) {
	if len(req.CACertPEM) > 0 || len(req.CAKeyPEM) > 0 {
		ca, err := pki.LoadCA(req.CACertPEM, req.CAKeyPEM)
		if err != nil {
			return nil, store.Errorf(api.ErrBadRequest, "--ca-cert/--ca-key: %w", err)
		}
		return ca, nil
	}
	return pki.NewRootCA(time.Now())
}

func newTokens(ca *pki.CA) (types.JoinTokens, error) {
	w, err := pki.NewJoinToken(ca.Cert.Raw)
	if err != nil {
		return types.JoinTokens{}, err
	}
	m, err := pki.NewJoinToken(ca.Cert.Raw)
	return types.JoinTokens{Worker: w, Manager: m}, err
}

// issueOwnCert gives the first manager its certificate, signed locally.
func (d *Daemon) issueOwnCert(ca *pki.CA, id *identity, expiry time.Duration) error {
	keyPEM, csrPEM, err := pki.NewKeyAndCSR(id.NodeID)
	if err != nil {
		return err
	}
	certPEM, err := ca.SignCSR(csrPEM, id.NodeID, id.Role, id.ClusterID, ipsOf(id.AdvertiseAddr), time.Now(), expiry)
	if err != nil {
		return err
	}
	m, err := newTLSMaterial(ca.CertPEM, certPEM, keyPEM)
	if err != nil {
		return err
	}
	return m.save(d.keys)
}

// bootstrapState waits for this single voter to lead, then writes the
// cluster and this node.
func (d *Daemon) bootstrapState(ctx context.Context, sw *swarm, c *types.Cluster) error {
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for !sw.raft.IsLeader() {
		select {
		case <-wctx.Done():
			return errors.New("swarm init: this node did not become the Raft leader in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
	n := d.nodeRecord(sw.id)
	return sw.raft.Propose(wctx, &store.Command{Changes: []store.Change{{PutCluster: c}, {PutNode: n}}})
}

// abandon stops a swarm that failed to start and forgets it.
func (d *Daemon) abandon(sw *swarm) {
	d.mu.Lock()
	d.swarm = nil
	d.mu.Unlock()
	sw.stop()
	_ = d.forget()
}

// Join makes this node part of the swarm a manager at req.RemoteAddr
// belongs to, as the token says: worker or manager.
func (d *Daemon) Join(ctx context.Context, req api.JoinRequest) (api.JoinResponse, error) {
	// One change of swarm membership at a time (init, join, leave,
	// restore, a role switch).
	d.roleMu.Lock()
	defer d.roleMu.Unlock()
	if err := d.lockedErr(); err != nil {
		return api.JoinResponse{}, err
	}
	if d.active() != nil {
		return api.JoinResponse{}, store.Errorf(api.ErrBadRequest, "%w", errInSwarm)
	}
	tok, err := pki.ParseJoinToken(req.Token)
	if err != nil {
		return api.JoinResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	listen, adv, err := resolveAddrs(req.ListenAddr, req.AdvertiseAddr)
	if err != nil {
		return api.JoinResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	remote, err := remoteAddr(req.RemoteAddr)
	if err != nil {
		return api.JoinResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	if err := checkDataPathAddr(req.DataPathAddr); err != nil {
		return api.JoinResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	keyPEM, csrPEM, err := pki.NewKeyAndCSR("joining")
	if err != nil {
		return api.JoinResponse{}, err
	}
	goos, arch := platform()
	var resp peer.JoinResponse
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = peer.JoinClient(pki.JoinTLS(tok)).Do(jctx, remote, http.MethodPost, peer.PathJoin, nil, peer.JoinRequest{
		Token: req.Token, CSR: csrPEM, Hostname: d.cfg.Hostname, AdvertiseAddr: adv,
		EngineVersion: d.engine, OS: goos, Arch: arch, DataPathAddr: req.DataPathAddr, EngineID: d.engineID,
		Resources: d.resources}, &resp)
	if err != nil {
		return api.JoinResponse{}, joinError(remote, err)
	}
	if !tok.MatchesCA(pemDER(resp.CAPEM)) {
		return api.JoinResponse{}, store.Errorf(api.ErrBadRequest, "the manager's CA does not match the join token")
	}
	mat, err := newTLSMaterial(resp.CAPEM, resp.CertPEM, keyPEM)
	if err != nil {
		return api.JoinResponse{}, err
	}
	id := &identity{NodeID: resp.NodeID, ClusterID: resp.ClusterID, Role: resp.Role, AdvertiseAddr: adv,
		ListenAddr: listen, GossipKey: resp.GossipKey, Managers: resp.Managers, DataPathAddr: req.DataPathAddr}
	if err := mat.save(d.keys); err != nil {
		return api.JoinResponse{}, err
	}
	if err := d.enter(ctx, id); err != nil {
		_ = d.forget()
		return api.JoinResponse{}, err
	}
	return api.JoinResponse{NodeID: id.NodeID, Role: id.Role}, nil
}

// enter starts this node's part in a swarm it was admitted to and saves
// its identity once it works.
func (d *Daemon) enter(ctx context.Context, id *identity) error {
	_ = os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
	sw, err := d.startSwarm(ctx, id, startOptions{})
	if err != nil {
		return err
	}
	if id.isManager() {
		if err := d.joinRaft(ctx, sw); err != nil {
			d.abandon(sw)
			return err
		}
	}
	return saveIdentity(d.cfg.DataDir, id)
}

// joinRaft asks the leader to make this manager a voter, then waits until
// its store has caught up.
func (d *Daemon) joinRaft(ctx context.Context, sw *swarm) error {
	req := peer.RaftJoinRequest{NodeID: sw.id.NodeID, Addr: sw.id.AdvertiseAddr}
	var err error
	for _, m := range sw.id.Managers {
		if m == sw.id.AdvertiseAddr {
			// Itself (the list names every manager, this one too): its Raft
			// knows no leader until it is a member, so asking it would only
			// wait out the timeout.
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = sw.peers.Do(cctx, m, http.MethodPost, peer.PathRaftJoin, nil, req, nil)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("joining the managers' Raft: %w", err)
	}
	select {
	case <-sw.ready:
		return nil
	case <-time.After(15 * time.Second):
		return errors.New("joined, but this manager did not catch up with the swarm's state in time")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func joinError(remote string, err error) error {
	var pe *peer.Error
	if errors.As(err, &pe) {
		return store.Errorf(api.ErrBadRequest, "%s", pe.Message)
	}
	if errors.Is(err, pki.ErrCAMismatch) {
		return store.Errorf(api.ErrBadRequest, "the manager at %s is not part of the swarm this token is for: its CA does not match the join token", remote)
	}
	return store.Errorf(api.ErrUnavailable, "cannot reach the manager at %s: %w", remote, err)
}

// Leave takes the node out of the swarm: its task containers are removed
// and its swarm state erased. A manager needs force.
func (d *Daemon) Leave(ctx context.Context, force bool) error {
	// One change of swarm membership at a time (init, join, leave,
	// restore, a role switch).
	d.roleMu.Lock()
	defer d.roleMu.Unlock()
	sw := d.active()
	if sw == nil && d.lockedID() != nil {
		return d.leaveLocked(ctx, force)
	}
	if sw == nil {
		return store.Errorf(api.ErrBadRequest, "this node is not part of a swarm")
	}
	if sw.id.isManager() && !force {
		return store.Errorf(api.ErrBadRequest, "%s", leaveWarning(sw))
	}
	if sw.id.isManager() && sw.raft != nil {
		d.leaveRaft(ctx, sw)
	}
	d.mu.Lock()
	d.swarm = nil
	d.mu.Unlock()
	sw.stop()
	if cs, err := d.exec.List(ctx); err == nil {
		for _, c := range cs {
			_ = d.exec.Remove(ctx, c.ID)
		}
	}
	d.removeSwarmNetworks(ctx, sw.id.ClusterID)
	return d.forget()
}

func leaveWarning(sw *swarm) string {
	managers := 0
	if sw.store != nil {
		for _, n := range sw.store.View().Nodes() {
			if n.Role == types.RoleManager {
				managers++
			}
		}
	}
	if managers <= 1 {
		return "you are attempting to leave the swarm on a node that is participating as a manager. " +
			"Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message"
	}
	return fmt.Sprintf("you are attempting to leave the swarm on a node that is participating as a manager. "+
		"Removing this node leaves %d managers out of %d: without a majority of them the swarm loses quorum "+
		"and cannot be changed. Demote it first with 'sw node demote', or use `--force` to ignore this message", managers-1, managers)
}

// leaveRaft asks that this manager stop being a voter, so the others keep
// their quorum arithmetic right.
func (d *Daemon) leaveRaft(ctx context.Context, sw *swarm) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.removeVoter(cctx, sw, sw.id.NodeID); err != nil {
		d.log.Warn("leaving Raft failed; the other managers will see this one as unreachable", "err", err)
	}
}

// checkNetworking checks init's address pool, subnet size, data path port
// and address, as Docker does.
func checkNetworking(req api.InitRequest) error {
	for _, p := range req.DefaultAddrPool {
		pre, err := netip.ParsePrefix(p)
		if err != nil || !pre.Addr().Is4() {
			return fmt.Errorf("invalid default address pool %q: want an IPv4 CIDR such as 10.10.0.0/16", p)
		}
		if pre.Masked() != pre {
			return fmt.Errorf("invalid default address pool %q: host bits set (did you mean %s?)", p, pre.Masked())
		}
		if req.SubnetSize != 0 && req.SubnetSize < pre.Bits() {
			return fmt.Errorf("invalid default address pool mask length %d: shorter than pool %s", req.SubnetSize, p)
		}
	}
	if req.SubnetSize != 0 && (req.SubnetSize < 8 || req.SubnetSize > 29) {
		return fmt.Errorf("invalid default address pool mask length %d: want 8 to 29", req.SubnetSize)
	}
	if req.DataPathPort != 0 && (req.DataPathPort < 1024 || req.DataPathPort > 49151) {
		return fmt.Errorf("invalid data path port %d: want 1024 to 49151", req.DataPathPort)
	}
	return checkDataPathAddr(req.DataPathAddr)
}

// checkDataPathAddr checks a node's overlay address: an IPv4 address.
func checkDataPathAddr(a string) error {
	if a == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() || ip.IsUnspecified() {
		return fmt.Errorf("invalid data path address %q: want this node's IPv4 address", a)
	}
	return nil
}
