// Package executor runs task containers on the local Docker engine through
// the Engine API: the image made present (pulled only when absent), the
// container created with sw's name and labels, started, stopped, removed,
// listed and watched for exits.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"sw/cluster/types"
)

// Container is what the engine says of one task container.
type Container struct {
	ID       string
	TaskID   string
	Running  bool
	ExitCode int
	Addr     string
	Error    string
	// Health is the health check's status (HealthNone without one); only
	// Inspect and Start fill it.
	Health string
}

// Exit is a task container's death, seen in the engine's event stream.
type Exit struct {
	ContainerID string
	TaskID      string
	ExitCode    int
}

// Docker drives one engine for one node.
type Docker struct {
	cli    *client.Client
	nodeID string

	mu        sync.Mutex
	network   types.TaskNetwork       // the default network's ("" = none yet)
	networks  map[string]localNetwork // the swarm networks on this engine, by ID
	clusterID string                  // the swarm they belong to
	dns       bool                    // tasks use their network's name server
}

// ErrContainerGone says a container no longer exists on the engine.
var ErrContainerGone = errors.New("container is gone")

// ErrNoEngine wraps a failure to reach the Docker engine.
var ErrNoEngine = errors.New("cannot reach the Docker engine")

// New connects to the engine named by the DOCKER_* environment (default
// /var/run/docker.sock), negotiating the API version.
func New(ctx context.Context, nodeID string) (*Docker, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoEngine, err)
	}
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s: %w", ErrNoEngine, cli.DaemonHost(), err)
	}
	return &Docker{cli: cli, nodeID: nodeID}, nil
}

// SetNodeID names the node whose containers this executor manages.
func (d *Docker) SetNodeID(id string) { d.nodeID = id }

// Close releases the client.
func (d *Docker) Close() error { return d.cli.Close() }

// EngineVersion returns the engine's version, e.g. "20.10.24".
func (d *Docker) EngineVersion(ctx context.Context) (string, error) {
	v, err := d.cli.ServerVersion(ctx)
	if err != nil {
		return "", err
	}
	return v.Version, nil
}

// EngineID returns the engine's own ID, which tells engines apart.
func (d *Docker) EngineID(ctx context.Context) (string, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return "", err
	}
	return info.ID, nil
}

// containerOptions sets the engine's form of a spec's container options.
func containerOptions(s *types.ContainerSpec, cfg *container.Config, host *container.HostConfig) {
	cfg.Hostname, cfg.WorkingDir, cfg.User = s.Hostname, s.Dir, s.User
	cfg.StopSignal, cfg.Tty = s.StopSignal, s.TTY
	host.GroupAdd, host.Init, host.ReadonlyRootfs = s.Groups, s.Init, s.ReadOnly
	host.Sysctls, host.CapAdd, host.CapDrop = s.Sysctls, s.CapabilityAdd, s.CapabilityDrop
	for _, u := range s.Ulimits {
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if d := s.DNSConfig; d != nil {
		host.DNS, host.DNSSearch, host.DNSOptions = d.Nameservers, d.Search, d.Options
	}
}

// containerResources are the engine's limits for a task's resources, as
// swarmkit's executor sets them: the limits as limits, the memory
// reservation as the container's soft limit.
func containerResources(r *types.ResourceRequirements) container.Resources {
	var out container.Resources
	if r == nil {
		return out
	}
	if l := r.Limits; l != nil {
		out.NanoCPUs, out.Memory = l.NanoCPUs, l.MemoryBytes
		if l.Pids > 0 {
			pids := l.Pids
			out.PidsLimit = &pids
		}
	}
	if v := r.Reservations; v != nil {
		out.MemoryReservation = v.MemoryBytes
	}
	return out
}

// EngineResources returns the engine's CPUs and memory.
func (d *Docker) EngineResources(ctx context.Context) (types.Resources, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return types.Resources{}, err
	}
	return types.Resources{NanoCPUs: int64(info.NCPU) * 1e9, MemoryBytes: info.MemTotal}, nil
}

// Prepare makes the task's image present, pulling it only when absent.
func (d *Docker) Prepare(ctx context.Context, t *types.Task) error {
	ref := t.Spec.Image
	if _, err := d.cli.ImageInspect(ctx, ref); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("No such image: %s (pull failed: %w)", ref, err)
	}
	defer rc.Close()
	if err := pullResult(rc); err != nil {
		return fmt.Errorf("No such image: %s (pull failed: %w)", ref, err)
	}
	return nil
}

