package clustertest

import (
	"fmt"
	"testing"
	"time"

	"sw/cluster/types"
)

// TestWorkerLoss: a worker whose daemon dies (its containers left
// running) turns Down and its tasks run again on the other nodes, the
// lost ones told to go (REMOVE); when it comes back it is Ready and
// removes their containers, so no task runs twice.
func TestWorkerLoss(t *testing.T) {
	t.Parallel()
	c := New(t, Options{Managers: 1, Workers: 2})
	m, w2 := c.Node("m1"), c.Node("w2")
	if _, err := m.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 6)); err != nil {
		t.Fatal(err)
	}
	c.Eventually(20*time.Second, "6 running, 2 on every node, the engines agreeing", func() (bool, string) {
		by, run := runningTasks(c, m, "web"), c.Running()
		return by["m1"] == 2 && by["w1"] == 2 && by["w2"] == 2 && sameCounts(by, run), fmt.Sprint(by, run)
	})
	lost := w2.Engine.Running()

	killed := time.Now()
	c.Stop(w2)
	c.Eventually(15*time.Second, "w2 Down and 6 tasks running on the others", func() (bool, string) {
		st, err := c.Statuses(m)
		if err != nil {
			return false, err.Error()
		}
		by, run := runningTasks(c, m, "web"), c.RunningOn(c.Node("m1"), c.Node("w1"))
		return st["w2"].State == types.NodeDown && Sum(by) == 6 && by["w2"] == 0 && sameCounts(by, run),
			fmt.Sprint(st["w2"], by, run)
	})
	t.Logf("worker down and its tasks rescheduled %v after the kill", time.Since(killed).Round(time.Millisecond))
	tasks, err := c.Tasks(m, "web")
	if err != nil {
		t.Fatal(err)
	}
	onW2 := 0
	for _, tk := range tasks {
		if tk.NodeID == w2.ID {
			onW2++
			if tk.DesiredState != types.TaskRemove {
				t.Errorf("task %s on the dead worker is desired %s, want %s", tk.Name(), tk.DesiredState, types.TaskRemove)
			}
		}
	}
	if onW2 != len(lost) {
		t.Errorf("%d tasks on the dead worker, it ran %d", onW2, len(lost))
	}

	c.Start(w2)
	took := c.Eventually(15*time.Second, "w2 Ready again", func() (bool, string) {
		st, err := c.Statuses(m)
		return err == nil && st["w2"].State == types.NodeReady, fmt.Sprint(st, err)
	})
	t.Logf("restarted worker Ready after %v", took.Round(time.Millisecond))
	sixOnly := func() (bool, string) {
		tasks, err := c.Tasks(m, "web")
		if err != nil {
			return false, err.Error()
		}
		desired := 0
		for _, tk := range tasks {
			if tk.DesiredState == types.TaskRunning {
				desired++
			}
		}
		by, run := runningTasks(c, m, "web"), c.Running()
		return Sum(run) == 6 && sameCounts(by, run) && desired == 6 && w2.Engine.Containers() == 0,
			fmt.Sprintf("tasks %v, engines %v, %d desired running, %d containers left on w2", by, run, desired, w2.Engine.Containers())
	}
	c.Eventually(15*time.Second, "exactly 6 running containers, w2's stale ones removed", sixOnly)
	c.Steady(time.Second, "exactly 6 running containers", sixOnly)
}

// TestLeaderFailover: the leader goes away — its host lost, or its daemon
// killed with its containers left running. The two other managers elect a
// new leader, a write through the follower survivor succeeds within
// seconds, the old leader is recorded Down (node ls: Unreachable), and the
// service converges without it. When it returns it is Ready, follows the
// new leader (Reachable), and no task of it runs twice.
func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lose func(*Cluster, *Node)
	}{
		{"host lost", (*Cluster).Kill},
		{"daemon killed", (*Cluster).Stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := New(t, Options{Managers: 3, Workers: 1})
			m1 := c.Node("m1")
			if lead := c.Leader(10 * time.Second); lead != m1 {
				t.Fatalf("every manager names %s as leader, want the first manager", lead.Name)
			}
			if _, err := m1.Client.CreateService(c.Ctx(10*time.Second), replicated("web", 4)); err != nil {
				t.Fatal(err)
			}
			c.Eventually(20*time.Second, "4 running, one on each node", func() (bool, string) {
				run := c.Running()
				return len(run) == 4 && Sum(run) == 4, fmt.Sprint(run)
			})

			killed := time.Now()
			tc.lose(c, m1)
			next := c.Leader(15 * time.Second)
			if next == m1 {
				t.Fatal("the lost manager still leads")
			}
			t.Logf("new leader %s %v after the kill", next.Name, time.Since(killed).Round(time.Millisecond))
			follower := c.Node("m2")
			if next == follower {
				follower = c.Node("m3")
			}
			c.Eventually(10*time.Second-time.Since(killed), "a write through the follower survivor", func() (bool, string) {
				err := c.Scale(follower, "web", 5)
				return err == nil, fmt.Sprint(err)
			})
			t.Logf("write accepted %v after the kill", time.Since(killed).Round(time.Millisecond))

			c.Eventually(10*time.Second, "m1 Down (Unreachable), the new leader alone Leader", func() (bool, string) {
				st, err := c.Statuses(next)
				if err != nil {
					return false, err.Error()
				}
				leaders := 0
				for _, s := range st {
					if s.Leader {
						leaders++
					}
				}
				old, l, f := st["m1"], st[next.Name], st[follower.Name]
				return old.State == types.NodeDown && old.Manager() && !old.Leader && leaders == 1 &&
					l.Leader && l.State == types.NodeReady && f.Manager() && f.State == types.NodeReady && !f.Leader, fmt.Sprint(st)
			})
			live := []*Node{c.Node("m2"), c.Node("m3"), c.Node("w1")}
			c.Eventually(20*time.Second, "5 tasks running on the live nodes, their engines agreeing", func() (bool, string) {
				by, run := runningTasks(c, next, "web"), c.RunningOn(live...)
				return Sum(by) == 5 && by["m1"] == 0 && sameCounts(by, run), fmt.Sprint(by, run)
			})

			c.Start(m1)
			took := c.Eventually(15*time.Second, "m1 back Ready and Reachable, following the new leader", func() (bool, string) {
				st, err := c.Statuses(next)
				if err != nil {
					return false, err.Error()
				}
				info, err := m1.Client.Info(c.Ctx(2 * time.Second))
				s := st["m1"]
				return err == nil && s.State == types.NodeReady && s.Manager() && !s.Leader && info.IsManager && info.LeaderID == next.ID,
					fmt.Sprintf("m1 %v, says leader %q (%v)", s, info.LeaderID, err)
			})
			t.Logf("old leader rejoined %v after its restart", took.Round(time.Millisecond))
			fiveOnly := func() (bool, string) {
				by, run := runningTasks(c, next, "web"), c.Running()
				return Sum(run) == 5 && sameCounts(by, run) && m1.Engine.Containers() == 0,
					fmt.Sprintf("tasks %v, engines %v, %d containers left on m1", by, run, m1.Engine.Containers())
			}
			c.Eventually(15*time.Second, "exactly 5 running containers, m1's stale one removed", fiveOnly)
			c.Steady(time.Second, "exactly 5 running containers", fiveOnly)
		})
	}
}
