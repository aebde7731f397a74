package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sw/cluster/api"
	"sw/cluster/types"
)

// setAvailability changes a node's availability through via.
func setAvailability(t *testing.T, c *Cluster, via *Node, node string, a types.Availability) {
	t.Helper()
	if _, err := via.Client.UpdateNode(c.Ctx(10*time.Second), node, api.NodeUpdateRequest{Availability: string(a)}); err != nil {
		t.Fatalf("%s %s: %v", a, node, err)
	}
	st, err := c.Statuses(via)
	if err != nil || st[node].Availability != a {
		t.Fatalf("after setting %s to %s: %v (%v)", node, a, st[node], err)
	}
}

// TestNodeAvailability: a drained worker's tasks stop there and run on
// the other nodes; made active again it takes new tasks only (nothing
// moves back on its own, as in Docker); paused, it keeps its tasks but
// gets no new one, of a replicated service or a global one, until it is
// active again. An unknown availability is refused.
func TestNodeAvailability(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 1, Workers: 2})
	m := c.Node("m1")
	if _, err := m.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 6)); err != nil {
		t.Fatal(err)
	}
	spread := func(want map[string]int) func() (bool, string) {
		return func() (bool, string) {
			by, run := runningTasks(c, m, "web"), c.Running()
			return sameCounts(by, want) && sameCounts(run, want), fmt.Sprintf("tasks %v, engines %v, want %v", by, run, want)
		}
	}
	c.Eventually(20*time.Second, "6 running, 2 per node", spread(map[string]int{"m1": 2, "w1": 2, "w2": 2}))

	setAvailability(t, c, m, "w1", types.AvailabilityDrain)
	c.Eventually(20*time.Second, "w1 emptied, its tasks on the others", spread(map[string]int{"m1": 3, "w2": 3}))

	setAvailability(t, c, m, "w1", types.AvailabilityActive)
	c.Steady(500*time.Millisecond, "nothing moving back to w1", spread(map[string]int{"m1": 3, "w2": 3}))
	if err := c.Scale(m, "web", 9); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "the 3 new tasks on the reactivated w1", spread(map[string]int{"m1": 3, "w1": 3, "w2": 3}))

	setAvailability(t, c, m, "w1", types.AvailabilityPause)
	if err := c.Scale(m, "web", 13); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "the paused w1 keeping its 3, the 4 new ones on the others", spread(map[string]int{"m1": 5, "w1": 3, "w2": 5}))
	if _, err := m.Client.CreateService(c.Ctx(10*time.Second), types.ServiceSpec{Name: "everywhere", Mode: types.ModeGlobal,
		Container: types.ContainerSpec{Image: "fake:1"}}); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "the global service on m1 and w2", func() (bool, string) {
		g := runningTasks(c, m, "everywhere")
		return g["m1"] == 1 && g["w2"] == 1, fmt.Sprint(g)
	})
	c.Steady(500*time.Millisecond, "no global task on the paused w1", func() (bool, string) {
		g := runningTasks(c, m, "everywhere")
		return g["w1"] == 0 && Sum(g) == 2, fmt.Sprint(g)
	})

	setAvailability(t, c, m, "w1", types.AvailabilityActive)
	c.Eventually(20*time.Second, "the global service on all three, w1 included", func() (bool, string) {
		g := runningTasks(c, m, "everywhere")
		return g["m1"] == 1 && g["w1"] == 1 && g["w2"] == 1, fmt.Sprint(g)
	})

	_, err := m.Client.UpdateNode(c.Ctx(10*time.Second), "w1", api.NodeUpdateRequest{Availability: "sleepy"})
	wantAPIError(t, "availability sleepy", err, http.StatusBadRequest, `invalid availability "sleepy"`)
	if st, err := c.Statuses(m); err != nil || st["w1"].Availability != types.AvailabilityActive {
		t.Errorf("after a refused availability w1 is %v (%v)", st["w1"], err)
	}
}

