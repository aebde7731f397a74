// Package fakeengine is an in-memory container engine for in-process
// clusters (package clustertest) and simulations: containers are records
// that "start" after a delay and run until stopped or killed, and every
// death is sent on the engine's exit stream as Docker's die events are.
// It implements what a node's daemon asks of an engine (daemon.Engine);
// Fabric is the matching no-op kernel side of the swarm's networks.
package fakeengine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"sw/cluster/executor"
	"sw/cluster/netplane"
	"sw/cluster/types"
)

// Engine is one node's fake engine. The zero value is not ready: use New.
type Engine struct {
	id string

	// StartDelay, if set, is how long each start takes (it may vary per
	// call, e.g. 50–200 ms as a real engine's do).
	StartDelay func() time.Duration
	// Resources are what EngineResources reports (zero: no resources
	// known, which the scheduler takes as no limit).
	Resources types.Resources

	mu         sync.Mutex
	nodeID     string
	next       int
	containers map[string]*container
	missing    map[string]bool
	exitSubs   map[chan executor.Exit]struct{}
	starts     int
}

type container struct {
	id, taskID, nodeID, image string
	addr                      string
	running                   bool
	exitCode                  int
}

// exitBuffer bounds each subscriber's backlog of deaths not yet taken; a
// subscriber that falls further behind loses events, as one whose stream
// broke does, and finds the deaths by inspecting (the agent's resync).
const exitBuffer = 4096

// New returns an empty engine named id (its EngineID).
func New(id string) *Engine {
	return &Engine{id: id, containers: map[string]*container{}, missing: map[string]bool{},
		exitSubs: map[chan executor.Exit]struct{}{}}
}

// SetMissing makes an image absent (or present again): a task of it is
// refused at Prepare as the engine refuses an image it cannot pull.
func (e *Engine) SetMissing(image string, missing bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if missing {
		e.missing[image] = true
	} else {
		delete(e.missing, image)
	}
}

// Running returns the task IDs of the running containers.
func (e *Engine) Running() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range e.containers {
		if c.running {
			out = append(out, c.taskID)
		}
	}
	return out
}

// Containers counts the containers, running or not.
func (e *Engine) Containers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.containers)
}

// Starts counts the container starts so far.
func (e *Engine) Starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts
}

// Kill makes a task's running container die with code, as a crash does.
// It reports whether there was one.
func (e *Engine) Kill(taskID string, code int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.containers {
		if c.taskID == taskID && c.running {
			e.dieLocked(c, code)
			return true
		}
	}
	return false
}

// KillAll makes every running container die (code 137), as the engine
// going down with its host does.
func (e *Engine) KillAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.containers {
		if c.running {
			e.dieLocked(c, 137)
		}
	}
}

func (e *Engine) dieLocked(c *container, code int) {
	c.running, c.exitCode = false, code
	ev := executor.Exit{ContainerID: c.id, TaskID: c.taskID, ExitCode: code}
	for ch := range e.exitSubs {
		select {
		case ch <- ev:
		default: // that subscriber is too far behind: see exitBuffer
		}
	}
}

// Prepare refuses an image marked missing.
func (e *Engine) Prepare(ctx context.Context, t *types.Task) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.missing[t.Spec.Image] {
		return fmt.Errorf("No such image: %s", t.Spec.Image)
	}
	return nil
}

// Create records a stopped container for the task.
func (e *Engine) Create(ctx context.Context, t *types.Task) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next++
	c := &container{id: fmt.Sprintf("%s-c%06d", e.id, e.next), taskID: t.ID, nodeID: e.nodeID, image: t.Spec.Image}
	if len(t.Networks) > 0 {
		c.addr = t.Networks[0].Addr
	}
	e.containers[c.id] = c
	return c.id, nil
}

// Start waits StartDelay, then marks the container running.
func (e *Engine) Start(ctx context.Context, id string) (executor.Container, error) {
	if e.StartDelay != nil {
		t := time.NewTimer(e.StartDelay())
		select {
		case <-ctx.Done():
			t.Stop()
			return executor.Container{}, ctx.Err()
		case <-t.C:
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return executor.Container{}, fmt.Errorf("start %s: %w", id, executor.ErrContainerGone)
	}
	c.running, c.exitCode = true, 0
	e.starts++
	return e.viewLocked(c), nil
}

func (e *Engine) viewLocked(c *container) executor.Container {
	return executor.Container{ID: c.id, TaskID: c.taskID, Running: c.running, ExitCode: c.exitCode, Addr: c.addr,
		Health: executor.HealthNone}
}

// Stop stops a running container (exit 0, a die event as Docker's).
func (e *Engine) Stop(ctx context.Context, id string, grace time.Duration) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return fmt.Errorf("stop %s: %w", id, executor.ErrContainerGone)
	}
	if c.running {
		e.dieLocked(c, 0)
	}
	return nil
}

