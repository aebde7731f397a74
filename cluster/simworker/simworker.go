// Package simworker is a simulated worker node, for runs at a scale one
// machine cannot hold as real daemons (scripts/bench-scale.sh): it joins
// a swarm through the peer API as a daemon does (the join token, a CSR,
// then mutual TLS with the certificate it was given), follows its session
// asking for its own tasks only (dispatcher.ViewOwn), shows it is up with
// heartbeats instead of gossip (types.LivenessHeartbeat), and runs its
// tasks with the real agent on a fake engine whose containers take real
// time to start. Everything the managers see of it goes through the same
// protocol a real worker's does; what it leaves out is the node's own
// plumbing (API socket, gossip, plugins, overlay).
package simworker

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"sw/cluster/agent"
	"sw/cluster/dispatcher"
	"sw/cluster/fakeengine"
	"sw/cluster/peer"
	"sw/cluster/pki"
	"sw/cluster/store"
	"sw/cluster/types"
)

var _ agent.Executor = (*fakeengine.Engine)(nil)

// Config describes one simulated worker.
type Config struct {
	// Hostname is the node's name in `node ls`.
	Hostname string
	// Manager is a manager's swarm address (host:port) to join through.
	Manager string
	// Token is the swarm's worker join token.
	Token string
	// Addr is the address the node advertises (host:port); nothing
	// listens there, so managers cannot reach its logs.
	Addr string
	// StartDelay, if set, is how long each container start takes.
	StartDelay func() time.Duration
	// Log receives the node's log (default: discarded).
	Log *slog.Logger
	// Counted, if set, is told of every status report the managers
	// acknowledged, with the number of task updates it carried.
	Counted func(updates int)
	// Spread picks the manager the node turns to first: the K-th of the
	// managers' list (so a thousand workers do not all use one).
	Spread int
}

// Worker is a simulated worker that has joined its swarm.
type Worker struct {
	// NodeID is its ID in the swarm.
	NodeID string
	// Engine is its fake engine.
	Engine *fakeengine.Engine

	cfg    Config
	remote *dispatcher.Remote
}

// Join admits the worker to the swarm.
func Join(ctx context.Context, cfg Config) (*Worker, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	tok, err := pki.ParseJoinToken(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("simworker: %w", err)
	}
	keyPEM, csrPEM, err := pki.NewKeyAndCSR("joining")
	if err != nil {
		return nil, fmt.Errorf("simworker: %w", err)
	}
	eng := fakeengine.New("engine-" + cfg.Hostname)
	eng.StartDelay = cfg.StartDelay
	var resp peer.JoinResponse
	jc := peer.JoinClient(pki.JoinTLS(tok))
	defer jc.CloseIdle()
	err = jc.Do(ctx, cfg.Manager, http.MethodPost, peer.PathJoin, nil, peer.JoinRequest{
		Token: cfg.Token, CSR: csrPEM, Hostname: cfg.Hostname, AdvertiseAddr: cfg.Addr,
		EngineVersion: "fake", OS: runtime.GOOS, Arch: runtime.GOARCH, EngineID: "engine-" + cfg.Hostname,
		Liveness: types.LivenessHeartbeat}, &resp)
	if err != nil {
		return nil, fmt.Errorf("simworker: %s joining through %s: %w", cfg.Hostname, cfg.Manager, err)
	}
	ca, err := pki.ParseCertificatePEM(resp.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("simworker: %w", err)
	}
	if !tok.MatchesCA(ca.Raw) {
		return nil, fmt.Errorf("simworker: the manager's CA does not match the join token")
	}
	cert, err := pki.KeyPair(resp.CertPEM, keyPEM, ca)
	if err != nil {
		return nil, fmt.Errorf("simworker: %w", err)
	}
	conf := pki.ClientTLS(ca, &cert)
	client := peer.NewClient(&peer.Dialer{TLS: func() *tls.Config { return conf }})
	eng.SetNodeID(resp.NodeID)
	managers := resp.Managers
	if k := len(managers); k > 1 {
		managers = append(append([]string{}, managers[cfg.Spread%k:]...), managers[:cfg.Spread%k]...)
	}
	r := dispatcher.NewRemote(resp.NodeID, client, managers, cfg.Log)
	r.View = dispatcher.ViewOwn
	return &Worker{NodeID: resp.NodeID, Engine: eng, cfg: cfg, remote: r}, nil
}

// Run runs the node's agent and heartbeat until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.remote.Heartbeat(ctx, types.HeartbeatPeriod) }()
	go func() {
		defer wg.Done()
		var src agent.Source = w.remote
		if w.cfg.Counted != nil {
			src = counted{w.remote, w.cfg.Counted}
		}
		a := &agent.Agent{NodeID: w.NodeID, Exec: w.Engine, Log: w.cfg.Log, Source: src, Hostname: w.cfg.Hostname}
		a.Run(ctx)
	}()
	wg.Wait()
}

// counted is a Source that tells of each acknowledged report.
type counted struct {
	*dispatcher.Remote
	done func(updates int)
}

var _ agent.Source = counted{}

func (c counted) Report(ctx context.Context, updates []store.TaskStatusFrom) error {
	err := c.Remote.Report(ctx, updates)
	if err == nil {
		c.done(len(updates))
	}
	return err
}
