package commands

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
)

func serviceCreateCommand() *cli.Command {
	return &cli.Command{
		Name: "create", Usage: "create a new service", ArgsUsage: "IMAGE [COMMAND] [ARG...]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "service name"},
			&cli.StringFlag{Name: "replicas", Usage: "number of tasks (default 1)"},
			&cli.StringFlag{Name: "mode", Value: "replicated", Usage: "service mode: replicated, global, replicated-job or global-job"},
			&cli.StringFlag{Name: "max-concurrent", Usage: "number of job tasks to run concurrently (default equal to --replicas)"},
			&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a port: PUBLISHED:TARGET[/PROTOCOL]"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "service labels"},
			&cli.StringSliceFlag{Name: "network", Usage: "attach to a network: NETWORK, or name=NETWORK[,alias=ALIAS...] (repeatable)"},
			&cli.StringFlag{Name: "restart-condition", Usage: "restart when condition is met: none, on-failure or any (default any)"},
			&cli.StringFlag{Name: "restart-delay", Usage: "delay between restart attempts (default 5s)"},
			&cli.StringFlag{Name: "restart-max-attempts", Usage: "maximum number of restarts before giving up"},
			&cli.StringFlag{Name: "restart-window", Usage: "window used to evaluate the restart policy (ns|us|ms|s|m|h)"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit immediately instead of waiting for the service to converge"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output"},
		}, append(append(append(healthFlags(), rolloutFlags()...), resourceFlags()...), containerFlags(false)...)...),
		Action: serviceCreate,
	}
}

func serviceCreate(c *cli.Context) error {
	if c.NArg() < 1 {
		return usageError("\"service create\" requires at least 1 argument: the image.\nUsage:  sw service create [OPTIONS] IMAGE [COMMAND] [ARG...]")
	}
	spec, err := specFromFlags(c)
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	id, err := cl.CreateService(c.Context, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, id)
	if c.Bool("detach") {
		return nil
	}
	return waitConverged(c, cl, id)
}

func specFromFlags(c *cli.Context) (types.ServiceSpec, error) {
	var errs []error
	spec := types.ServiceSpec{Name: c.String("name"), Mode: types.Mode(c.String("mode")), Replicas: 1,
		Container: types.ContainerSpec{Image: c.Args().First(), Args: c.Args().Tail()}}
	if _, err := types.ParseMode(string(spec.Mode)); err != nil {
		errs = append(errs, fmt.Errorf("invalid --mode %q: want replicated, global, replicated-job or global-job", spec.Mode))
	}
	if spec.Mode.PerNode() {
		spec.Replicas = 0
		if c.IsSet("replicas") {
			errs = append(errs, errors.New("--replicas can only be used with replicated or replicated-job mode"))
		}
	} else if c.IsSet("replicas") {
		n, err := ParseReplicas(c.String("replicas"))
		errs = append(errs, err)
		spec.Replicas = n
	}
	errs = append(errs, jobFlags(c, &spec))
	if spec.Name == "" {
		spec.Name = generatedName()
	}
	for _, p := range c.StringSlice("publish") {
		pc, err := ParsePort(p)
		errs = append(errs, err)
		spec.Ports = append(spec.Ports, pc)
	}
	env, err := ParseEnv(c.StringSlice("env"), os.LookupEnv)
	errs = append(errs, err)
	spec.Container.Env = env
	labels, err := ParseLabels(c.StringSlice("label"))
	errs = append(errs, err)
	spec.Labels = labels
	nets, err := parseNetworks(c.StringSlice("network"))
	errs = append(errs, err)
	spec.Networks = nets
	pol, err := ParseRestart(c.String("restart-condition"), c.String("restart-delay"), c.String("restart-max-attempts"))
	errs = append(errs, err, restartWindow(c, &pol))
	spec.Restart = pol
	health, err := parseHealthFlags(c)
	errs = append(errs, err)
	spec.Container.Healthcheck = health.create()
	errs = append(errs, applyRolloutFlags(c, &spec))
	errs = append(errs, applyResourceFlags(c, &spec))
	errs = append(errs, applyContainerFlags(c, &spec, false))
	errs = append(errs, applyServiceFlags(c, &spec, false))
	return spec, errors.Join(errs...)
}

