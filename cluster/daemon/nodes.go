package daemon

import (
	"context"
	"fmt"

	"sw/cluster/api"
	"sw/cluster/spec"
	"sw/cluster/store"
	"sw/cluster/types"
)

// UpdateNode changes a node's availability or role. Demoting the last
// manager is refused; a change that leaves an even number of managers, or
// more than seven, comes back with a warning.
func (d *Daemon) UpdateNode(ctx context.Context, ref string, req api.NodeUpdateRequest) (api.NodeUpdateResponse, error) {
	sw, err := d.current()
	if err != nil {
		return api.NodeUpdateResponse{}, err
	}
	view := sw.store.View()
	n, err := view.FindNode(ref)
	if err != nil {
		return api.NodeUpdateResponse{}, err
	}
	u := &store.NodeUpdate{NodeID: n.ID}
	if req.Availability != "" {
		a, err := types.ParseAvailability(req.Availability)
		if err != nil {
			return api.NodeUpdateResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
		}
		u.Availability = &a
	}
	var warning string
	if req.Role != "" {
		role := types.NodeRole(req.Role)
		if role != types.RoleManager && role != types.RoleWorker {
			return api.NodeUpdateResponse{}, store.Errorf(api.ErrBadRequest, "invalid role %q: want manager or worker", req.Role)
		}
		managers := countManagers(view)
		switch {
		case role == n.Role:
		case role == types.RoleWorker && managers <= 1:
			return api.NodeUpdateResponse{}, store.Errorf(api.ErrBadRequest,
				"attempting to demote the last manager of the swarm: promote another node first")
		case role == types.RoleWorker:
			managers--
		default:
			managers++
		}
		warning = managerCountWarning(managers)
		u.Role = &role
	}
	if len(req.LabelAdd)+len(req.LabelRm) > 0 {
		labels, err := editLabels(n.Labels, req.LabelAdd, req.LabelRm)
		if err != nil {
			return api.NodeUpdateResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
		}
		u.Labels, u.SetLabels = labels, true
	}
	if err := d.plugins().RefuseNodeUpdate(view, u); err != nil {
		return api.NodeUpdateResponse{}, store.Errorf(api.ErrBadRequest, "%w", err)
	}
	if err := d.propose(ctx, sw, store.Change{UpdateNode: u}); err != nil {
		return api.NodeUpdateResponse{}, err
	}
	return api.NodeUpdateResponse{Warning: warning}, nil
}

// editLabels returns a node's labels with rm removed, then add set, as
// Docker's node update: removing a label the node lacks is an error.
func editLabels(old, add map[string]string, rm []string) (map[string]string, error) {
	out := make(map[string]string, len(old)+len(add))
	for k, v := range old {
		out[k] = v
	}
	for _, k := range rm {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("key %s doesn't exist in node's labels", k)
		}
		delete(out, k)
	}
	for k, v := range add {
		switch {
		case k == "":
			return nil, fmt.Errorf("invalid label %q: the key is empty", "="+v)
		case len(k) > spec.MaxLabelKeyLen:
			return nil, fmt.Errorf("invalid label key: %d bytes long, the limit is %d", len(k), spec.MaxLabelKeyLen)
		case len(v) > spec.MaxLabelValueLen:
			return nil, fmt.Errorf("invalid value of label %s: %d bytes long, the limit is %d", k, len(v), spec.MaxLabelValueLen)
		}
		out[k] = v
	}
	if len(out) > spec.MaxLabels {
		return nil, fmt.Errorf("too many node labels: %d, the limit is %d", len(out), spec.MaxLabels)
	}
	return out, nil
}

func countManagers(view *store.ReadTx) int {
	k := 0
	for _, n := range view.Nodes() {
		if n.Role == types.RoleManager {
			k++
		}
	}
	return k
}

// managerCountWarning is Docker's advice on manager counts.
func managerCountWarning(managers int) string {
	switch {
	case managers > 7:
		return fmt.Sprintf("the swarm will have %d managers: more than 7 slows Raft down without adding useful fault tolerance", managers)
	case managers%2 == 0:
		return fmt.Sprintf("the swarm will have %d managers, an even number: it survives the loss of only %d of them, "+
			"no more than with %d managers; prefer an odd number", managers, (managers-1)/2, managers-1)
	}
	return ""
}

// RemoveNode deletes a node from the swarm; it is refused from then on.
// Managers must be demoted first, and a node that is not down needs force.
func (d *Daemon) RemoveNode(ctx context.Context, ref string, force bool) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	view := sw.store.View()
	n, err := view.FindNode(ref)
	if err != nil {
		return err
	}
	if n.Role == types.RoleManager {
		return store.Errorf(api.ErrBadRequest, "node %s is a cluster manager and is a member of the raft cluster. "+
			"It must be demoted to worker before removal", n.ID)
	}
	if n.State != types.NodeDown && !force {
		return store.Errorf(api.ErrBadRequest, "node %s is not down and can't be removed; use --force to remove it anyway", n.ID)
	}
	c := view.Cluster()
	if c == nil {
		return store.Errorf(api.ErrUnavailable, "the swarm's state is not initialised yet")
	}
	next := *c
	if !c.Removed(n.ID) {
		next.RemovedNodes = append(append([]string{}, c.RemovedNodes...), n.ID)
	}
	return d.propose(ctx, sw, store.Change{DeleteNode: n.ID}, store.Change{PutCluster: &next})
}
