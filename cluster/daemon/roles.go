package daemon

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"sw/cluster/backoff"
	"sw/cluster/consensus"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/types"
)

// watchOwnRole (managers) follows this node's record in the store and
// switches the node to worker when it has been demoted.
func (d *Daemon) watchOwnRole(ctx context.Context, sw *swarm) {
	for {
		changed := sw.store.Changed()
		if n := sw.store.View().Node(sw.id.NodeID); n != nil && n.Role == types.RoleWorker {
			d.leaveVoters(ctx, sw)
			d.requestRole(sw, types.RoleWorker)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// leaveVoters waits until this demoted manager is out of the Raft
// configuration (the leader takes it out; a leader takes itself out), so
// that stopping its Raft never costs the others their quorum.
func (d *Daemon) leaveVoters(ctx context.Context, sw *swarm) {
	deadline := time.Now().Add(30 * time.Second)
	poll := backoff.Backoff{Initial: 200 * time.Millisecond, Jitter: backoff.Equal}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		servers, err := sw.raft.Servers()
		if err != nil || !hasServer(servers, sw.id.NodeID) {
			return // out of the configuration, or Raft shut down on removal
		}
		if sw.raft.IsLeader() {
			if err := sw.raft.RemoveServer(ctx, sw.id.NodeID); err != nil {
				d.log.Warn("leaving the voters failed; retrying", "err", err)
			}
		}
		if poll.Wait(ctx) != nil {
			return
		}
	}
}

func hasServer(servers []consensus.Server, id string) bool {
	for _, s := range servers {
		if s.ID == id {
			return true
		}
	}
	return false
}

// roleRequest asks that this node, in swarm sw, take role.
type roleRequest struct {
	sw   *swarm
	role types.NodeRole
}

// roleRequests is the role loop's inbox: one request, the latest.
func (d *Daemon) roleRequests() chan roleRequest {
	d.roleOnce.Do(func() { d.roleReq = make(chan roleRequest, 1) })
	return d.roleReq
}

// requestRole asks the role loop (roleLoop) to move this node, in swarm
// sw, to role. It never blocks: a request the loop has not taken yet is
// replaced, the latest wins. Asking again while a switch is under way is
// harmless: once it is done, the node is in another swarm and the request
// is dropped.
func (d *Daemon) requestRole(sw *swarm, role types.NodeRole) {
	ch := d.roleRequests()
	req := roleRequest{sw: sw, role: role}
	for {
		select {
		case ch <- req:
			return
		default:
		}
		select {
		case <-ch: // an older request, not taken yet: this one replaces it
		default:
		}
	}
}

// roleLoop carries out the role requests, one at a time, until ctx ends.
// Run owns it and waits for it: a switch under way when the daemon stops
// either gives up (still waiting for its certificate) or is finished, so
// that the swarm Run then stops is the one the node is in.
func (d *Daemon) roleLoop(ctx context.Context) {
	ch := d.roleRequests()
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-ch:
			d.switchRole(ctx, req.sw, req.role)
		}
	}
}

// roleSwitchTimeout bounds a role switch, from asking for the certificate
// to running in the new role.
const roleSwitchTimeout = 30 * time.Second

