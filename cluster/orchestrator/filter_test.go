package orchestrator

import (
	"reflect"
	"testing"

	"sw/cluster/hooks"
	"sw/cluster/types"
)

// onlyNodes is a stand-in for the labels plugin: a service with any
// constraint may run only on the named nodes.
type onlyNodes map[string]bool

var _ hooks.NodeFilter = onlyNodes(nil)

func (f onlyNodes) NodeCheck(p types.Placement) (func(*types.Node) bool, string) {
	if len(p.Constraints) == 0 {
		return nil, ""
	}
	return func(n *types.Node) bool { return f[n.ID] }, "scheduling constraints not satisfied"
}

func TestReconcileFiltered(t *testing.T) {
	constrain := func(s *types.Service) *types.Service {
		s.Spec.Placement.Constraints = []string{"node.labels.zone==east"}
		return s
	}
	g := func(id, node string) tk { return tk{id: id, node: node, desired: run, state: run} }
	cases := []struct {
		reconcileCase
		filter onlyNodes
	}{
		{reconcileCase: reconcileCase{
			name:  "global: tasks only on the nodes that qualify",
			svc:   constrain(service(svcOpt{mode: types.ModeGlobal})),
			nodes: readyNodes("n1", "n2", "n3"),
			want:  want{create: []string{"0/n1@0 v1", "0/n3@0 v1"}},
		}, filter: onlyNodes{"n1": true, "n3": true}},
		{reconcileCase: reconcileCase{
			name:  "global: a node that stops qualifying loses its task",
			svc:   constrain(service(svcOpt{mode: types.ModeGlobal})),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{g("a", "n1"), g("b", "n2")},
			want:  want{desire: []string{"b=REMOVE"}},
		}, filter: onlyNodes{"n1": true}},
		{reconcileCase: reconcileCase{
			name:  "global without constraints: every node, filter or not",
			svc:   service(svcOpt{mode: types.ModeGlobal}),
			nodes: readyNodes("n1", "n2"),
			want:  want{create: []string{"0/n1@0 v1", "0/n2@0 v1"}},
		}, filter: onlyNodes{}},
		{reconcileCase: reconcileCase{
			name:  "replicated: a task on a node that stops qualifying is stopped",
			svc:   constrain(service(svcOpt{replicas: 2})),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n2")},
			want:  want{desire: []string{"b=SHUTDOWN"}},
		}, filter: onlyNodes{"n1": true}},
		{reconcileCase: reconcileCase{
			name:  "replicated: once stopped, the slot gets a new task to place",
			svc:   constrain(service(svcOpt{replicas: 2})),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{running("a", 1, "n1"), {id: "b", slot: 2, node: "n2", desired: shut, state: shut}},
			want:  want{create: []string{"2/@0 v1"}},
		}, filter: onlyNodes{"n1": true}},
		{reconcileCase: reconcileCase{
			name:  "replicated: an outdated task is left to the rolling update",
			svc:   constrain(service(svcOpt{replicas: 1, ver: 2})),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{{id: "a", slot: 1, node: "n2", ver: 1, desired: run, state: run}},
			want:  want{desire: []string{"a=SHUTDOWN"}},
		}, filter: onlyNodes{"n1": true}},
		{reconcileCase: reconcileCase{
			name:  "replicated: tasks that qualify stay",
			svc:   constrain(service(svcOpt{replicas: 2})),
			nodes: readyNodes("n1", "n2"),
			tasks: []tk{running("a", 1, "n1"), running("b", 2, "n1")},
		}, filter: onlyNodes{"n1": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.input()
			in.Filters = []hooks.NodeFilter{c.filter}
			if got := describe(Reconcile(in)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("plan:\n got  %s\n want %s", show(got), show(c.want))
			}
		})
	}
}
