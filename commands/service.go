package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
	"sw/commands/format"
)

func serviceCommand() *cli.Command {
	return &cli.Command{
		Name:  "service",
		Usage: "manage swarm services",
		Subcommands: []*cli.Command{
			serviceCreateCommand(),
			{Name: "ls", Aliases: []string{"list"}, Usage: "list services",
				Flags: formatFlags("filter output (id=, name=, mode=)"), Action: serviceLs},
			{Name: "ps", Usage: "list the tasks of one or more services", ArgsUsage: "SERVICE [SERVICE...]",
				Flags:  append(formatFlags("filter output (id=, name=, node=, desired-state=)"), &cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"}),
				Action: servicePs},
			{Name: "inspect", Usage: "display detailed information on one or more services", ArgsUsage: "SERVICE [SERVICE...]",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "pretty", Usage: "print in a human friendly format"},
					&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "format with a Go template"}},
				Action: serviceInspect},
			serviceScaleCommand(),
			serviceUpdateCommand(),
			serviceRollbackCommand(),
			{Name: "rm", Aliases: []string{"remove"}, Usage: "remove one or more services", ArgsUsage: "SERVICE [SERVICE...]",
				Action: serviceRm},
			{Name: "logs", Usage: "fetch the logs of a service or task", ArgsUsage: "SERVICE|TASK",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow log output"},
					&cli.StringFlag{Name: "tail", Value: "all", Usage: "number of lines to show from the end of the logs"}},
				Action: serviceLogs},
		},
	}
}

func serviceLs(c *cli.Context) error {
	f, err := format.ParseFilters(c.StringSlice("filter"), "id", "name", "mode")
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	svcs, err := cl.Services(c.Context)
	if err != nil {
		return err
	}
	statuses, err := cl.ServiceStatuses(c.Context)
	if err != nil {
		return err
	}
	byService := map[string]api.ServiceStatus{}
	for _, st := range statuses {
		byService[st.ServiceID] = st
	}
	var rows []any
	for _, s := range sortServices(svcs) {
		if !f.MatchPrefix("id", s.ID) || !f.MatchPrefix("name", s.Spec.Name) || !f.Match("mode", string(s.Spec.Mode)) {
			continue
		}
		rows = append(rows, newServiceRow(s, byService[s.ID]))
	}
	return format.Write(c.App.Writer, format.Options{Format: c.String("format"), Quiet: c.Bool("quiet"), Default: serviceTable}, rows)
}