// Create makes the task's container (not started).
func (d *Docker) Create(ctx context.Context, t *types.Task) (string, error) {
	cfg := &container.Config{
		Image:  t.Spec.Image,
		Cmd:    t.Spec.Args,
		Env:    taskEnv(t),
		Labels: taskLabels(t),
	}
	if len(t.Spec.Command) > 0 {
		cfg.Entrypoint = t.Spec.Command
	}
	cfg.Healthcheck = healthConfig(t.Spec.Healthcheck)
	grace := int(t.Spec.StopGracePeriod / time.Second)
	cfg.StopTimeout = &grace
	host := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources: containerResources(t.Spec.Resources)}
	containerOptions(&t.Spec, cfg, host)
	modern := !versions.LessThan(d.cli.ClientVersion(), "1.44")
	eps, dns, err := d.taskEndpoints(t, modern)
	if err != nil {
		return "", err
	}
	var netCfg *network.NetworkingConfig
	if len(eps) > 0 {
		host.NetworkMode = container.NetworkMode(eps[0].name)
		if dns {
			// The swarm's name server first (service names), the task's
			// own after it.
			host.DNS = append([]string{eps[0].gateway}, host.DNS...)
		}
		if eps[0].settings != nil {
			netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{eps[0].name: eps[0].settings}}
			if !modern {
				cfg.MacAddress = MACFor(t.Networks[0].Addr) //nolint:staticcheck // the field older engines read
			}
		}
	}
	resp, err := d.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, t.ContainerName())
	if errdefs.IsNotFound(err) && strings.Contains(err.Error(), "network") && host.NetworkMode != "" && d.recreateNetworks(ctx, t) {
		resp, err = d.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, t.ContainerName())
	}
	if err == nil {
		// The other networks are joined before the start, each with its
		// address (an engine older than API 1.44 derives the MAC from it).
		for _, ep := range eps[min(1, len(eps)):] {
			if cerr := d.cli.NetworkConnect(ctx, ep.name, resp.ID, ep.settings); cerr != nil && !errdefs.IsForbidden(cerr) {
				_ = d.Remove(ctx, resp.ID)
				return "", fmt.Errorf("connect to network %s: %w", ep.name, cerr)
			}
		}
	}
	if err != nil {
		if errdefs.IsConflict(err) { // created before a restart of ours: adopt it
			if c, ierr := d.cli.ContainerInspect(ctx, t.ContainerName()); ierr == nil {
				return c.ID, nil
			}
		}
		return "", err
	}
	return resp.ID, nil
}

// Start starts a container and returns its state just after: its IP
// address and the health of its health check, if it has one.
func (d *Docker) Start(ctx context.Context, id string) (Container, error) {
	if err := d.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return Container{}, err
	}
	return d.Inspect(ctx, id)
}

// Stop asks the container to stop, killing it after grace.
func (d *Docker) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace / time.Second)
	err := d.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Remove deletes a container, stopping it first if it runs.
func (d *Docker) Remove(ctx context.Context, id string) error {
	err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Inspect reports a container's state.
func (d *Docker) Inspect(ctx context.Context, id string) (Container, error) {
	c, err := d.cli.ContainerInspect(ctx, id)
	if errdefs.IsNotFound(err) {
		return Container{}, fmt.Errorf("%w: %w", ErrContainerGone, err)
	}
	if err != nil {
		return Container{}, err
	}
	out := Container{ID: c.ID, TaskID: c.Config.Labels[types.LabelTask]}
	if c.State != nil {
		out.Running = c.State.Running
		out.ExitCode = c.State.ExitCode
		out.Error = c.State.Error
	}
	out.Health = healthStatus(c.State)
	if c.NetworkSettings != nil {
		out.Addr = c.NetworkSettings.IPAddress
		for _, ep := range c.NetworkSettings.Networks {
			if out.Addr == "" && ep != nil {
				out.Addr = ep.IPAddress
			}
		}
	}
	return out, nil
}

// List returns this node's task containers, running or not.
func (d *Docker) List(ctx context.Context) ([]Container, error) {
	cs, err := d.cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", types.LabelNode+"="+d.nodeID))})
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(cs))
	for _, c := range cs {
		out = append(out, Container{ID: c.ID, TaskID: c.Labels[types.LabelTask], Running: c.State == "running"})
	}
	return out, nil
}

// Exits streams this node's task container deaths until ctx ends or the
// stream breaks (the error channel then says why).
func (d *Docker) Exits(ctx context.Context) (<-chan Exit, <-chan error) {
	return watchEvents(ctx, d, "die", func(m events.Message) (Exit, bool) {
		code, _ := strconv.Atoi(m.Actor.Attributes["exitCode"])
		return Exit{ContainerID: m.Actor.ID, TaskID: m.Actor.Attributes[types.LabelTask], ExitCode: code}, true
	})
}

// watchEvents streams one kind of event of this node's task containers,
// each turned into a T by conv (false: skip it), until ctx ends or the
// stream breaks (the error channel then says why).
func watchEvents[T any](ctx context.Context, d *Docker, event string, conv func(events.Message) (T, bool)) (<-chan T, <-chan error) {
	msgs, errs := d.cli.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", "container"), filters.Arg("event", event),
		filters.Arg("label", types.LabelNode+"="+d.nodeID))})
	out := make(chan T)
	errOut := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
				v, ok := conv(m)
				if !ok {
					continue
				}
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			case err := <-errs:
				errOut <- err
				return
			}
		}
	}()
	return out, errOut
}

// Logs returns the container's multiplexed log stream (see stdcopy).
func (d *Docker) Logs(ctx context.Context, id string, follow bool, tail string) (io.ReadCloser, error) {
	return d.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Tail: tail})
}

func taskEnv(t *types.Task) []string {
	env := append([]string{}, t.Spec.Env...)
	return append(env,
		"SW_TASK_ID="+t.ID, "SW_TASK_NAME="+t.ContainerName(), "SW_SERVICE_NAME="+t.ServiceName,
		"SW_NODE_ID="+t.NodeID, "SW_TASK_SLOT="+strconv.FormatUint(t.Slot, 10))
}

func taskLabels(t *types.Task) map[string]string {
	l := map[string]string{}
	for k, v := range t.Spec.Labels {
		l[k] = v
	}
	l[types.LabelService] = t.ServiceID
	l[types.LabelServiceName] = t.ServiceName
	l[types.LabelTask] = t.ID
	l[types.LabelTaskName] = t.Name()
	l[types.LabelNode] = t.NodeID
	return l
}
