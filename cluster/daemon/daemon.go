// Package daemon wires one sw node: the API on its unix socket, the Docker
// executor, and — while the node is in a swarm — Raft, the store, gossip,
// the leader-only loops, the agent and the plugins (hosted by package pluginhost).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"sw/cluster/api"
	"sw/cluster/executor"
	"sw/cluster/hooks"
	"sw/cluster/keyfile"
	"sw/cluster/netplane"
	"sw/cluster/store"
	"sw/cluster/types"
)

// Version is the daemon's version string.
const Version = "0.1.0"

// Config is how a daemon is started.
type Config struct {
	DataDir     string
	Socket      string // path of the unix socket
	Hostname    string
	IngressAddr string
	Plugins     []hooks.Plugin
	Logger      *slog.Logger
	// MinFreeDisk is the space (bytes) a manager keeps free in DataDir:
	// with less, writes are refused until space is freed.
	MinFreeDisk int64
	// Engine is the container engine; nil dials Docker (DOCKER_HOST or
	// its default socket).
	Engine Engine
	// Fabric is the kernel side of the swarm's networks; nil is the
	// host's own (netplane.Kernel).
	Fabric netplane.Fabric
	// RaftTimeout, if set, is Raft's heartbeat and election timeout
	// (consensus.DefaultHeartbeatTimeout otherwise): in-process clusters
	// use tens of milliseconds.
	RaftTimeout time.Duration
}

// Daemon is one running node.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	exec   Engine
	engine string
	// engineID is the engine's own ID (docker info's ID).
	engineID string
	// resources are the engine's CPUs and memory, reported when the node joins.
	resources types.Resources

	mu    sync.Mutex
	swarm *swarm // nil while not in a swarm
	// keys is the node's key file: TLS key and Raft data key, sealed
	// while the swarm is autolocked.
	keys *keyfile.File
	// locked is the swarm identity a locked manager waits to resume (nil:
	// not locked); under mu. See locked.go.
	locked *identity
	// unlockMu serialises unlock attempts.
	unlockMu sync.Mutex
	// roleMu serialises role changes of this node (init, join, leave,
	// restore, a role switch). It is held across a swarm's stop, which
	// waits for the swarm's goroutines: none of them may take it.
	roleMu sync.Mutex
	// roleReq feeds roleLoop (made once, by roleRequests).
	roleReq  chan roleRequest
	roleOnce sync.Once
}

// New checks the engine and the data dir.
func New(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		cfg.Hostname = h
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	// A restore that died half way left its staging dir (as protected as
	// the data dir, but of no use now).
	_ = os.RemoveAll(filepath.Join(cfg.DataDir, restoreStaging))
	ex := cfg.Engine
	if ex == nil {
		dx, err := executor.New(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("%w; start it (e.g. 'service docker start') or set DOCKER_HOST", err)
		}
		ex = dx
	}
	if cfg.Fabric == nil {
		cfg.Fabric = netplane.Kernel{}
	}
	ver, err := ex.EngineVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", executor.ErrNoEngine, err)
	}
	engineID, err := ex.EngineID(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", executor.ErrNoEngine, err)
	}
	res, err := ex.EngineResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", executor.ErrNoEngine, err)
	}
	return &Daemon{cfg: cfg, log: cfg.Logger, exec: ex, engine: ver, engineID: engineID, resources: res,
		keys: newKeyFile(cfg.DataDir)}, nil
}