// Remove deletes a container; a gone one is no error.
func (e *Engine) Remove(ctx context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.containers, id)
	return nil
}

// Inspect returns a container's state.
func (e *Engine) Inspect(ctx context.Context, id string) (executor.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return executor.Container{}, fmt.Errorf("inspect %s: %w", id, executor.ErrContainerGone)
	}
	return e.viewLocked(c), nil
}

// List returns this node's task containers (SetNodeID), as the engine's
// label filter does.
func (e *Engine) List(ctx context.Context) ([]executor.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []executor.Container
	for _, c := range e.containers {
		if c.nodeID == e.nodeID {
			out = append(out, e.viewLocked(c))
		}
	}
	return out, nil
}

// Exits streams container deaths until ctx ends.
func (e *Engine) Exits(ctx context.Context) (<-chan executor.Exit, <-chan error) {
	ch, errc := make(chan executor.Exit, exitBuffer), make(chan error, 1)
	e.mu.Lock()
	e.exitSubs[ch] = struct{}{}
	e.mu.Unlock()
	out := make(chan executor.Exit)
	go func() { // owned by the caller's ctx; ends with it
		defer close(out)
		defer func() {
			e.mu.Lock()
			delete(e.exitSubs, ch)
			e.mu.Unlock()
			errc <- ctx.Err()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-ch:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errc
}

// HealthChanges sends nothing (fake containers have no health checks)
// and closes when ctx ends.
func (e *Engine) HealthChanges(ctx context.Context) (<-chan executor.HealthChange, <-chan error) {
	ch, errc := make(chan executor.HealthChange), make(chan error, 1)
	go func() {
		<-ctx.Done()
		close(ch)
		errc <- ctx.Err()
	}()
	return ch, errc
}

// Logs returns one line naming the container.
func (e *Engine) Logs(ctx context.Context, id string, follow bool, tail string) (io.ReadCloser, error) {
	e.mu.Lock()
	c, ok := e.containers[id]
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("logs %s: %w", id, executor.ErrContainerGone)
	}
	return io.NopCloser(strings.NewReader("fake container " + c.id + " of task " + c.taskID + "\n")), nil
}

// EnsureNetwork names the network as the engine would, with no bridge.
func (e *Engine) EnsureNetwork(ctx context.Context, clusterID string, n *types.Network) (types.TaskNetwork, error) {
	return types.TaskNetwork{Name: "sw_" + n.ID, Subnet: n.Subnet, Gateway: n.Gateway, NetworkID: n.ID}, nil
}

// DropNetwork does nothing.
func (e *Engine) DropNetwork(ctx context.Context, clusterID string, n *types.Network) error {
	return nil
}

// EngineVersion is the fake's version.
func (e *Engine) EngineVersion(ctx context.Context) (string, error) { return "fake-1", nil }

// EngineID is the id given to New.
func (e *Engine) EngineID(ctx context.Context) (string, error) { return e.id, nil }

// ForeignSubnets returns none: a fake engine has no other networks.
func (e *Engine) ForeignSubnets(context.Context, string) []string { return nil }

// EngineResources returns e.Resources.
func (e *Engine) EngineResources(ctx context.Context) (types.Resources, error) {
	return e.Resources, nil
}

// SetNodeID sets the node whose containers List returns (and new
// containers carry).
func (e *Engine) SetNodeID(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nodeID = id
}

// SwarmBridges names no bridges: the fake has none.
func (e *Engine) SwarmBridges(ctx context.Context, clusterID string) []string { return nil }

// RemoveNetwork does nothing.
func (e *Engine) RemoveNetwork(ctx context.Context, clusterID string) {}

// Network is empty: the fake has no default network attachment.
func (e *Engine) Network() types.TaskNetwork { return types.TaskNetwork{} }

// TaskNetworks is empty.
func (e *Engine) TaskNetworks() map[string]types.TaskNetwork { return nil }

// SetDNS does nothing.
func (e *Engine) SetDNS(on bool) {}

// Fabric is a kernel side of the swarm's networks that does nothing.
type Fabric struct{}

var _ netplane.Fabric = Fabric{}

// Bridge does nothing.
func (Fabric) Bridge(bridge string, addrs []string, mac string) error { return nil }

// Overlay does nothing.
func (Fabric) Overlay(n *types.Network, bridge, local string, port int, peers []netplane.Peer) error {
	return nil
}

// SourceFor does nothing.
func (Fabric) SourceFor(ctx context.Context, bridge, addr string) error { return nil }

// Forget does nothing.
func (Fabric) Forget(ctx context.Context, bridge, addr string) {}
