package types

import (
	"encoding/json"
	"fmt"

	"sw/cluster/strictjson"
)

// The JSON form of a ServiceSpec follows Docker's service inspect layout
// (TaskTemplate.ContainerSpec, Mode.Replicated.Replicas, EndpointSpec.Ports),
// so that scripts written against `docker service inspect` paths work
// unchanged with --format.

type specJSON struct {
	Name         string            `json:"Name"`
	Labels       map[string]string `json:"Labels,omitempty"`
	TaskTemplate taskTemplateJSON  `json:"TaskTemplate"`
	Mode         modeJSON          `json:"Mode"`
	EndpointSpec *endpointJSON     `json:"EndpointSpec,omitempty"`
	// UpdateConfig and RollbackConfig are Docker's, at the top level.
	UpdateConfig   *UpdateConfig `json:"UpdateConfig,omitempty"`
	RollbackConfig *UpdateConfig `json:"RollbackConfig,omitempty"`
}

type taskTemplateJSON struct {
	ContainerSpec ContainerSpec `json:"ContainerSpec"`
	RestartPolicy RestartPolicy `json:"RestartPolicy"`
	Placement     *Placement    `json:"Placement,omitempty"`
	// Networks are Docker's TaskTemplate.Networks.
	Networks []NetworkAttachmentConfig `json:"Networks,omitempty"`
	// ForceUpdate is Docker's counter that forces a rollout.
	ForceUpdate uint64 `json:"ForceUpdate,omitempty"`
	// Resources are Docker's TaskTemplate.Resources (ContainerSpec's).
	Resources *ResourceRequirements `json:"Resources,omitempty"`
}

type modeJSON struct {
	Replicated *struct {
		Replicas uint64 `json:"Replicas"`
	} `json:"Replicated,omitempty"`
	Global        *struct{}          `json:"Global,omitempty"`
	ReplicatedJob *replicatedJobJSON `json:"ReplicatedJob,omitempty"`
	GlobalJob     *struct{}          `json:"GlobalJob,omitempty"`
}

type replicatedJobJSON struct {
	MaxConcurrent    uint64 `json:"MaxConcurrent"`
	TotalCompletions uint64 `json:"TotalCompletions"`
}

// count is how many of the mode's kinds are set.
func (m *modeJSON) count() int {
	n := 0
	for _, set := range []bool{m.Replicated != nil, m.Global != nil, m.ReplicatedJob != nil, m.GlobalJob != nil} {
		if set {
			n++
		}
	}
	return n
}

type endpointJSON struct {
	Mode  EndpointMode `json:"Mode,omitempty"`
	Ports []PortConfig `json:"Ports,omitempty"`
}

