// Package hooks defines what a plugin can be to the daemon: small
// capability interfaces, each optional, that the daemon checks for and
// calls. The daemon never imports a concrete plugin; main hands it the
// ordered list the plugins package builds.
package hooks

import (
	"context"
	"log/slog"

	"sw/cluster/store"
	"sw/cluster/types"
)

// Plugin is the base every plugin implements.
type Plugin interface {
	// Name is the plugin's short name, e.g. "ingress".
	Name() string
	// Description is one line for `sw plugin ls`.
	Description() string
}

// Host is what the daemon offers a running plugin.
type Host interface {
	NodeID() string
	Store() *store.Store
	Logger() *slog.Logger
	// IngressAddr is the address published ports listen on ("" = all).
	IngressAddr() string
}

// NodeRunner runs on every node while it is in a swarm; it stops when ctx
// ends. An error return is logged with the plugin's name.
type NodeRunner interface {
	RunNode(ctx context.Context, host Host) error
}

// ServiceValidator checks a service spec before it is created or updated
// (old is nil on create). The error is shown to the user.
type ServiceValidator interface {
	ValidateService(view *store.ReadTx, spec *types.ServiceSpec, old *types.Service) error
}
