package commands

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/google/shlex"
	"github.com/urfave/cli/v2"

	"sw/cluster/types"
)

// containerFlags are Docker's container options of `service create`
// (update false) or `service update`: the list forms take -add/-rm there.
func containerFlags(update bool) []cli.Flag {
	str := func(name, usage string, aliases ...string) cli.Flag {
		return &cli.StringFlag{Name: name, Aliases: aliases, Usage: usage}
	}
	list := func(name, usage string) []cli.Flag {
		if !update {
			return []cli.Flag{&cli.StringSliceFlag{Name: name, Usage: usage + " (repeatable)"}}
		}
		return []cli.Flag{&cli.StringSliceFlag{Name: name + "-add", Usage: "add " + usage},
			&cli.StringSliceFlag{Name: name + "-rm", Usage: "remove " + usage}}
	}
	out := []cli.Flag{
		str("hostname", "container hostname"),
		str("workdir", "working directory inside the container", "w"),
		str("user", "username or UID (format: <name|uid>[:<group|gid>])", "u"),
		&cli.BoolFlag{Name: "init", Usage: "use an init inside each service container to forward signals and reap processes"},
		str("stop-signal", "signal to stop the container"),
		str("stop-grace-period", "time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)"),
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.BoolFlag{Name: "read-only", Usage: "mount the container's root filesystem as read only"},
		str("entrypoint", "overwrite the default ENTRYPOINT of the image"),
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add Linux capabilities"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop Linux capabilities"},
	}
	out = append(out, list("group", "a supplementary user group to the container")...)
	out = append(out, list("sysctl", "a namespaced kernel parameter, KEY=VALUE")...)
	out = append(out, list("ulimit", "a ulimit, NAME=SOFT[:HARD]")...)
	out = append(out, list("dns", "a custom DNS server")...)
	out = append(out, list("dns-option", "a DNS option")...)
	out = append(out, list("dns-search", "a custom DNS search domain")...)
	out = append(out, list("container-label", "a container label, KEY[=VALUE]")...)
	if update {
		out = append(out, str("args", "service command args"),
			&cli.StringSliceFlag{Name: "label-add", Usage: "add or update a service label"},
			&cli.StringSliceFlag{Name: "label-rm", Usage: "remove a label by its key"},
			&cli.StringSliceFlag{Name: "publish-add", Usage: "add or update a published port: PUBLISHED:TARGET[/PROTOCOL]"},
			&cli.StringSliceFlag{Name: "publish-rm", Usage: "remove a published port by its target port: TARGET[/PROTOCOL]"})
	} else {
		out = append(out, &cli.StringSliceFlag{Name: "env-file", Usage: "read in a file of environment variables"})
	}
	return out
}

