package daemon

import (
	"context"
	"errors"
	"time"

	"sw/cluster/api"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

// forceNewCluster restarts this manager's Raft with itself as the only
// voter, keeping the state: recovery after quorum is lost for good.
func (d *Daemon) forceNewCluster(ctx context.Context, req api.InitRequest) (api.InitResponse, error) {
	id, err := loadIdentity(d.cfg.DataDir)
	if err != nil {
		return api.InitResponse{}, err
	}
	if id == nil || !id.isManager() {
		return api.InitResponse{}, store.Errorf(api.ErrBadRequest,
			"--force-new-cluster recovers a manager of an existing swarm; this node has no manager state (use 'sw swarm init' to start a new swarm)")
	}
	if sw := d.active(); sw != nil {
		d.mu.Lock()
		d.swarm = nil
		d.mu.Unlock()
		sw.stop()
	}
	id.Managers = []string{id.AdvertiseAddr}
	sw, err := d.startSwarm(ctx, id, startOptions{forceNewCluster: true, resume: true})
	if err != nil {
		return api.InitResponse{}, d.unusableState(id, err)
	}
	select {
	case <-sw.ready:
	case <-time.After(15 * time.Second):
		return api.InitResponse{}, errors.New("force-new-cluster: this manager did not take the lead in time")
	}
	if err := saveIdentity(d.cfg.DataDir, id); err != nil {
		return api.InitResponse{}, err
	}
	return api.InitResponse{NodeID: id.NodeID, ClusterID: id.ClusterID, AdvertiseAddr: id.AdvertiseAddr}, nil
}

// SwarmInfo describes the swarm for `sw swarm inspect` and `join-token`.
func (d *Daemon) SwarmInfo(ctx context.Context) (api.Swarm, error) {
	sw, err := d.current()
	if err != nil {
		return api.Swarm{}, err
	}
	c := sw.store.View().Cluster()
	if c == nil {
		return api.Swarm{}, store.Errorf(api.ErrUnavailable, "the swarm's state is not initialised yet")
	}
	limit := c.TaskHistoryLimit
	if limit <= 0 {
		limit = types.DefaultTaskHistoryLimit
	}
	return api.Swarm{ID: c.ID, CreatedAt: c.CreatedAt, CertExpiry: c.CertExpiry, JoinTokens: c.JoinTokens,
		CACert: string(c.RootCA.CertPEM), TaskHistoryLimit: limit, ManagerAddr: sw.id.AdvertiseAddr}, nil
}

// UpdateSwarm changes the certificate expiry or rotates join tokens.
func (d *Daemon) UpdateSwarm(ctx context.Context, req api.SwarmUpdateRequest) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	old := sw.store.View().Cluster()
	if old == nil {
		return store.Errorf(api.ErrUnavailable, "the swarm's state is not initialised yet")
	}
	c := *old
	if req.TaskHistoryLimit != 0 {
		if err := api.CheckTaskHistoryLimit(req.TaskHistoryLimit); err != nil {
			return store.Errorf(api.ErrBadRequest, "%w", err)
		}
		c.TaskHistoryLimit = req.TaskHistoryLimit
	}
	if req.CertExpiry != 0 {
		if c.CertExpiry, err = certExpiry(req.CertExpiry); err != nil {
			return err
		}
	}
	caCert, err := pki.ParseCertificatePEM(c.RootCA.CertPEM)
	if err != nil {
		return err
	}
	if req.RotateWorker {
		if c.JoinTokens.Worker, err = pki.NewJoinToken(caCert.Raw); err != nil {
			return err
		}
	}
	if req.RotateManager {
		if c.JoinTokens.Manager, err = pki.NewJoinToken(caCert.Raw); err != nil {
			return err
		}
	}
	if req.RotateUnlockKey {
		if err := d.locker().RotateUnlockKey(&c); err != nil {
			return err
		}
	}
	if err := d.locker().KeepUnlockKey(&c); err != nil {
		return err
	}
	return d.propose(ctx, sw, store.Change{PutCluster: &c})
}
