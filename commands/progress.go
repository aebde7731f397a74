package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/types"
	"sw/commands/format"
)

// maxFailures is how many of its new tasks may fail before waiting for a
// service to converge gives up.
const maxFailures = 3

// convergence is what the progress display shows at one moment.
type convergence struct {
	slots   []slotView
	running int
	// completed counts a job's slots done; job says it is a job.
	completed int
	job       bool
	done      bool
	err       error
}

type slotView struct {
	label string
	state string
}

// assess judges a service's tasks: which slots run the current spec, and
// whether new tasks have failed past hope.
func assess(svc *types.Service, tasks []*types.Task, before map[string]bool) convergence {
	var cv convergence
	oneShot := svc.Spec.Restart.Condition != types.RestartAny || svc.Spec.Mode.Job()
	cv.job = svc.Spec.Mode.Job()
	failures := 0
	var lastFailed *types.Task
	bySlot := map[string]*types.Task{}
	// nodeSlots are a global service's slots: every node with a task meant
	// to run, of whatever spec (an outdated one is a slot still to update).
	nodeSlots := map[string]bool{}
	for _, t := range tasks {
		if !before[t.ID] && (t.Status.State == types.TaskFailed || t.Status.State == types.TaskRejected) {
			failures++
			// Tasks come ordered by ID: the last failure is the newest.
			if lastFailed == nil || newerTask(t, lastFailed) {
				lastFailed = t
			}
		}
		if t.DesiredState == types.TaskRunning {
			nodeSlots[t.SlotKey()] = true
		}
		if t.SpecVersion != svc.SpecVersion {
			continue
		}
		// A one-shot task that finished stays its slot's task even once
		// the orchestrator, keeping it down per the policy, desires it
		// SHUTDOWN.
		finished := oneShot && t.DesiredState == types.TaskShutdown && t.Status.State == types.TaskComplete
		if t.DesiredState != types.TaskRunning && !finished {
			continue
		}
		k := t.SlotKey()
		nodeSlots[k] = true
		if old := bySlot[k]; old == nil || newerTask(t, old) {
			bySlot[k] = t
		}
	}
	want := int(svc.Spec.Replicas)
	var global []string
	if svc.Spec.Mode.PerNode() {
		for k := range nodeSlots {
			global = append(global, k)
		}
		sort.Strings(global)
		want = len(global)
	}
	settled := 0
	for i := 0; i < want; i++ {
		var t *types.Task
		if svc.Spec.Mode.PerNode() {
			t = bySlot[global[i]]
		} else {
			t = bySlot[strconv.Itoa(i+1)]
		}
		sv := slotView{label: fmt.Sprintf("%d/%d", i+1, want), state: "new"}
		if t != nil {
			sv.state = strings.ToLower(t.Status.State.String())
			if t.Status.State == types.TaskRunning {
				cv.running++
				if !cv.job { // a job's task is done once it completed
					settled++
				}
			} else if oneShot && t.Status.State == types.TaskComplete {
				settled++
				cv.completed++
			}
		}
		cv.slots = append(cv.slots, sv)
	}
	extra := 0
	for _, t := range tasks {
		if t.DesiredState > types.TaskRunning && t.Status.State == types.TaskRunning {
			extra++
		}
	}
	cv.done = settled == want && extra == 0
	if svc.Spec.Mode.PerNode() && want == 0 {
		// No task yet: the orchestrator has not made them (or no node
		// is eligible). Wait, as Docker does, rather than call an empty
		// service converged.
		cv.done = false
	}
	pol := svc.Spec.Restart
	giveUp := failures >= maxFailures || (failures > 0 && pol.Condition == types.RestartNone) ||
		(pol.MaxAttempts > 0 && uint64(failures) > pol.MaxAttempts)
	if !cv.done && giveUp {
		t := lastFailed
		lastErr := fmt.Sprintf("task %s (%s): %s", format.TruncateID(t.ID), t.Name(), firstNonEmpty(t.Status.Err, t.Status.State.Title()))
		cv.err = fmt.Errorf("service %s did not converge: %d new task(s) failed; last: %s", svc.Spec.Name, failures, lastErr)
	}
	return cv
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// waitConverged follows a service's tasks, showing progress as Docker
// does, until every slot runs the current spec or convergence fails.
func waitConverged(c *cli.Context, cl *api.Client, id string) error {
	return waitRollout(c, cl, id, false)
}

// waitRollout is waitConverged that also follows the service's rollout
// (its UpdateStatus): it waits for the rollout to complete, says when it
// rolls back, and fails when it pauses, or when it rolled back and the
// change waited for (rollback false) was not itself a rollback.
func waitRollout(c *cli.Context, cl *api.Client, id string, rollback bool) error {
	svc, err := cl.Service(c.Context, id)
	if err != nil {
		return err
	}
	tasks, idx, err := cl.Tasks(c.Context, api.TaskQuery{Service: id})
	if err != nil {
		return err
	}
	before := map[string]bool{}
	for _, t := range tasks {
		if t.Status.State.Terminal() {
			before[t.ID] = true
		}
	}
	out := progressWriter(c)
	var stableSince time.Time
	sawActive, announced := false, false
	for {
		var state types.UpdateState
		if st := svc.UpdateStatus; st != nil {
			state = st.State
			if state.Rollback() && !announced {
				out.note("rollback: " + strings.TrimPrefix(st.Message, "rollback completed: "))
				announced = true
			}
		}
		sawActive = sawActive || state.Active()
		out.rollingBack = state.Rollback()
		cv := assess(svc, tasks, before)
		out.show(cv)
		switch {
		case state == types.UpdatePaused:
			return fmt.Errorf("service update paused: %s", svc.UpdateStatus.Message)
		case state == types.UpdateRollbackPaused:
			return fmt.Errorf("service rollback paused: %s", svc.UpdateStatus.Message)
		case cv.err != nil && (!state.Active() || svc.Spec.UpdateOrDefault().FailureAction == types.FailureContinue):
			return cv.err
		}
		done := cv.done && !state.Active()
		wait := time.Duration(0)
		switch {
		case !done:
			stableSince = time.Time{}
		case sawActive:
			// The rollout watched every new task for its monitor window:
			// no verify window of the CLI's own on top.
			return out.finishRollout(svc, rollback)
		case stableSince.IsZero():
			stableSince = time.Now()
			wait = verifyWindow
		default:
			wait = verifyWindow - time.Since(stableSince)
			if wait <= 0 {
				return out.finishRollout(svc, rollback)
			}
		}
		tasks, idx, err = nextTasks(c.Context, cl, id, idx, wait)
		if err != nil {
			return err
		}
		if svc, err = cl.Service(c.Context, id); err != nil {
			return err
		}
	}
}

// finishRollout ends the progress display: converged, or, after a
// rollback the user did not ask for, an error that says so.
func (p *progress) finishRollout(svc *types.Service, rollback bool) error {
	p.finish()
	if st := svc.UpdateStatus; st != nil && st.State == types.UpdateRollbackCompleted && !rollback {
		return fmt.Errorf("service %s was rolled back: the update failed; see sw service ps %s", svc.Spec.Name, svc.Spec.Name)
	}
	return nil
}

// verifyWindow is how long every task must keep running before the
// service is called converged: a task that dies right after starting is
// caught rather than reported as success (Docker's monitor does the same).
const verifyWindow = time.Second

// nextTasks waits for the service's tasks to change, or for at most wait
// when it is positive, and returns them with the index they reflect.
func nextTasks(ctx context.Context, cl *api.Client, id string, idx uint64, wait time.Duration) ([]*types.Task, uint64, error) {
	if wait <= 0 {
		return cl.Tasks(ctx, api.TaskQuery{Service: id, Wait: idx})
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tasks, next, err := cl.Tasks(wctx, api.TaskQuery{Service: id, Wait: idx})
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return cl.Tasks(ctx, api.TaskQuery{Service: id})
	}
	return tasks, next, err
}

// progress prints convergence: redrawn in place on a terminal, as plain
// lines (only what changed) otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	quiet    bool
	drawn    int
	lastOver string
	last     map[string]string
	// rollingBack: the rollout shown is a rollback.
	rollingBack bool
}