func generatedName() string {
	adj := []string{"brave", "calm", "eager", "keen", "quiet", "swift", "bold", "fond"}
	noun := []string{"turing", "hopper", "lovelace", "ritchie", "thompson", "knuth", "dijkstra", "lamport"}
	id := types.NewID()
	return adj[int(id[0])%len(adj)] + "_" + noun[int(id[1])%len(noun)]
}

func serviceScaleCommand() *cli.Command {
	return &cli.Command{
		Name: "scale", Usage: "scale one or multiple replicated services", ArgsUsage: "SERVICE=REPLICAS [SERVICE=REPLICAS...]",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit immediately instead of waiting"}},
		Action: func(c *cli.Context) error {
			if err := minArgs(c, 1, "service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]"); err != nil {
				return err
			}
			type target struct {
				ref string
				n   uint64
			}
			var targets []target
			for _, a := range c.Args().Slice() {
				ref, val, ok := strings.Cut(a, "=")
				if !ok || ref == "" {
					return usageError("invalid scale specifier %q: want SERVICE=REPLICAS", a)
				}
				n, err := ParseReplicas(val)
				if err != nil {
					return err
				}
				targets = append(targets, target{ref, n})
			}
			cl, err := client(c)
			if err != nil {
				return err
			}
			failed := false
			for _, t := range targets {
				id, err := modifyService(c, cl, t.ref, func(s *types.ServiceSpec) error {
					if s.Mode != types.ModeReplicated && s.Mode != types.ModeReplicatedJob {
						return fmt.Errorf("scale can only be used with replicated or replicated-job mode")
					}
					s.Replicas = t.n
					return nil
				})
				if err != nil {
					fmt.Fprintf(c.App.ErrWriter, "Error: %s: %v\n", t.ref, err)
					failed = true
					continue
				}
				fmt.Fprintf(c.App.Writer, "%s scaled to %d\n", t.ref, t.n)
				if !c.Bool("detach") {
					if err := waitConverged(c, cl, id); err != nil {
						fmt.Fprintf(c.App.ErrWriter, "Error: %s: %v\n", t.ref, err)
						failed = true
					}
				}
			}
			if failed {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

func serviceUpdateCommand() *cli.Command {
	return &cli.Command{
		Name: "update", Usage: "update a service", ArgsUsage: "SERVICE",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "replicas", Usage: "number of tasks"},
			&cli.StringFlag{Name: "max-concurrent", Usage: "number of job tasks to run concurrently"},
			&cli.StringFlag{Name: "image", Usage: "service image tag"},
			&cli.StringSliceFlag{Name: "env-add", Usage: "add or update an environment variable"},
			&cli.StringSliceFlag{Name: "env-rm", Usage: "remove an environment variable"},
			&cli.StringSliceFlag{Name: "network-add", Usage: "add a network: NETWORK, or name=NETWORK[,alias=ALIAS...]"},
			&cli.StringSliceFlag{Name: "network-rm", Usage: "remove a network"},
			&cli.StringFlag{Name: "restart-condition", Usage: "none, on-failure or any"},
			&cli.StringFlag{Name: "restart-delay", Usage: "delay between restart attempts"},
			&cli.StringFlag{Name: "restart-max-attempts", Usage: "maximum number of restarts before giving up"},
			&cli.StringFlag{Name: "restart-window", Usage: "window used to evaluate the restart policy (ns|us|ms|s|m|h)"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit immediately instead of waiting"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output"},
			&cli.BoolFlag{Name: "force", Usage: "force update even if no changes require it"},
			&cli.BoolFlag{Name: "rollback", Usage: "rollback to previous specification"},
		}, append(append(append(healthFlags(), rolloutFlags()...), resourceFlags()...), containerFlags(true)...)...),
		Action: serviceUpdate,
	}
}

func serviceUpdate(c *cli.Context) error {
	if err := exactArgs(c, 1, "service update [OPTIONS] SERVICE"); err != nil {
		return err
	}
	if c.Bool("rollback") {
		for _, fl := range c.Command.Flags {
			f := fl.Names()[0]
			if f != "rollback" && f != "detach" && f != "quiet" && c.IsSet(f) {
				return usageError("--rollback cannot be used with --%s: a rollback puts the previous spec back as it was", f)
			}
		}
		return serviceRollback(c)
	}
	var replicas uint64
	if c.IsSet("replicas") {
		n, err := ParseReplicas(c.String("replicas"))
		if err != nil {
			return err
		}
		replicas = n
	}
	envAdd, err := ParseEnv(c.StringSlice("env-add"), os.LookupEnv)
	if err != nil {
		return err
	}
	health, err := parseHealthFlags(c)
	if err != nil {
		return err
	}
	netAdd, err := parseNetworks(c.StringSlice("network-add"))
	if err != nil {
		return err
	}
	// The rollout flags are checked before the daemon is asked anything
	// (applied again, to the service's own configuration, below).
	if err := errors.Join(applyRolloutFlags(c, &types.ServiceSpec{}), applyResourceFlags(c, &types.ServiceSpec{})); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	netRm, netRefs := map[string]bool{}, map[string]string{}
	for _, ref := range c.StringSlice("network-rm") {
		id, err := networkID(c, cl, ref)
		if err != nil {
			return err
		}
		netRm[id] = true
	}
	for i, a := range netAdd {
		id, err := networkID(c, cl, a.Target)
		if err != nil {
			return err
		}
		netRefs[id] = a.Target
		netAdd[i].Target = id
	}
	id, err := modifyService(c, cl, c.Args().First(), func(s *types.ServiceSpec) error {
		if c.IsSet("replicas") {
			if s.Mode != types.ModeReplicated && s.Mode != types.ModeReplicatedJob {
				return errors.New("--replicas can only be used with replicated or replicated-job mode")
			}
			s.Replicas = replicas
		}
		if err := jobFlags(c, s); err != nil {
			return err
		}
		if c.IsSet("image") {
			if c.String("image") == "" {
				return errors.New("--image must not be empty")
			}
			s.Container.Image = c.String("image")
		}
		s.Container.Env = updateEnv(s.Container.Env, envAdd, c.StringSlice("env-rm"))
		if len(netRm) > 0 || len(netAdd) > 0 {
			nets, err := updateNetworks(s.Networks, netRm, netAdd, netRefs)
			if err != nil {
				return err
			}
			s.Networks = nets
		}
		if c.IsSet("restart-condition") || c.IsSet("restart-delay") || c.IsSet("restart-max-attempts") {
			cond, delay, max := string(s.Restart.Condition), s.Restart.Delay.String(), fmt.Sprint(s.Restart.MaxAttempts)
			if c.IsSet("restart-condition") {
				cond = c.String("restart-condition")
			}
			if c.IsSet("restart-delay") {
				delay = c.String("restart-delay")
			}
			if c.IsSet("restart-max-attempts") {
				max = c.String("restart-max-attempts")
			}
			pol, err := ParseRestart(cond, delay, max)
			if err != nil {
				return err
			}
			pol.Window = s.Restart.Window
			s.Restart = pol
		}
		if err := restartWindow(c, &s.Restart); err != nil {
			return err
		}
		s.Container.Healthcheck = health.update(s.Container.Healthcheck)
		if c.Bool("force") {
			s.ForceUpdate++
		}
		if err := errors.Join(applyRolloutFlags(c, s), applyResourceFlags(c, s), applyContainerFlags(c, s, true)); err != nil {
			return err
		}
		return applyServiceFlags(c, s, true)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, c.Args().First())
	if c.Bool("detach") {
		return nil
	}
	return waitConverged(c, cl, id)
}

// modifyService reads a service, changes its spec and writes it back,
// retrying when another writer got there first.
func modifyService(c *cli.Context, cl *api.Client, ref string, change func(*types.ServiceSpec) error) (string, error) {
	for attempt := 0; ; attempt++ {
		svc, err := cl.Service(c.Context, ref)
		if err != nil {
			return "", err
		}
		spec := svc.Spec
		if err := change(&spec); err != nil {
			return "", err
		}
		err = cl.UpdateService(c.Context, svc.ID, svc.Version, spec)
		if err == nil {
			return svc.ID, nil
		}
		if !api.IsConflict(err) || attempt >= 5 || strings.Contains(err.Error(), "already") {
			return "", err
		}
	}
}
