// Package spec checks and completes service specs: the rules every
// service must meet, whoever submits it, and the defaults Docker applies.
package spec

import (
	"errors"
	"fmt"
	"regexp"

	"sw/cluster/types"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$`)

// Defaults fills what the user left empty with Docker's defaults.
func Defaults(s *types.ServiceSpec) {
	if s.Mode == "" {
		s.Mode = types.ModeReplicated
	}
	if s.Restart.Condition == "" {
		s.Restart.Condition = types.RestartAny
	}
	if s.Container.StopGracePeriod == 0 {
		s.Container.StopGracePeriod = types.DefaultStopGracePeriod
	}
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = "tcp"
		}
		if s.Ports[i].PublishMode == "" {
			s.Ports[i].PublishMode = "ingress"
		}
	}
}

// Validate returns every problem with a spec, joined.
func Validate(s *types.ServiceSpec) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nameRE.MatchString(s.Name) {
		bad("invalid service name %q: use 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit", s.Name)
	}
	if s.Container.Image == "" {
		bad("no image given: a service needs an image to run")
	}
	switch s.Mode {
	case types.ModeReplicated:
	case types.ModeGlobal:
		if s.Replicas != 0 {
			bad("replicas can only be used with replicated mode")
		}
	default:
		bad("invalid mode %q: want replicated or global", s.Mode)
	}
	switch s.Restart.Condition {
	case types.RestartAny, types.RestartOnFailure, types.RestartNone:
	default:
		bad("invalid restart condition %q: want any, on-failure or none", s.Restart.Condition)
	}
	if s.Restart.Delay < 0 {
		bad("invalid restart delay %s: must not be negative", s.Restart.Delay)
	}
	errs = append(errs, validatePorts(s.Ports)...)
	errs = append(errs, validateHealth(s.Container.Healthcheck)...)
	return errors.Join(errs...)
}

func validatePorts(ports []types.PortConfig) []error {
	var errs []error
	seen := map[string]bool{}
	for _, p := range ports {
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			errs = append(errs, fmt.Errorf("invalid protocol %q for port %d: want tcp or udp", p.Protocol, p.TargetPort))
		}
		if p.PublishMode != "" && p.PublishMode != "ingress" && p.PublishMode != "host" {
			errs = append(errs, fmt.Errorf("invalid publish mode %q for port %d: want ingress or host", p.PublishMode, p.TargetPort))
		}
		if p.TargetPort == 0 {
			errs = append(errs, fmt.Errorf("invalid target port 0: want 1-65535"))
		}
		if p.PublishedPort == 0 {
			errs = append(errs, fmt.Errorf("published port for target %d/%s is missing", p.TargetPort, p.Protocol))
			continue
		}
		k := fmt.Sprintf("%d/%s", p.PublishedPort, p.Protocol)
		if seen[k] {
			errs = append(errs, fmt.Errorf("port %s is published more than once", k))
		}
		seen[k] = true
	}
	return errs
}