// MarshalJSON writes the spec in Docker's layout.
func (s ServiceSpec) MarshalJSON() ([]byte, error) {
	cs := s.Container
	cs.Resources = nil // at TaskTemplate.Resources, as Docker's
	out := specJSON{Name: s.Name, Labels: s.Labels,
		TaskTemplate: taskTemplateJSON{ContainerSpec: cs, RestartPolicy: s.Restart, ForceUpdate: s.ForceUpdate,
			Resources: s.Container.Resources},
		UpdateConfig: s.Update, RollbackConfig: s.Rollback}
	switch s.Mode {
	case ModeGlobal:
		out.Mode.Global = &struct{}{}
	case ModeGlobalJob:
		out.Mode.GlobalJob = &struct{}{}
	case ModeReplicatedJob:
		out.Mode.ReplicatedJob = &replicatedJobJSON{MaxConcurrent: s.MaxConcurrent, TotalCompletions: s.Replicas}
	default:
		out.Mode.Replicated = &struct {
			Replicas uint64 `json:"Replicas"`
		}{s.Replicas}
	}
	if !s.Placement.Empty() {
		out.TaskTemplate.Placement = &s.Placement
	}
	out.TaskTemplate.Networks = s.Networks
	if len(s.Ports) > 0 || s.EndpointMode != "" {
		out.EndpointSpec = &endpointJSON{Mode: s.EndpointMode, Ports: s.Ports}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the spec from Docker's layout. It is lenient, as
// the Raft log and snapshots need: a field it does not know (written by
// another version of sw) is skipped. Input from users goes through
// UnmarshalStrictJSON instead.
func (s *ServiceSpec) UnmarshalJSON(b []byte) error {
	var in specJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	in.to(s)
	return nil
}

// ErrModeConflict is the error of a spec whose Mode says both replicated
// and global; it matches strictjson.ErrInvalid too.
var ErrModeConflict error = modeConflict{}

type modeConflict struct{}

func (modeConflict) Error() string {
	return "invalid Mode: more than one of Replicated, Global, ReplicatedJob and GlobalJob is set; a service has one mode"
}

func (modeConflict) Is(target error) bool { return target == strictjson.ErrInvalid }

// UnmarshalStrictJSON reads the spec from Docker's layout as a request
// from a user is read: an unknown field anywhere in it, data after it,
// or a Mode with both Replicated and Global is an error (matching
// strictjson.ErrInvalid) that says which.
func (s *ServiceSpec) UnmarshalStrictJSON(b []byte) error {
	var in specJSON
	if err := strictjson.Unmarshal(b, &in); err != nil {
		return err
	}
	if in.Mode.count() > 1 {
		return ErrModeConflict
	}
	in.to(s)
	return nil
}

// StrictSpec is a ServiceSpec in a request body: it is written as a
// ServiceSpec is, and read with UnmarshalStrictJSON.
type StrictSpec struct{ ServiceSpec }

// UnmarshalJSON reads the spec strictly.
func (s *StrictSpec) UnmarshalJSON(b []byte) error { return s.ServiceSpec.UnmarshalStrictJSON(b) }

func (in *specJSON) to(s *ServiceSpec) {
	*s = ServiceSpec{Name: in.Name, Labels: in.Labels, Container: in.TaskTemplate.ContainerSpec,
		Restart: in.TaskTemplate.RestartPolicy, ForceUpdate: in.TaskTemplate.ForceUpdate,
		Update: in.UpdateConfig, Rollback: in.RollbackConfig}
	switch {
	case in.Mode.Global != nil:
		s.Mode = ModeGlobal
	case in.Mode.GlobalJob != nil:
		s.Mode = ModeGlobalJob
	case in.Mode.ReplicatedJob != nil:
		s.Mode = ModeReplicatedJob
		s.Replicas, s.MaxConcurrent = in.Mode.ReplicatedJob.TotalCompletions, in.Mode.ReplicatedJob.MaxConcurrent
	case in.Mode.Replicated != nil:
		s.Mode = ModeReplicated
		s.Replicas = in.Mode.Replicated.Replicas
	}
	s.Networks = in.TaskTemplate.Networks
	if r := in.TaskTemplate.Resources; r != nil {
		s.Container.Resources = r
	}
	if in.TaskTemplate.Placement != nil {
		s.Placement = *in.TaskTemplate.Placement
	}
	if in.EndpointSpec != nil {
		s.Ports = in.EndpointSpec.Ports
		s.EndpointMode = in.EndpointSpec.Mode
	}
}

// serviceJSON is a Service as stored, plus Docker's read-only Endpoint
// section, so `{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}` works as
// with `docker service inspect`. Decoding ignores Endpoint: the VIPs are
// in VirtualIPs.
type serviceJSON struct {
	serviceAlias
	Endpoint *endpointStateJSON `json:"Endpoint,omitempty"`
}

type serviceAlias Service

type endpointStateJSON struct {
	Spec       endpointJSON    `json:"Spec"`
	VirtualIPs []virtualIPJSON `json:"VirtualIPs,omitempty"`
}

type virtualIPJSON struct {
	NetworkID string `json:"NetworkID"`
	Addr      string `json:"Addr"`
}

// MarshalJSON writes the service with Docker's Endpoint section.
func (s Service) MarshalJSON() ([]byte, error) {
	out := serviceJSON{serviceAlias: serviceAlias(s)}
	if s.Spec.EndpointMode != "" || len(s.Spec.Ports) > 0 {
		out.Endpoint = &endpointStateJSON{Spec: endpointJSON{Mode: s.Spec.EndpointMode, Ports: s.Spec.Ports}}
		for _, v := range s.VirtualIPs {
			addr := v.Addr
			if v.Bits > 0 {
				addr = fmt.Sprintf("%s/%d", v.Addr, v.Bits)
			}
			out.Endpoint.VirtualIPs = append(out.Endpoint.VirtualIPs, virtualIPJSON{NetworkID: v.NetworkID, Addr: addr})
		}
	}
	return json.Marshal(out)
}
