package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"sw/cluster/api"
	"sw/cluster/backoff"
	"sw/cluster/spec"
	"sw/cluster/store"
	"sw/cluster/types"
)

// validate runs the core rules, then every plugin's validator, in order.
func (d *Daemon) validate(view *store.ReadTx, s *types.ServiceSpec, old *types.Service) error {
	spec.Defaults(s)
	if err := d.plugins().MutateService(view, s, old); err != nil {
		return store.Errorf(api.ErrBadRequest, "%w", err)
	}
	if err := spec.Validate(s); err != nil {
		return store.Errorf(api.ErrBadRequest, "%w", err)
	}
	if err := d.plugins().ValidateService(view, s, old); err != nil {
		return store.Errorf(api.ErrBadRequest, "%w", err)
	}
	return nil
}

// CreateService validates and commits a new service. When another create
// took the address (virtual IP, picked port) it was given in the meantime,
// it validates again, which picks another, a few times.
func (d *Daemon) CreateService(ctx context.Context, s types.ServiceSpec) (string, error) {
	sw, err := d.current()
	if err != nil {
		return "", err
	}
	retry := backoff.Backoff{Initial: time.Second, Jitter: backoff.Equal}
	for attempt := 1; ; attempt++ {
		spec := s
		spec.Ports = slices.Clone(s.Ports) // mutators pick ports in place
		changed := sw.store.Changed()
		view := sw.store.View()
		if view.ServiceByName(spec.Name) != nil {
			return "", store.Errorf(store.ErrNameInUse, "service %q already exists", spec.Name)
		}
		if spec.Networks, err = resolveNetworks(view, s.Networks); err != nil {
			return "", err
		}
		if err := d.validate(view, &spec, nil); err != nil {
			return "", err
		}
		svc := &types.Service{ID: types.NewID(), Spec: spec}
		err := d.propose(ctx, sw, store.Change{CreateService: svc})
		if err == nil {
			return svc.ID, nil
		}
		if !errors.Is(err, store.ErrAddrInUse) || attempt == 3 {
			return "", err
		}
		// The create that took the address is committed; on a follower
		// it may not be applied here yet: wait for the next commit.
		select {
		case <-changed:
		case <-retry.After(retry.Next()):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// UpdateService replaces a service's spec if version is still current.
// A change to what tasks run bumps the spec version, which rolls tasks.
func (d *Daemon) UpdateService(ctx context.Context, id string, version uint64, s types.ServiceSpec) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	view := sw.store.View()
	old := view.Service(id)
	if old == nil {
		return &store.NotFoundError{Kind: "service", Ref: id}
	}
	if old.Version != version {
		return store.Errorf(store.ErrConflict, "service %s was changed concurrently; retry", old.Spec.Name)
	}
	if s.Name != old.Spec.Name {
		return store.Errorf(api.ErrBadRequest, "renaming a service is not supported")
	}
	if old.Spec.Mode != s.Mode {
		return store.Errorf(api.ErrBadRequest, "the mode of a service cannot be changed")
	}
	if s.Networks, err = resolveNetworks(view, s.Networks); err != nil {
		return err
	}
	if err := d.validate(view, &s, old); err != nil {
		return err
	}
	next := *old
	next.Spec = s
	if !reflect.DeepEqual(old.Spec.Container, s.Container) || !reflect.DeepEqual(old.Spec.Ports, s.Ports) ||
		!samePlacement(&old.Spec.Placement, &s.Placement) || !sameNetworks(old.Spec.Networks, s.Networks) ||
		old.Spec.ForceUpdate != s.ForceUpdate {
		next.SpecVersion++
	}
	return d.propose(ctx, sw, store.Change{UpdateService: &next})
}

// RollbackService puts a service's previous spec back if version is still
// current: tasks still running that spec are kept, the others replaced
// under the service's rollback configuration.
func (d *Daemon) RollbackService(ctx context.Context, id string, version uint64) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	old := sw.store.View().Service(id)
	switch {
	case old == nil:
		return &store.NotFoundError{Kind: "service", Ref: id}
	case old.Version != version:
		return store.Errorf(store.ErrConflict, "service %s was changed concurrently; retry", old.Spec.Name)
	case old.PreviousSpec == nil:
		return store.Errorf(api.ErrBadRequest, "service %s has no previous spec to roll back to", old.Spec.Name)
	}
	err = d.propose(ctx, sw, store.Change{RollbackService: &store.ServiceRollback{ServiceID: id, Version: version,
		Message: "manually requested rollback"}})
	if store.KindIs(err, store.ErrNoPrevious) {
		return store.Errorf(api.ErrBadRequest, "%s", err.Error())
	}
	return err
}

// RemoveService deletes a service; the orchestrator then removes its tasks.
func (d *Daemon) RemoveService(ctx context.Context, id string) error {
	sw, err := d.current()
	if err != nil {
		return err
	}
	return d.propose(ctx, sw, store.Change{DeleteService: id})
}

func (d *Daemon) propose(ctx context.Context, sw *swarm, changes ...store.Change) error {
	return sw.proposer.Propose(ctx, &store.Command{Changes: changes})
}

// Logs writes a task container's log lines, each prefixed as Docker's
// service logs are: "<service>.<slot>.<task id>@<node>    | ". A task of
// this node is read from the local engine, any other from its node
// (remoteLogs, logs.go). An error names the task and its node.
func (d *Daemon) Logs(ctx context.Context, t *types.Task, follow bool, tail string, w io.Writer) error {
	host := d.hostnameOf(t.NodeID)
	var err error
	if sw, cerr := d.current(); cerr == nil && t.NodeID != sw.id.NodeID {
		err = d.remoteLogs(ctx, sw, t, follow, tail, w)
	} else {
		err = d.localLogs(ctx, t, host, follow, tail, w)
	}
	if err != nil {
		return fmt.Errorf("task %s on node %s: %w", logName(t), host, err)
	}
	return nil
}

func (d *Daemon) hostnameOf(nodeID string) string {
	if sw, err := d.current(); err == nil {
		if n := sw.store.View().Node(nodeID); n != nil {
			return n.Hostname
		}
	}
	return nodeID
}

// prefixWriter writes whole lines, each with a prefix, in one Write each,
// so lines of concurrent tasks never interleave mid-line.
type prefixWriter struct {
	prefix string
	w      io.Writer
	buf    strings.Builder
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	s := p.buf.String()
	p.buf.Reset()
	sc := bufio.NewScanner(strings.NewReader(s))
	complete := strings.HasSuffix(s, "\n")
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if !complete && len(lines) > 0 {
		p.buf.WriteString(lines[len(lines)-1])
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		if _, err := io.WriteString(p.w, p.prefix+l+"\n"); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if p.buf.Len() > 0 {
		_, _ = io.WriteString(p.w, p.prefix+p.buf.String()+"\n")
		p.buf.Reset()
	}
}

// samePlacement reports whether two placements are the same (nil and
// empty lists alike).
func samePlacement(a, b *types.Placement) bool {
	return a.MaxReplicas == b.MaxReplicas && slices.Equal(a.Constraints, b.Constraints) &&
		slices.EqualFunc(a.Preferences, b.Preferences, func(x, y types.PlacementPreference) bool {
			return reflect.DeepEqual(x, y)
		})
}