func progressWriter(c *cli.Context) *progress {
	f, isFile := c.App.Writer.(*os.File)
	return &progress{w: c.App.Writer, tty: isFile && isTerminal(f), quiet: c.Bool("quiet"), last: map[string]string{}}
}

func (p *progress) show(cv convergence) {
	if p.quiet {
		return
	}
	over := fmt.Sprintf("overall progress: %d out of %d tasks", cv.running, len(cv.slots))
	if cv.job {
		over = fmt.Sprintf("job progress: %d out of %d complete", cv.completed, len(cv.slots))
	}
	if p.rollingBack {
		over = fmt.Sprintf("overall progress: rolling back update: %d out of %d tasks", cv.running, len(cv.slots))
	}
	if p.tty {
		if p.drawn > 0 {
			fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
		}
		fmt.Fprintf(p.w, "\x1b[2K%s\n", over)
		for _, s := range cv.slots {
			fmt.Fprintf(p.w, "\x1b[2K%s: %-9s %s\n", s.label, s.state, bar(s.state))
		}
		p.drawn = len(cv.slots) + 1
		return
	}
	if over != p.lastOver {
		fmt.Fprintln(p.w, over)
		p.lastOver = over
	}
	for _, s := range cv.slots {
		if p.last[s.label] != s.state {
			fmt.Fprintf(p.w, "%s: %s\n", s.label, s.state)
			p.last[s.label] = s.state
		}
	}
}

// note prints a line of its own above the progress (Docker's "rollback:
// …" line).
func (p *progress) note(line string) {
	if p.quiet {
		return
	}
	if p.tty && p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
	fmt.Fprintln(p.w, line)
	p.lastOver, p.last = "", map[string]string{}
}

func (p *progress) finish() {
	if !p.quiet {
		fmt.Fprintln(p.w, "verify: Service converged")
	}
}

var barStates = []string{"new", "pending", "assigned", "accepted", "preparing", "starting", "running"}

func bar(state string) string {
	const width = 50
	n := 0
	for i, s := range barStates {
		if s == state {
			n = width * (i + 1) / len(barStates)
		}
	}
	return "[" + strings.Repeat("=", n) + ">" + strings.Repeat(" ", width-n) + "]"
}