// TestPromoteDemote: the last manager cannot be demoted; a promoted worker
// becomes a voting manager that answers for the swarm (Ready, Reachable),
// with a warning when that makes the managers an even number; the first
// manager demoted through a promoted one hands the lead over (even when
// it led) and turns worker, refusing cluster reads, and the swarm stays
// writable throughout.
func TestPromoteDemote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// promote are the workers promoted, in order, and warn the
		// warning each promotion should carry ("" none).
		promote, warn []string
		// demoteWarn is the warning demoting m1 should carry.
		demoteWarn string
	}{
		{"to two managers, the leader demoted", []string{"w1"}, []string{"2 managers, an even number"}, ""},
		{"to three managers, the first demoted", []string{"w1", "w2"}, []string{"2 managers, an even number", ""}, "2 managers, an even number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := New(t, Options{Managers: 1, Workers: 2})
			m1 := c.Node("m1")
			if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 3)); err != nil {
				t.Fatal(err)
			}
			_, err := m1.Client.UpdateNode(c.Ctx(10*time.Second), "m1", api.NodeUpdateRequest{Role: "worker"})
			wantAPIError(t, "demoting the last manager", err, http.StatusBadRequest, "demote the last manager")

			for i, name := range tc.promote {
				resp, err := m1.Client.UpdateNode(c.Ctx(10*time.Second), name, api.NodeUpdateRequest{Role: "manager"})
				if err != nil {
					t.Fatalf("promote %s: %v", name, err)
				}
				if w := tc.warn[i]; (w == "") != (resp.Warning == "") || !strings.Contains(resp.Warning, w) {
					t.Errorf("promote %s: warning %q, want one mentioning %q", name, resp.Warning, w)
				}
			}
			managers := len(tc.promote) + 1
			for _, name := range tc.promote {
				n := c.Node(name)
				c.Eventually(20*time.Second, name+" answering as a manager, Ready and Reachable", func() (bool, string) {
					info, err := n.Client.Info(c.Ctx(2 * time.Second))
					if err != nil || !info.IsManager || info.Managers != managers || info.LeaderID != m1.ID {
						return false, fmt.Sprintf("%+v %v", info, err)
					}
					st, err := c.Statuses(n) // node ls works on it
					s := st[name]
					return err == nil && s.Manager() && s.State == types.NodeReady && !s.Leader && st["m1"].Leader, fmt.Sprint(st, err)
				})
			}

			via := c.Node(tc.promote[0])
			resp, err := via.Client.UpdateNode(c.Ctx(10*time.Second), "m1", api.NodeUpdateRequest{Role: "worker"})
			if err != nil {
				t.Fatalf("demote m1 through %s: %v", via.Name, err)
			}
			if w := tc.demoteWarn; (w == "") != (resp.Warning == "") || !strings.Contains(resp.Warning, w) {
				t.Errorf("demote m1: warning %q, want one mentioning %q", resp.Warning, w)
			}
			c.Eventually(20*time.Second, "m1 a worker refusing cluster reads", func() (bool, string) {
				info, err := m1.Client.Info(c.Ctx(2 * time.Second))
				if err != nil || info.IsManager {
					return false, fmt.Sprintf("%+v %v", info, err)
				}
				_, err = m1.Client.Nodes(c.Ctx(5 * time.Second))
				return err != nil && strings.Contains(err.Error(), "not a swarm manager"), fmt.Sprint(err)
			})
			_, err = m1.Client.Nodes(c.Ctx(5 * time.Second))
			wantAPIError(t, "node ls on the demoted m1", err, http.StatusServiceUnavailable, "not a swarm manager")
			lead := c.Leader(15 * time.Second)
			if lead == m1 {
				t.Fatal("the demoted node leads")
			}
			c.Eventually(20*time.Second, "m1 a Ready worker, the others managers, one of them Leader", func() (bool, string) {
				st, err := c.Statuses(lead)
				if err != nil {
					return false, err.Error()
				}
				ok := st["m1"].Role == types.RoleWorker && st["m1"].State == types.NodeReady && st[lead.Name].Leader
				for _, name := range tc.promote {
					ok = ok && st[name].Manager() && st[name].State == types.NodeReady
				}
				return ok, fmt.Sprint(st)
			})
			if err := c.Scale(lead, "web", 4); err != nil {
				t.Fatalf("a write after the role changes: %v", err)
			}
			c.Eventually(20*time.Second, "4 running over the three nodes", func() (bool, string) {
				by, run := runningTasks(c, lead, "web"), c.Running()
				return Sum(by) == 4 && sameCounts(by, run), fmt.Sprint(by, run)
			})
		})
	}
}

// TestNodeRemove: a manager cannot be removed (demote it first), nor a
// live worker without force; a down worker can be, and a live one with
// force. A removed node is refused from then on: a live one is told it
// was removed; back up, its TLS handshake with the managers fails; and it
// stays out of the node list.
func TestNodeRemove(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 1, Workers: 2})
	m, w1, w2 := c.Node("m1"), c.Node("w1"), c.Node("w2")
	ctx := c.Ctx(time.Minute)
	wantAPIError(t, "rm of a manager", m.Client.RemoveNode(ctx, "m1", false), http.StatusBadRequest,
		"is a cluster manager", "must be demoted to worker before removal")
	wantAPIError(t, "rm of a Ready worker", m.Client.RemoveNode(ctx, "w1", false), http.StatusBadRequest,
		"is not down", "--force")
	wantAPIError(t, "rm of a manager with force", m.Client.RemoveNode(ctx, "m1", true), http.StatusBadRequest,
		"must be demoted to worker before removal")

	c.Kill(w1)
	c.Eventually(15*time.Second, "w1 Down", func() (bool, string) {
		st, err := c.Statuses(m)
		return err == nil && st["w1"].State == types.NodeDown, fmt.Sprint(st, err)
	})
	if err := m.Client.RemoveNode(ctx, "w1", false); err != nil {
		t.Fatalf("rm of a down worker: %v", err)
	}
	if err := m.Client.RemoveNode(ctx, "w2", true); err != nil {
		t.Fatalf("rm of a Ready worker with force: %v", err)
	}
	onlyM1 := func() (bool, string) {
		st, err := c.Statuses(m)
		_, there := st["m1"]
		return err == nil && len(st) == 1 && there, fmt.Sprint(st, err)
	}
	if ok, msg := onlyM1(); !ok {
		t.Fatalf("node list after rm: %s", msg)
	}
	if _, err := m.Client.Node(ctx, "w1"); !api.IsNotFound(err) {
		t.Errorf("inspect of the removed w1: %v, want not found", err)
	}

	c.Eventually(15*time.Second, "the live w2 told it was removed", func() (bool, string) {
		return strings.Contains(w2.Log(), "node "+w2.ID+" was removed from the swarm"), "no word of its removal in its log"
	})

	c.Start(w1)
	c.Stop(w2)
	c.Start(w2)
	for _, n := range []*Node{w1, w2} {
		c.Eventually(15*time.Second, "the removed "+n.Name+"'s handshake refused after its restart", func() (bool, string) {
			log := n.Log()
			return strings.Contains(log, "manager unreachable") && strings.Contains(log, "tls: bad certificate"),
				"no refused TLS handshake in its log"
		})
	}
	c.Steady(time.Second, "the node list holding m1 alone", onlyM1)
}