// switchRole moves this node to a new role: a certificate for it, then the
// runtime of that role in place of the current one. Tasks keep running:
// the new agent adopts their containers. Nothing is done if the node is
// no longer in sw, or has the role already. ctx ending stops the wait for
// the certificate; once the old runtime is stopped, the switch is carried
// to its end (up to roleSwitchTimeout) regardless.
func (d *Daemon) switchRole(ctx context.Context, sw *swarm, role types.NodeRole) {
	d.roleMu.Lock()
	defer d.roleMu.Unlock()
	if d.active() != sw || sw.id.Role == string(role) {
		return // done already (an older request), or the node left
	}
	deadline := time.Now().Add(roleSwitchTimeout)
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var mat *tlsMaterial
	var err error
	retry := backoff.Backoff{Initial: 200 * time.Millisecond, Jitter: backoff.Equal}
	for mat == nil || mat.id.Role != pkiRole(role) {
		if mat, err = d.renew(rctx, sw); err != nil {
			d.log.Warn("role change: no new certificate yet", "role", role, "err", err)
		}
		select {
		case <-rctx.Done():
			if ctx.Err() != nil {
				d.log.Info("role change abandoned: the daemon is stopping", "role", role)
				return
			}
			d.log.Error("role change abandoned: no certificate for the new role", "role", role)
			return
		case <-retry.After(retry.Next()):
		}
	}
	ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	d.mu.Lock()
	if d.swarm != sw {
		d.mu.Unlock()
		return
	}
	d.swarm = nil
	d.mu.Unlock()
	managers := d.knownManagers(sw)
	sw.stop()
	if err := mat.save(d.keys); err != nil {
		d.log.Error("role change: saving the certificate failed", "err", err)
	}
	id := *sw.id
	id.Role, id.Managers = string(role), managers
	if role == types.RoleWorker {
		_ = os.RemoveAll(filepath.Join(d.cfg.DataDir, "raft"))
	}
	if err := d.enter(ctx, &id); err != nil {
		d.log.Error("role change failed; restart the daemon to retry", "role", role, "err", err)
		return
	}
	d.log.Info("this node changed role", "role", role)
}

func pkiRole(r types.NodeRole) string {
	if r == types.RoleManager {
		return pki.RoleManager
	}
	return pki.RoleWorker
}

// knownManagers lists the managers other than this node, for a node that
// is about to change role.
func (d *Daemon) knownManagers(sw *swarm) []string {
	var list []string
	if sw.remote != nil {
		list = sw.remote.Managers()
	} else {
		list = d.managerAddrs(sw)
	}
	var out []string
	for _, m := range list {
		if m != sw.id.AdvertiseAddr {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return list
	}
	return out
}

// renew gets a new certificate from a manager, for whatever role the
// swarm now gives this node.
func (d *Daemon) renew(ctx context.Context, sw *swarm) (*tlsMaterial, error) {
	keyPEM, csrPEM, err := pki.NewKeyAndCSR(sw.id.NodeID)
	if err != nil {
		return nil, err
	}
	var resp peer.RenewResponse
	err = errors.New("no manager known")
	for _, m := range d.knownManagers(sw) {
		if err = sw.peers.Do(ctx, m, http.MethodPost, peer.PathRenew, nil, peer.RenewRequest{CSR: csrPEM}, &resp); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	cur := sw.tls.Load()
	return newTLSMaterial(cur.caPEM, resp.CertPEM, keyPEM)
}

// certLoop renews the node's certificate at a random point between 50 %
// and 80 % of its life, as swarmkit does.
func (d *Daemon) certLoop(ctx context.Context, sw *swarm) {
	retry := backoff.Backoff{Initial: time.Minute, Jitter: backoff.Equal}
	for {
		at := pki.RenewAt(sw.tls.Load().cert.Leaf, nil)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		mat, err := d.renew(ctx, sw)
		if err != nil {
			wait := retry.Next()
			d.log.Warn("certificate renewal failed; retrying", "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-retry.After(wait):
			}
			continue
		}
		retry.Reset()
		if err := mat.save(d.keys); err != nil {
			d.log.Warn("saving the renewed certificate failed", "err", err)
		}
		sw.tls.Store(mat)
		sw.peers.CloseIdle()
		d.log.Info("node certificate renewed", "expires", mat.id.NotAfter)
	}
}

// reconcileVoters (leader only) takes out of Raft the voters the store no
// longer calls managers (demoted or removed nodes).
func (d *Daemon) reconcileVoters(ctx context.Context, sw *swarm) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		servers, err := sw.raft.Servers()
		if err == nil {
			view := sw.store.View()
			for _, s := range servers {
				if n := view.Node(s.ID); n == nil || n.Role != types.RoleManager {
					if err := sw.raft.RemoveServer(ctx, s.ID); err != nil && ctx.Err() == nil {
						d.log.Warn("removing a demoted manager from Raft failed", "node", s.ID, "err", err)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
