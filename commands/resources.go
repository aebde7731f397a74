package commands

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

// resourceFlags are Docker's --limit-* and --reserve-* flags.
func resourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "limit-cpu", Usage: "limit CPUs (e.g. 0.5)"},
		&cli.StringFlag{Name: "limit-memory", Usage: "limit memory (e.g. 512M, 1G)"},
		&cli.StringFlag{Name: "limit-pids", Usage: "limit the number of processes (0: unlimited)"},
		&cli.StringFlag{Name: "reserve-cpu", Usage: "reserve CPUs: tasks go only to nodes with that many unreserved"},
		&cli.StringFlag{Name: "reserve-memory", Usage: "reserve memory: tasks go only to nodes with that much unreserved"},
		&cli.StringFlag{Name: "replicas-max-per-node", Usage: "maximum number of tasks per node (default 0 = unlimited)"},
	}
}

// applyResourceFlags sets the container's limits and reservations, and the
// cap of tasks per node, from the flags given (0 clears one); every
// malformed value is reported, and nothing changes unless all are good.
func applyResourceFlags(c *cli.Context, spec *types.ServiceSpec) error {
	var lim, res types.Resources
	var cur types.ResourceRequirements
	if r := spec.Container.Resources; r != nil {
		cur = *r
	}
	if cur.Limits != nil {
		lim = *cur.Limits
	}
	if cur.Reservations != nil {
		res = *cur.Reservations
	}
	var errs []error
	set := false
	for _, f := range []struct {
		name  string
		into  *int64
		parse func(string) (int64, error)
	}{
		{"limit-cpu", &lim.NanoCPUs, parseCPUs},
		{"limit-memory", &lim.MemoryBytes, parseMemory},
		{"limit-pids", &lim.Pids, parseCount},
		{"reserve-cpu", &res.NanoCPUs, parseCPUs},
		{"reserve-memory", &res.MemoryBytes, parseMemory},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		set = true
		v, err := f.parse(strings.TrimSpace(c.String(f.name)))
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid --%s %q: %w", f.name, c.String(f.name), err))
			continue
		}
		*f.into = v
	}
	maxPer := spec.Placement.MaxReplicas
	if c.IsSet("replicas-max-per-node") {
		n, err := strconv.ParseUint(strings.TrimSpace(c.String("replicas-max-per-node")), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid --replicas-max-per-node %q: want a whole number, 0 or more", c.String("replicas-max-per-node")))
		}
		maxPer = n
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	spec.Placement.MaxReplicas = maxPer
	if !set {
		return nil
	}
	out := &types.ResourceRequirements{}
	if lim != (types.Resources{}) {
		out.Limits = &lim
	}
	if res != (types.Resources{}) {
		out.Reservations = &res
	}
	if out.Limits == nil && out.Reservations == nil {
		out = nil
	}
	spec.Container.Resources = out
	return nil
}

// parseCPUs reads a number of CPUs as Docker's --cpus does, to NanoCPUs.
func parseCPUs(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return 0, errors.New("want a number of CPUs, 0 or more, such as 0.5 or 2")
	}
	n := new(big.Rat).Mul(r, big.NewRat(1e9, 1))
	if !n.IsInt() || !n.Num().IsInt64() {
		return 0, errors.New("want a number of CPUs with at most 9 decimals")
	}
	return n.Num().Int64(), nil
}

// parseMemory reads an amount of memory in Docker's units (512M, 1G, or
// bytes).
func parseMemory(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return 0, errors.New("want an amount of memory such as 512M or 1G")
	}
	return n, nil
}

func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number, 0 or more")
	}
	return n, nil
}

// prettyResources prints limits and reservations as Docker's `service
// inspect --pretty` does.
func prettyResources(w io.Writer, r *types.ResourceRequirements) {
	if r == nil {
		return
	}
	fmt.Fprintln(w, "Resources:")
	for _, part := range []struct {
		title string
		v     *types.Resources
	}{{"Reservations", r.Reservations}, {"Limits", r.Limits}} {
		if part.v == nil {
			continue
		}
		fmt.Fprintf(w, " %s:\n", part.title)
		if part.v.NanoCPUs > 0 {
			fmt.Fprintf(w, "  CPU:\t\t%g\n", float64(part.v.NanoCPUs)/1e9)
		}
		if part.v.MemoryBytes > 0 {
			fmt.Fprintf(w, "  Memory:\t%s\n", units.BytesSize(float64(part.v.MemoryBytes)))
		}
		if part.v.Pids > 0 {
			fmt.Fprintf(w, "  Pids:\t\t%d\n", part.v.Pids)
		}
	}
}
