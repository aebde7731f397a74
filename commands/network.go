package commands

import (
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
	"sw/commands/format"
)

// networkScope is the scope of every network a swarm has.
const networkScope = "swarm"

// vxlanOption is the option of Docker's inspect that holds an overlay
// network's VXLAN ID.
const vxlanOption = "com.docker.network.driver.overlay.vxlanid_list"

func networkCommand() *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "manage swarm networks",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create a network", ArgsUsage: "NETWORK",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "overlay", Usage: "driver to manage the network (only overlay)"},
					&cli.StringFlag{Name: "subnet", Usage: "subnet in CIDR format (default: the next free one of the swarm's address pools)"},
					&cli.StringFlag{Name: "gateway", Usage: "IPv4 gateway for the subnet (default: its first address)"},
					&cli.BoolFlag{Name: "attachable", Usage: "enable manual container attachment"},
					&cli.StringSliceFlag{Name: "label", Usage: "set metadata on a network (KEY=VALUE)"},
				},
				Action: networkCreate},
			{Name: "ls", Aliases: []string{"list"}, Usage: "list networks",
				Flags: append(formatFlags("filter output (id=, name=, driver=, scope=, label=KEY[=VALUE])"),
					&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate the output"}),
				Action: networkLs},
			{Name: "inspect", Usage: "display detailed information on one or more networks", ArgsUsage: "NETWORK [NETWORK...]",
				Flags:  []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "format with a Go template, or 'json'"}},
				Action: networkInspect},
			{Name: "rm", Aliases: []string{"remove"}, Usage: "remove one or more networks", ArgsUsage: "NETWORK [NETWORK...]",
				Action: networkRm},
		},
	}
}

func networkCreate(c *cli.Context) error {
	if err := exactArgs(c, 1, "network create [OPTIONS] NETWORK"); err != nil {
		return err
	}
	labels, err := ParseLabels(c.StringSlice("label"))
	if err != nil {
		return err
	}
	spec := types.NetworkSpec{Name: c.Args().First(), Driver: c.String("driver"), Labels: labels,
		Attachable: c.Bool("attachable"), Subnet: c.String("subnet"), Gateway: c.String("gateway")}
	cl, err := client(c)
	if err != nil {
		return err
	}
	id, err := cl.CreateNetwork(c.Context, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, id)
	return nil
}

// networkRow is one line of `network ls`, with Docker's field names.
type networkRow struct {
	ID        string
	Name      string
	Driver    string
	Scope     string
	IPv6      string
	Internal  string
	Labels    string
	CreatedAt string
	labels    map[string]string
}

// Label returns the value of one of the network's labels, as Docker's
// {{.Label "KEY"}}.
func (r networkRow) Label(key string) string { return r.labels[key] }

const networkTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// networkHeaders are the headers of networkRow's columns that are not
// their field's name split at capitals.
var networkHeaders = map[string]string{"ID": "NETWORK ID", "IPv6": "IPV6"}

func newNetworkRow(n *types.Network, noTrunc bool) networkRow {
	id := format.TruncateID(n.ID)
	if noTrunc {
		id = n.ID
	}
	return networkRow{ID: id, Name: n.Spec.Name, Driver: networkDriver(n), Scope: networkScope, IPv6: "false", Internal: "false",
		Labels: joinLabels(n.Spec.Labels), CreatedAt: n.CreatedAt.Format("2006-01-02 15:04:05.999999999 -0700 MST"), labels: n.Spec.Labels}
}

func networkDriver(n *types.Network) string {
	if n.Spec.Driver == "" {
		return "overlay"
	}
	return n.Spec.Driver
}

// joinLabels writes labels as Docker's ls does: KEY=VALUE, sorted, comma
// separated.
func joinLabels(labels map[string]string) string {
	out := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, k+"="+labels[k])
	}
	return strings.Join(out, ",")
}