func sortServices(s []*types.Service) []*types.Service {
	out := append([]*types.Service{}, s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Spec.Name < out[j-1].Spec.Name; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func servicePs(c *cli.Context) error {
	if err := minArgs(c, 1, "service ps [OPTIONS] SERVICE [SERVICE...]"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	var tasks []*types.Task
	for _, ref := range c.Args().Slice() {
		ts, _, err := cl.Tasks(c.Context, api.TaskQuery{Service: ref})
		if err != nil {
			return err
		}
		tasks = append(tasks, ts...)
		// A service the orchestrator leaves alone says why, on stderr so
		// that the table stays as scripts read it.
		s, err := cl.Service(c.Context, ref)
		if err != nil {
			continue
		}
		if s.ReconcileError != "" {
			fmt.Fprintf(c.App.ErrWriter, "Warning: service %s: %s\n", s.Spec.Name, s.ReconcileError)
		}
		// So does a paused rollout.
		if st := s.UpdateStatus; st != nil && st.State.Paused() {
			fmt.Fprintf(c.App.ErrWriter, "Warning: service %s: %s\n", s.Spec.Name, st.Message)
		}
	}
	return printTasks(c, tasks)
}

func printTasks(c *cli.Context, tasks []*types.Task) error {
	f, err := format.ParseFilters(c.StringSlice("filter"), "id", "name", "node", "desired-state", "service")
	if err != nil {
		return err
	}
	for _, s := range f["desired-state"] {
		if s != "running" && s != "shutdown" && s != "accepted" && s != "remove" {
			return fmt.Errorf("invalid filter 'desired-state=%s': want running, shutdown, accepted or remove", s)
		}
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	nodes, err := cl.Nodes(c.Context)
	if err != nil {
		return err
	}
	hostnames := map[string]string{}
	for _, n := range nodes {
		hostnames[n.ID] = n.Hostname
	}
	ordered, history := orderTasks(tasks)
	now := time.Now()
	var rows []any
	for _, t := range ordered {
		if !f.MatchPrefix("id", t.ID) || !f.Match("name", t.Name()) || !f.Match("service", t.ServiceName) ||
			!(f.MatchPrefix("node", t.NodeID) || f.Match("node", hostnames[t.NodeID])) ||
			!f.Match("desired-state", strings.ToLower(t.DesiredState.String())) {
			continue
		}
		rows = append(rows, newTaskRow(t, hostnames, history[t.ID] && !f.Has("desired-state"), c.Bool("no-trunc"), now))
	}
	return format.Write(c.App.Writer, format.Options{Format: c.String("format"), Quiet: c.Bool("quiet"), Default: taskTable}, rows)
}

func nodePs(c *cli.Context) error {
	cl, err := client(c)
	if err != nil {
		return err
	}
	refs := c.Args().Slice()
	if len(refs) == 0 {
		refs = []string{"self"}
	}
	var tasks []*types.Task
	for _, ref := range refs {
		if ref == "self" {
			info, err := cl.Info(c.Context)
			if err != nil {
				return err
			}
			ref = info.NodeID
		}
		ts, _, err := cl.Tasks(c.Context, api.TaskQuery{Node: ref})
		if err != nil {
			return err
		}
		tasks = append(tasks, ts...)
	}
	return printTasks(c, tasks)
}

func serviceInspect(c *cli.Context) error {
	if err := minArgs(c, 1, "service inspect [OPTIONS] SERVICE [SERVICE...]"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	var svcs []any
	for _, ref := range c.Args().Slice() {
		s, err := cl.Service(c.Context, ref)
		if err != nil {
			return err
		}
		svcs = append(svcs, s)
	}
	var names map[string]string
	if c.Bool("pretty") {
		if names, err = networkNames(c, cl); err != nil {
			return err
		}
	}
	return inspectOut(c, svcs, func(v any) { prettyService(c, v.(*types.Service), names) })
}

// prettyService prints a service for people; netNames names its networks
// by ID.
func prettyService(c *cli.Context, s *types.Service, netNames map[string]string) {
	w := c.App.Writer
	fmt.Fprintf(w, "ID:\t\t%s\nName:\t\t%s\n", s.ID, s.Spec.Name)
	if s.ReconcileError != "" {
		fmt.Fprintf(w, "Error:\t\t%s\n", s.ReconcileError)
	}
	prettyUpdateStatus(w, s.UpdateStatus, time.Now())
	if len(s.Spec.Labels) > 0 {
		fmt.Fprintf(w, "Labels:\n")
		for k, v := range s.Spec.Labels {
			fmt.Fprintf(w, " %s=%s\n", k, v)
		}
	}
	fmt.Fprintf(w, "Service Mode:\t%s\n", title(string(s.Spec.Mode)))
	if s.Spec.Mode == types.ModeReplicated {
		fmt.Fprintf(w, " Replicas:\t%d\n", s.Spec.Replicas)
	}
	if pl := s.Spec.Placement; !pl.Empty() {
		fmt.Fprintf(w, "Placement:\n")
		if len(pl.Constraints) > 0 {
			fmt.Fprintf(w, " Constraints:\t[%s]\n", strings.Join(pl.Constraints, " "))
		}
		if len(pl.Preferences) > 0 {
			fmt.Fprintf(w, " Preferences:\n")
			for _, p := range pl.Preferences {
				fmt.Fprintf(w, "  Spread:\t%s\n", p.Spread.SpreadDescriptor)
			}
		}
		if pl.MaxReplicas > 0 {
			fmt.Fprintf(w, " Max Replicas Per Node:\t%d\n", pl.MaxReplicas)
		}
	}
	r := s.Spec.Restart
	fmt.Fprintf(w, "RestartPolicy:\n Condition:\t%s\n Delay:\t\t%s\n MaxAttempts:\t%d\n", r.Condition, r.Delay, r.MaxAttempts)
	fmt.Fprintf(w, "ContainerSpec:\n Image:\t\t%s\n", s.Spec.Container.Image)
	if len(s.Spec.Container.Args) > 0 {
		fmt.Fprintf(w, " Args:\t\t%s\n", strings.Join(s.Spec.Container.Args, " "))
	}
	if len(s.Spec.Container.Env) > 0 {
		fmt.Fprintf(w, " Env:\t\t%s\n", strings.Join(s.Spec.Container.Env, " "))
	}
	prettyContainerOptions(w, &s.Spec.Container)
	prettyHealth(w, s.Spec.Container.Healthcheck)
	prettyResources(w, s.Spec.Container.Resources)
	prettyUpdateConfig(w, "UpdateConfig", "Update order", s.Spec.UpdateOrDefault())
	prettyUpdateConfig(w, "RollbackConfig", "Rollback order", s.Spec.RollbackOrDefault())
	if len(s.Spec.Networks) > 0 {
		names := make([]string, len(s.Spec.Networks))
		for i, a := range s.Spec.Networks {
			names[i] = a.Target
			if n := netNames[a.Target]; n != "" {
				names[i] = n
			}
		}
		fmt.Fprintf(w, "Networks:\t%s\n", strings.Join(names, " "))
	}
	if s.Spec.EndpointMode != "" {
		fmt.Fprintf(w, "Endpoint Mode:\t%s\n", s.Spec.EndpointMode)
	}
	for _, v := range s.VirtualIPs {
		fmt.Fprintf(w, "Virtual IP:\t%s\n", v.Addr)
	}
	if len(s.Spec.Ports) > 0 {
		fmt.Fprintf(w, "Ports:\n")
		for _, p := range s.Spec.Ports {
			fmt.Fprintf(w, " PublishedPort = %d\n  Protocol = %s\n  TargetPort = %d\n  PublishMode = %s\n", p.PublishedPort, p.Protocol, p.TargetPort, p.PublishMode)
		}
	}
}

func serviceRm(c *cli.Context) error {
	if err := minArgs(c, 1, "service rm SERVICE [SERVICE...]"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	return removeEach(c, func(ref string) error { return cl.RemoveService(c.Context, ref) }, plainError)
}

// removeEach removes every argument with remove, printing each one
// removed and each failure (as msg words it), and exits 1 if any failed.
func removeEach(c *cli.Context, remove func(ref string) error, msg func(error) string) error {
	failed := false
	for _, ref := range c.Args().Slice() {
		if err := remove(ref); err != nil {
			fmt.Fprintln(c.App.ErrWriter, msg(err))
			failed = true
			continue
		}
		fmt.Fprintln(c.App.Writer, ref)
	}
	if failed {
		return cli.Exit("", 1)
	}
	return nil
}

// plainError words an error as the CLI's others: "Error: …".
func plainError(err error) string { return "Error: " + err.Error() }

func serviceLogs(c *cli.Context) error {
	if err := exactArgs(c, 1, "service logs [OPTIONS] SERVICE|TASK"); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	ref := c.Args().First()
	q := api.LogsQuery{Service: ref, Follow: c.Bool("follow"), Tail: c.String("tail")}
	if _, err := cl.Service(c.Context, ref); api.IsNotFound(err) {
		if _, terr := cl.Task(c.Context, ref); terr != nil {
			return fmt.Errorf("no such service or task: %s", ref)
		}
		q = api.LogsQuery{Task: ref, Follow: q.Follow, Tail: q.Tail}
	} else if err != nil {
		return err
	}
	// The logs of a task that could not be read (its node is down, say)
	// are a warning on stderr, as Docker's, and exit 1 once the others
	// have ended.
	sp := &api.LogSplitter{Out: c.App.Writer, OnError: func(msg string) {
		fmt.Fprintf(c.App.ErrWriter, "error from daemon in stream: Error grabbing logs: %s\n", msg)
	}}
	err = cl.Logs(c.Context, q, sp)
	if ferr := sp.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if sp.Errors() > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

func parseUint(s, what string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: want a non-negative whole number", what, s)
	}
	return n, nil
}
