// Package plugins is sw's plugin registry: the ordered list of built-in
// plugins. The order is the hook order. Each plugin lives in its own
// folder and implements hooks.Plugin plus whichever capability interfaces
// of package hooks it needs.
package plugins

import (
	"fmt"

	"sw/cluster/hooks"
	"sw/plugins/autolock"
	"sw/plugins/dns"
	"sw/plugins/ingress"
	"sw/plugins/labels"
)

// Builtins returns the built-in plugins, in hook order.
func Builtins() []hooks.Plugin {
	return []hooks.Plugin{
		ingress.New(),
		dns.New(),
		labels.New(),
		autolock.New(),
	}
}

// Check refuses a list with a duplicate or empty name, as a registry
// built wrong should fail at start, not misbehave later.
func Check(ps []hooks.Plugin) error {
	seen := map[string]bool{}
	for _, p := range ps {
		n := p.Name()
		if n == "" || seen[n] {
			return fmt.Errorf("plugins: duplicate or empty plugin name %q", n)
		}
		seen[n] = true
	}
	return nil
}