// applyContainerFlags applies the container options given to spec (create
// when update is false). Every malformed value is reported, naming its
// flag, and nothing changes unless all are good.
func applyContainerFlags(c *cli.Context, spec *types.ServiceSpec, update bool) error {
	next := *spec
	cs := cloneContainer(spec.Container)
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	for _, f := range []struct {
		name string
		into *string
	}{{"hostname", &cs.Hostname}, {"workdir", &cs.Dir}, {"user", &cs.User}, {"stop-signal", &cs.StopSignal}} {
		if c.IsSet(f.name) {
			*f.into = strings.TrimSpace(c.String(f.name))
		}
	}
	if cs.Dir != "" && !strings.HasPrefix(cs.Dir, "/") {
		fail(fmt.Errorf("invalid --workdir %q: want an absolute path", cs.Dir))
	}
	if c.IsSet("init") {
		v := c.Bool("init")
		cs.Init = &v
	}
	if c.IsSet("tty") {
		cs.TTY = c.Bool("tty")
	}
	if c.IsSet("read-only") {
		cs.ReadOnly = c.Bool("read-only")
	}
	if c.IsSet("stop-grace-period") {
		d, err := time.ParseDuration(strings.TrimSpace(c.String("stop-grace-period")))
		switch {
		case err != nil:
			fail(fmt.Errorf("invalid --stop-grace-period %q: want a duration such as 10s", c.String("stop-grace-period")))
		case d < 0:
			fail(fmt.Errorf("invalid --stop-grace-period %q: must not be negative", c.String("stop-grace-period")))
		default:
			cs.StopGracePeriod = d
		}
	}
	if c.IsSet("entrypoint") {
		words, err := shlex.Split(c.String("entrypoint"))
		if err != nil {
			fail(fmt.Errorf("invalid --entrypoint %q: %w", c.String("entrypoint"), err))
		}
		cs.Command = words
	}
	if update && c.IsSet("args") {
		words, err := shlex.Split(c.String("args"))
		if err != nil {
			fail(fmt.Errorf("invalid --args %q: %w", c.String("args"), err))
		}
		cs.Args = words
	}
	capAdd, err := capabilities("cap-add", c.StringSlice("cap-add"))
	fail(err)
	capDrop, err := capabilities("cap-drop", c.StringSlice("cap-drop"))
	fail(err)
	if update {
		// As Docker's: a capability added is no longer dropped, and back.
		cs.CapabilityAdd = mergeList(without(cs.CapabilityAdd, capDrop), capAdd)
		cs.CapabilityDrop = mergeList(without(cs.CapabilityDrop, capAdd), capDrop)
	} else {
		cs.CapabilityAdd, cs.CapabilityDrop = capAdd, capDrop
	}

	add, rm := listFlags(c, update, "group")
	cs.Groups = mergeList(without(cs.Groups, rm), add)

	add, rm = listFlags(c, update, "sysctl")
	sysctls, err := keyValues(flagName("sysctl", update, true), add, true)
	fail(err)
	cs.Sysctls = mergeMap(cs.Sysctls, sysctls, rm)

	add, rm = listFlags(c, update, "container-label")
	labels, err := keyValues(flagName("container-label", update, true), add, false)
	fail(err)
	cs.Labels = mergeMap(cs.Labels, labels, rm)

	add, rm = listFlags(c, update, "ulimit")
	var ulimits []types.Ulimit
	for _, v := range add {
		u, err := units.ParseUlimit(strings.TrimSpace(v))
		if err != nil {
			fail(fmt.Errorf("invalid --%s %q: %w", flagName("ulimit", update, true), v, err))
			continue
		}
		ulimits = append(ulimits, types.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	cs.Ulimits = mergeUlimits(cs.Ulimits, ulimits, rm)

	dns := types.DNSConfig{}
	if cs.DNSConfig != nil {
		dns = *cs.DNSConfig
	}
	add, rm = listFlags(c, update, "dns")
	for _, v := range add {
		if _, err := netip.ParseAddr(strings.TrimSpace(v)); err != nil {
			fail(fmt.Errorf("invalid --%s %q: want an IP address", flagName("dns", update, true), v))
		}
	}
	dns.Nameservers = mergeList(without(dns.Nameservers, rm), add)
	add, rm = listFlags(c, update, "dns-search")
	dns.Search = mergeList(without(dns.Search, rm), add)
	add, rm = listFlags(c, update, "dns-option")
	dns.Options = mergeList(without(dns.Options, rm), add)
	cs.DNSConfig = nil
	if len(dns.Nameservers)+len(dns.Search)+len(dns.Options) > 0 {
		cs.DNSConfig = &dns
	}

	if !update {
		env, err := envFiles(c.StringSlice("env-file"))
		fail(err)
		cs.Env = append(env, cs.Env...) // --env wins over --env-file, as Docker's
	} else {
		labels, err := keyValues("label-add", c.StringSlice("label-add"), false)
		fail(err)
		next.Labels = mergeMap(next.Labels, labels, c.StringSlice("label-rm"))
		ports, err := updatePorts(next.Ports, c.StringSlice("publish-add"), c.StringSlice("publish-rm"))
		fail(err)
		next.Ports = ports
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	next.Container = cs
	*spec = next
	return nil
}

// flagName is the name of a list option's flag: NAME on create, NAME-add
// or NAME-rm on update.
func flagName(name string, update, add bool) string {
	switch {
	case !update:
		return name
	case add:
		return name + "-add"
	}
	return name + "-rm"
}

// listFlags returns a list option's values to add and to remove.
func listFlags(c *cli.Context, update bool, name string) (add, rm []string) {
	if !update {
		return c.StringSlice(name), nil
	}
	return c.StringSlice(name + "-add"), c.StringSlice(name + "-rm")
}

// cloneContainer copies a container spec deeply enough that changing its
// lists and maps leaves the original alone.
func cloneContainer(c types.ContainerSpec) types.ContainerSpec {
	c.Groups = slices.Clone(c.Groups)
	c.CapabilityAdd, c.CapabilityDrop = slices.Clone(c.CapabilityAdd), slices.Clone(c.CapabilityDrop)
	c.Ulimits = slices.Clone(c.Ulimits)
	c.Env, c.Command, c.Args = slices.Clone(c.Env), slices.Clone(c.Command), slices.Clone(c.Args)
	if c.DNSConfig != nil {
		d := *c.DNSConfig
		c.DNSConfig = &d
	}
	return c
}

// capabilities normalizes Docker's capability names: "net_admin",
// "NET_ADMIN" and "CAP_NET_ADMIN" are all CAP_NET_ADMIN; "ALL" stays.
func capabilities(flag string, vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		name := strings.ToUpper(strings.TrimSpace(v))
		if name == "" || strings.ContainsAny(name, " =,") {
			return nil, fmt.Errorf("invalid --%s %q: want a capability name such as NET_ADMIN, or ALL", flag, v)
		}
		if name != "ALL" && !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		out = append(out, name)
	}
	return out, nil
}

// keyValues reads KEY=VALUE entries (KEY alone when needValue is false).
func keyValues(flag string, vals []string, needValue bool) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if k == "" || (needValue && !ok) {
			return nil, fmt.Errorf("invalid --%s %q: want KEY=VALUE", flag, v)
		}
		out[k] = val
	}
	return out, nil
}