func networkLs(c *cli.Context) error {
	f, err := format.ParseFilters(c.StringSlice("filter"), "id", "name", "driver", "scope", "label")
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	nets, err := cl.Networks(c.Context)
	if err != nil {
		return err
	}
	sort.SliceStable(nets, func(i, j int) bool {
		if nets[i].Spec.Name != nets[j].Spec.Name {
			return nets[i].Spec.Name < nets[j].Spec.Name
		}
		return nets[i].ID < nets[j].ID
	})
	var rows []any
	for _, n := range nets {
		if !f.MatchPrefix("id", n.ID) || !f.MatchPrefix("name", n.Spec.Name) || !f.Match("driver", networkDriver(n)) ||
			!f.Match("scope", networkScope) || !matchLabels(f["label"], n.Spec.Labels) {
			continue
		}
		rows = append(rows, newNetworkRow(n, c.Bool("no-trunc")))
	}
	return format.Write(c.App.Writer, format.Options{Format: c.String("format"), Quiet: c.Bool("quiet"), Default: networkTable,
		Headers: networkHeaders}, rows)
}

// matchLabels reports whether labels pass every label filter, as Docker's
// do: "KEY" wants the label set, "KEY=VALUE" set to VALUE; all of them
// must hold.
func matchLabels(filters []string, labels map[string]string) bool {
	for _, f := range filters {
		k, v, hasValue := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

// networkJSON is a network as `docker network inspect` shows it.
type networkJSON struct {
	Name       string            `json:"Name"`
	ID         string            `json:"Id"`
	Created    time.Time         `json:"Created"`
	Scope      string            `json:"Scope"`
	Driver     string            `json:"Driver"`
	EnableIPv6 bool              `json:"EnableIPv6"`
	IPAM       ipamJSON          `json:"IPAM"`
	Internal   bool              `json:"Internal"`
	Attachable bool              `json:"Attachable"`
	Ingress    bool              `json:"Ingress"`
	Options    map[string]string `json:"Options"`
	Labels     map[string]string `json:"Labels"`
}

// ipamJSON is the IPAM section of Docker's network inspect.
type ipamJSON struct {
	Driver  string            `json:"Driver"`
	Options map[string]string `json:"Options"`
	Config  []ipamConfigJSON  `json:"Config"`
}

// ipamConfigJSON is one subnet of a network, as Docker's inspect shows it.
type ipamConfigJSON struct {
	Subnet  string `json:"Subnet,omitempty"`
	Gateway string `json:"Gateway,omitempty"`
}

// dockerNetwork turns a network into Docker's inspect shape. Before the
// allocator has given it its addresses, it shows those asked for, if any.
func dockerNetwork(n *types.Network) networkJSON {
	out := networkJSON{Name: n.Spec.Name, ID: n.ID, Created: n.CreatedAt, Scope: networkScope, Driver: networkDriver(n),
		IPAM:       ipamJSON{Driver: "default", Config: []ipamConfigJSON{}},
		Attachable: n.Spec.Attachable, Ingress: n.Spec.Ingress, Options: map[string]string{}, Labels: map[string]string{}}
	maps.Copy(out.Labels, n.Spec.Labels)
	switch {
	case n.Subnet != "":
		out.IPAM.Config = append(out.IPAM.Config, ipamConfigJSON{Subnet: n.Subnet, Gateway: n.Gateway})
	case n.Spec.Subnet != "":
		out.IPAM.Config = append(out.IPAM.Config, ipamConfigJSON{Subnet: n.Spec.Subnet, Gateway: n.Spec.Gateway})
	}
	if n.VNI != 0 {
		out.Options[vxlanOption] = strconv.FormatUint(uint64(n.VNI), 10)
	}
	return out
}

func networkInspect(c *cli.Context) error {
	if err := minArgs(c, 1, "network inspect [OPTIONS] NETWORK [NETWORK...]"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	var found []any
	var missing []string
	for _, ref := range c.Args().Slice() {
		n, err := cl.Network(c.Context, ref)
		if api.IsNotFound(err) {
			missing = append(missing, ref)
			continue
		}
		if err != nil {
			return err
		}
		found = append(found, dockerNetwork(n))
	}
	// As Docker's: what was found is printed (an empty array if nothing
	// was, without a template), then an error for each of the others.
	if len(found) > 0 || c.String("format") == "" {
		if found == nil {
			found = []any{}
		}
		if err := inspectOut(c, found, nil); err != nil {
			return err
		}
	}
	for _, ref := range missing {
		fmt.Fprintf(c.App.ErrWriter, "Error: No such network: %s\n", ref)
	}
	if len(missing) > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

func networkRm(c *cli.Context) error {
	if err := minArgs(c, 1, "network rm NETWORK [NETWORK...]"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	return removeEach(c, func(ref string) error { return cl.RemoveNetwork(c.Context, ref) }, func(err error) string {
		if ae := (*api.Error)(nil); errors.As(err, &ae) {
			return "Error response from daemon: " + err.Error()
		}
		return plainError(err)
	})
}

// ParseNetwork reads one --network or --network-add value: a network's
// name, ID or ID prefix, or Docker's long form, comma-separated (CSV)
// KEY=VALUE fields "name=NETWORK[,alias=ALIAS...]" ("target" is the same
// as "name").
func ParseNetwork(s string) (types.NetworkAttachmentConfig, error) {
	var a types.NetworkAttachmentConfig
	if !strings.Contains(s, "=") {
		if strings.TrimSpace(s) == "" || strings.Contains(s, ",") {
			return a, fmt.Errorf("invalid network %q: want a network's name or ID, or name=NETWORK[,alias=ALIAS]", s)
		}
		a.Target = s
		return a, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return a, fmt.Errorf("invalid network %q: %w", s, err)
	}
	for _, field := range fields {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return a, fmt.Errorf("invalid network %q: field %q is not KEY=VALUE", s, field)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "name", "target":
			if a.Target != "" {
				return a, fmt.Errorf("invalid network %q: the network is named twice", s)
			}
			if v == "" {
				return a, fmt.Errorf("invalid network %q: %s= is empty", s, k)
			}
			a.Target = v
		case "alias":
			if v == "" {
				return a, fmt.Errorf("invalid network %q: alias= is empty", s)
			}
			a.Aliases = append(a.Aliases, v)
		case "driver-opt":
			return a, fmt.Errorf("invalid network %q: driver options are not supported", s)
		default:
			return a, fmt.Errorf("invalid network %q: unknown field %q", s, k)
		}
	}
	if a.Target == "" {
		return a, fmt.Errorf("invalid network %q: name= is required", s)
	}
	return a, nil
}

// parseNetworks reads the values of a --network style flag.
func parseNetworks(vals []string) ([]types.NetworkAttachmentConfig, error) {
	var out []types.NetworkAttachmentConfig
	var errs []error
	for _, v := range vals {
		a, err := ParseNetwork(v)
		errs = append(errs, err)
		if err == nil {
			out = append(out, a)
		}
	}
	return out, errors.Join(errs...)
}

// networkID resolves a network reference to its ID through the daemon,
// with Docker's "network X not found".
func networkID(c *cli.Context, cl *api.Client, ref string) (string, error) {
	n, err := cl.Network(c.Context, ref)
	if api.IsNotFound(err) {
		return "", fmt.Errorf("network %s not found", ref)
	}
	if err != nil {
		return "", err
	}
	return n.ID, nil
}

// updateNetworks applies --network-rm (network IDs) then --network-add
// (attachments whose Target is already a network's ID; refs says how the
// user named each) to a service's networks, as Docker's service update:
// adding a network the service is on already is an error.
func updateNetworks(have []types.NetworkAttachmentConfig, rm map[string]bool, add []types.NetworkAttachmentConfig,
	refs map[string]string) ([]types.NetworkAttachmentConfig, error) {
	var out []types.NetworkAttachmentConfig
	on := map[string]bool{}
	for _, a := range have {
		if rm[a.Target] {
			continue
		}
		out = append(out, a)
		on[a.Target] = true
	}
	for _, a := range add {
		if on[a.Target] {
			ref := refs[a.Target]
			if ref == "" {
				ref = a.Target
			}
			return nil, fmt.Errorf("service is already attached to network %s", ref)
		}
		out = append(out, a)
		on[a.Target] = true
	}
	return out, nil
}

// networkNames maps the networks' IDs to their names, for display.
func networkNames(c *cli.Context, cl *api.Client) (map[string]string, error) {
	nets, err := cl.Networks(c.Context)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(nets))
	for _, n := range nets {
		out[n.ID] = n.Spec.Name
	}
	return out, nil
}