// Run serves the API and, if this node was in a swarm, rejoins it; it
// returns when ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	l, err := api.ListenUnix(d.cfg.Socket)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.cfg.Socket, err)
	}
	id, err := loadIdentity(d.cfg.DataDir)
	if err != nil {
		l.Close()
		return err
	}
	if id != nil {
		if err := d.rejoin(ctx, id); err != nil {
			l.Close()
			return fmt.Errorf("rejoining the swarm: %w", err)
		}
	}
	roleCtx, stopRoles := context.WithCancel(ctx)
	defer stopRoles()
	var roles sync.WaitGroup
	roles.Add(1)
	go func() { defer roles.Done(); d.roleLoop(roleCtx) }()
	srv := api.NewServer(d, d.log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	d.log.Info("sw daemon ready", "socket", d.cfg.Socket, "data-dir", d.cfg.DataDir, "engine", d.engine)
	served := false
	select {
	case <-ctx.Done():
	case err = <-errc:
		served = true
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 2e9)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if !served {
		<-errc // Serve returns once Shutdown has closed the listener
	}
	// A role switch under way finishes (or gives up) before the swarm is
	// taken: it may be the one that starts the swarm to stop.
	stopRoles()
	roles.Wait()
	// Taken out under the lock, stopped outside it: stopping waits for the
	// swarm's goroutines, and some of them take d.mu.
	d.mu.Lock()
	sw := d.swarm
	d.swarm = nil
	d.mu.Unlock()
	if sw != nil {
		sw.stop()
	}
	_ = os.Remove(d.cfg.Socket)
	return err
}

// Info reports the node and its swarm.
func (d *Daemon) Info(ctx context.Context) api.Info {
	info := api.Info{Swarm: api.SwarmInactive, Hostname: d.cfg.Hostname, EngineVersion: d.engine,
		DataDir: d.cfg.DataDir, Version: Version}
	for _, p := range d.cfg.Plugins {
		info.Plugins = append(info.Plugins, p.Name())
	}
	sw := d.active()
	if sw == nil {
		d.lockedInfo(&info)
		return info
	}
	info.Swarm = api.SwarmActive
	info.NodeID = sw.id.NodeID
	info.ClusterID = sw.id.ClusterID
	info.IsManager = sw.id.isManager()
	info.NodeAddr = hostOf(sw.id.AdvertiseAddr)
	if !info.IsManager {
		info.ManagerAddrs = sw.remote.Managers()
		return info
	}
	_, info.LeaderID = sw.raft.Leader()
	v := sw.store.View()
	if c := v.Cluster(); c != nil {
		info.TaskHistoryLimit = c.TaskHistoryLimit
		if info.TaskHistoryLimit <= 0 {
			info.TaskHistoryLimit = types.DefaultTaskHistoryLimit
		}
	}
	for _, n := range v.Nodes() {
		info.Nodes++
		if n.Role == "manager" {
			info.Managers++
			info.ManagerAddrs = append(info.ManagerAddrs, n.ManagerAddr)
		}
	}
	return info
}

func hostOf(hostport string) string {
	if i := strings.LastIndex(hostport, ":"); i >= 0 {
		return hostport[:i]
	}
	return hostport
}

// current returns the swarm once its state is caught up, waiting for that
// (a restarted manager replays its log first) up to readyTimeout.
func (d *Daemon) current() (*swarm, error) {
	sw := d.active()
	if sw != nil && !sw.id.isManager() {
		return nil, errWorker
	}
	if sw == nil {
		if err := d.lockedErr(); err != nil {
			return nil, err
		}
		return nil, store.Errorf(api.ErrUnavailable, "this node is not a swarm manager. Use \"sw swarm init\" or \"sw swarm join\" to connect this node to a swarm and try again")
	}
	select {
	case <-sw.ready:
		return sw, nil
	case <-time.After(readyTimeout):
		return nil, store.Errorf(api.ErrUnavailable, "this manager has not caught up with the swarm's state yet (no Raft leader?); try again shortly")
	}
}

const readyTimeout = 10 * time.Second

// active returns the swarm this node is in, caught up or not; nil if none.
func (d *Daemon) active() *swarm {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.swarm
}

var errInSwarm = errors.New("this node is already part of a swarm. Use \"sw swarm leave\" to leave this swarm and join another one")

func platform() (string, string) { return runtime.GOOS, runtime.GOARCH }