// mergeList removes nothing and appends what is not there yet.
func mergeList(list, add []string) []string {
	for _, a := range add {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// without is list less the entries of rm.
func without(list, rm []string) []string {
	return slices.DeleteFunc(list, func(v string) bool { return slices.Contains(rm, v) })
}

// mergeMap is m with rm's keys removed and add's set (nil when empty).
func mergeMap(m, add map[string]string, rm []string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !slices.Contains(rm, k) {
			out[k] = v
		}
	}
	for k, v := range add {
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mergeUlimits replaces or adds ulimits by name, after removing rm's.
func mergeUlimits(list, add []types.Ulimit, rm []string) []types.Ulimit {
	list = slices.DeleteFunc(list, func(u types.Ulimit) bool {
		return slices.Contains(rm, u.Name) || slices.ContainsFunc(add, func(a types.Ulimit) bool { return a.Name == u.Name })
	})
	return append(list, add...)
}

// envFiles reads Docker's env files: one KEY=VALUE per line, # comments
// and blank lines skipped, a bare KEY taken from the environment.
func envFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("invalid --env-file: %w", err)
		}
		sc := bufio.NewScanner(f)
		var lines []string
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, line)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("invalid --env-file %s: %w", p, err)
		}
		env, err := ParseEnv(lines, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("invalid --env-file %s: %w", p, err)
		}
		out = append(out, env...)
	}
	return out, nil
}

// updatePorts applies --publish-rm (by target port, as Docker's) then
// --publish-add (replacing a port with the same published port and
// protocol). Removing a port the service does not publish is an error.
func updatePorts(ports []types.PortConfig, add, rm []string) ([]types.PortConfig, error) {
	out := slices.Clone(ports)
	for _, r := range rm {
		target, proto, _ := strings.Cut(strings.TrimSpace(r), "/")
		if proto == "" {
			proto = "tcp"
		}
		n, err := portNumber(target, r)
		if err != nil {
			return nil, fmt.Errorf("invalid --publish-rm %q: %w", r, err)
		}
		before := len(out)
		out = slices.DeleteFunc(out, func(p types.PortConfig) bool {
			return p.TargetPort == n && (p.Protocol == proto || (p.Protocol == "" && proto == "tcp"))
		})
		if len(out) == before {
			return nil, fmt.Errorf("invalid --publish-rm %q: the service publishes no port with target %d/%s", r, n, proto)
		}
	}
	for _, a := range add {
		pc, err := ParsePort(a)
		if err != nil {
			return nil, fmt.Errorf("invalid --publish-add: %w", err)
		}
		out = slices.DeleteFunc(out, func(p types.PortConfig) bool {
			return pc.PublishedPort != 0 && p.PublishedPort == pc.PublishedPort && p.Protocol == pc.Protocol
		})
		out = append(out, pc)
	}
	return out, nil
}

// prettyContainerOptions prints the container options that are set, in
// `service inspect --pretty`'s ContainerSpec section, as Docker's.
func prettyContainerOptions(w io.Writer, c *types.ContainerSpec) {
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(w, " %s:\t%s\n", label, v)
		}
	}
	if len(c.Command) > 0 {
		line("Command", strings.Join(c.Command, " "))
	}
	if c.Init != nil {
		line("Init", fmt.Sprint(*c.Init))
	}
	line("Hostname", c.Hostname)
	line("User", c.User)
	line("Dir", c.Dir)
	if len(c.Groups) > 0 {
		line("Groups", strings.Join(c.Groups, " "))
	}
	line("StopSignal", c.StopSignal)
	if c.StopGracePeriod > 0 {
		line("StopGracePeriod", c.StopGracePeriod.String())
	}
	if c.TTY {
		line("TTY", "true")
	}
	if c.ReadOnly {
		line("Read Only", "true")
	}
	if len(c.CapabilityAdd)+len(c.CapabilityDrop) > 0 {
		fmt.Fprintf(w, " Capabilities:\n")
		if len(c.CapabilityAdd) > 0 {
			fmt.Fprintf(w, "  Add: %s\n", strings.Join(c.CapabilityAdd, ", "))
		}
		if len(c.CapabilityDrop) > 0 {
			fmt.Fprintf(w, "  Drop: %s\n", strings.Join(c.CapabilityDrop, ", "))
		}
	}
	if len(c.Sysctls) > 0 {
		keys := slices.Sorted(maps.Keys(c.Sysctls))
		fmt.Fprintf(w, " Sysctls:\n")
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, c.Sysctls[k])
		}
	}
	if len(c.Ulimits) > 0 {
		fmt.Fprintf(w, " Ulimits:\n")
		for _, u := range c.Ulimits {
			fmt.Fprintf(w, "  %s: %d:%d\n", u.Name, u.Soft, u.Hard)
		}
	}
	if d := c.DNSConfig; d != nil {
		fmt.Fprintf(w, " DNS:\n")
		if len(d.Nameservers) > 0 {
			fmt.Fprintf(w, "  Nameservers: %s\n", strings.Join(d.Nameservers, " "))
		}
		if len(d.Search) > 0 {
			fmt.Fprintf(w, "  Search: %s\n", strings.Join(d.Search, " "))
		}
		if len(d.Options) > 0 {
			fmt.Fprintf(w, "  Options: %s\n", strings.Join(d.Options, " "))
		}
	}
}
