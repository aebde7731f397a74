package e2e

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sys/unix"
)

// The fault suite: faults a swarm must survive with nothing acknowledged
// lost and nothing applied twice, each printing its counts.

// Operations of the linearizability check. Each key is one service: it
// exists or not, and holds a value in its env entry V.
type regInput struct {
	op    string // "create", "put", "get"
	key   string
	value string // put
}

// regOutput is what an operation answered. unknown: the client cannot
// tell whether a write happened (its manager died under it, or the write
// timed out): it may take effect at any time after its call, or never.
type regOutput struct {
	ok, exists, unknown bool
	value               string // get
}

type regState struct {
	exists bool
	value  string
}

// regModel is a service as a register: create makes it (once), put sets
// its value, get reads both.
var regModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []any { return []any{regState{}} },
	Step: func(state, input, output any) []any {
		st, in, out := state.(regState), input.(regInput), output.(regOutput)
		switch in.op {
		case "create":
			made := regState{exists: true}
			switch {
			case out.unknown && !st.exists:
				return []any{st, made}
			case out.unknown:
				return []any{st}
			case out.ok && !st.exists:
				return []any{made}
			case !out.ok && out.exists && st.exists: // "already exists"
				return []any{st}
			}
			return nil
		case "put":
			set := regState{exists: true, value: in.value}
			switch {
			case out.unknown && st.exists:
				return []any{st, set}
			case out.unknown:
				return []any{st}
			case out.ok && st.exists:
				return []any{set}
			case !out.ok && !out.exists && !st.exists: // "no such service"
				return []any{st}
			case !out.ok && out.exists && st.exists: // a definite failure: a conflict
				return []any{st}
			}
			return nil
		case "get":
			if out.exists == st.exists && (!st.exists || out.value == st.value) {
				return []any{st}
			}
			return nil
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		return fmt.Sprintf("%s(%s %s) -> %+v", in.op, in.key, in.value, out)
	},
}

// history records operations as the clients see them.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
	keys  []string // keys a create was invoked for
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(client int, in regInput, call int64, out regOutput) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ret := h.now()
	if out.unknown {
		ret = math.MaxInt64
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (h *history) pick(r *rand.Rand) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.keys) == 0 {
		return "", false
	}
	return h.keys[r.Intn(len(h.keys))], true
}

func (h *history) invoked(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = append(h.keys, key)
}

// notSent reports whether a CLI run failed before it reached a daemon
// (its daemon is down): the operation never happened.
func notSent(r result) bool {
	return strings.Contains(r.stderr, "cannot connect to the sw daemon") &&
		(strings.Contains(r.stderr, "no such file or directory") || strings.Contains(r.stderr, "connection refused"))
}

// envValue reads V=... from `{{range .Env}}{{.}};{{end}}` output.
func envValue(out string) string {
	for _, kv := range strings.Split(strings.TrimSpace(out), ";") {
		if v, ok := strings.CutPrefix(kv, "V="); ok {
			return v
		}
	}
	return ""
}

const envFormat = "{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}};{{end}}"

// runOp runs one operation against manager m and classifies its answer;
// false if it never reached a daemon.
func runOp(m *node, in regInput) (regOutput, bool) {
	switch in.op {
	case "create":
		r := m.sw("service", "create", "-d", "--name", in.key, "--replicas", "0", demoImage)
		switch {
		case r.code == 0:
			return regOutput{ok: true}, true
		case notSent(r):
			return regOutput{}, false
		case strings.Contains(r.stderr, "already exists"):
			return regOutput{exists: true}, true
		}
		return regOutput{unknown: true}, true
	case "put":
		r := m.sw("service", "update", "-d", "--env-add", "V="+in.value, in.key)
		switch {
		case r.code == 0:
			return regOutput{ok: true}, true
		case notSent(r):
			return regOutput{}, false
		case strings.Contains(r.stderr, "no such service"):
			return regOutput{}, true
		case strings.Contains(r.stderr, "changed concurrently"):
			return regOutput{exists: true}, true
		}
		return regOutput{unknown: true}, true
	default:
		r := m.sw("service", "inspect", "--format", envFormat, in.key)
		switch {
		case r.code == 0:
			return regOutput{ok: true, exists: true, value: envValue(r.stdout)}, true
		case strings.Contains(r.stderr, "no such service"):
			return regOutput{ok: true}, true
		}
		return regOutput{}, false // a failed read has no effect: not recorded
	}
}

// leaderNode finds the node that leads, as the live managers say.
func leaderNode(t *testing.T, managers []*node) *node {
	t.Helper()
	for _, m := range managers {
		if m.stopped {
			continue
		}
		id := m.leaderID()
		for _, l := range managers {
			if l.id == id && !l.stopped {
				return l
			}
		}
	}
	return nil
}

// TestFaultLeaderKilledDuringWrites: four clients create, update and read
// services through random managers while the leader is killed twice (and
// restarted); porcupine checks the history for linearizability, and every
// acknowledged create must exist at the end.
func TestFaultLeaderKilledDuringWrites(t *testing.T) {
	managers := newSwarm(t, "lk", 3, 0)
	h := &history{start: time.Now()}
	const clients = 4
	const runFor = 24 * time.Second
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards the managers' stopped flags against the killer
	live := func(r *rand.Rand) *node {
		mu.Lock()
		defer mu.Unlock()
		var up []*node
		for _, m := range managers {
			if !m.stopped {
				up = append(up, m)
			}
		}
		return up[r.Intn(len(up))]
	}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(c) + time.Now().UnixNano()))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := regInput{op: "get"}
				switch p := r.Intn(10); {
				case p < 3:
					in = regInput{op: "create", key: fmt.Sprintf("lk-%d-%d", c, i)}
					h.invoked(in.key)
				case p < 7:
					in.op, in.value = "put", fmt.Sprintf("c%d.%d", c, i)
				}
				if in.op != "create" {
					k, ok := h.pick(r)
					if !ok {
						continue
					}
					in.key = k
				}
				call := h.now()
				if out, sent := runOp(live(r), in); sent {
					h.add(c, in, call, out)
				}
			}
		}(c)
	}
	// The faults: the leader is killed at 4 s and 13 s, each time brought
	// back 4 s later.
	var kills []string
	for _, at := range []time.Duration{4 * time.Second, 13 * time.Second} {
		time.Sleep(time.Until(h.start.Add(at)))
		l := leaderNode(t, managers)
		if l == nil {
			t.Fatal("no leader to kill")
		}
		mu.Lock()
		l.kill()
		mu.Unlock()
		kills = append(kills, l.name)
		time.Sleep(4 * time.Second)
		mu.Lock()
		l.start()
		mu.Unlock()
	}
	time.Sleep(time.Until(h.start.Add(runFor)))
	close(stop)
	wg.Wait()

	// Once all is quiet, every key is read back through the leader.
	waitFor(t, 20*time.Second, "a leader and every manager Ready", func() bool {
		ok, _ := allReady(managers[0], managers)
		return ok
	})
	lead := leaderNode(t, managers)
	existing := map[string]int{}
	for _, name := range lines(lead.ok("service", "ls", "--format", "{{.Name}}")) {
		existing[name]++
	}
	for _, k := range h.keys {
		call := h.now()
		out, sent := runOp(lead, regInput{op: "get", key: k})
		if !sent {
			t.Fatalf("final read of %s failed", k)
		}
		h.add(clients, regInput{op: "get", key: k}, call, out)
	}

	var ops, acked, unknown, failed, lost, dupes int
	ackedCreate := map[string]bool{}
	for _, op := range h.ops {
		in, out := op.Input.(regInput), op.Output.(regOutput)
		if op.ClientId == clients {
			continue // the final reads
		}
		ops++
		switch {
		case in.op == "get":
		case out.unknown:
			unknown++
		case out.ok:
			acked++
			if in.op == "create" {
				ackedCreate[in.key] = true
			}
		case in.op == "create" && out.exists:
			dupes++ // names are unique: "already exists" is a retry reported as failure
		default:
			failed++
		}
	}
	for k := range ackedCreate {
		if existing[k] != 1 {
			lost++
			t.Errorf("acknowledged create of %s: %d services of that name at the end", k, existing[k])
		}
	}
	for name, n := range existing {
		if n > 1 {
			dupes++
			t.Errorf("%d services named %s", n, name)
		}
	}
	res, info := porcupine.CheckOperationsVerbose(regModel.ToModel(), h.ops, time.Minute)
	fmt.Printf("fault suite: leader killed twice (%s) during writes: operations %d, acknowledged writes %d, "+
		"unknown outcome %d, refused %d, lost %d, duplicates %d; linearizability: %s\n",
		strings.Join(kills, ", "), ops, acked, unknown, failed, lost, dupes, res)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("sw-porcupine-%d.html", time.Now().Unix()))
		if f, err := os.Create(path); err == nil {
			_ = porcupine.Visualize(regModel.ToModel(), info, f)
			f.Close()
		}
		t.Fatalf("the history is not linearizable (%s); visualization in %s", res, path)
	}
	if dupes != 0 || lost != 0 {
		t.Fatalf("lost %d, duplicates %d", lost, dupes)
	}
	if acked < 50 || len(ackedCreate) < 20 {
		t.Fatalf("too few acknowledged operations to mean anything: %d writes, %d creates", acked, len(ackedCreate))
	}
}

// TestFaultAllManagersRestarted: every manager is killed at once and
// restarted; the state is whole and no task is duplicated.
func TestFaultAllManagersRestarted(t *testing.T) {
	nodes := newSwarm(t, "ar", 3, 1)
	managers, worker := nodes[:3], nodes[3]
	m1 := managers[0]
	m1.ok("service", "create", "--name", "ar-web", "--replicas", "6", demoImage)
	m1.ok("service", "create", "-d", "--name", "ar-idle", "--replicas", "0", demoImage)
	before := runningContainers(t, "ar-web", nodes...)
	if sum(before) != 6 {
		t.Fatalf("containers before: %s", describe(before))
	}
	ids := map[string]string{}
	for _, n := range nodes {
		for name, id := range n.containers(false) {
			ids[name] = id
		}
	}
	for _, m := range managers {
		m.kill()
	}
	for _, m := range managers {
		m.start()
	}
	eventually(t, 30*time.Second, "every node Ready after the restart", func() (bool, string) { return allReady(m1, nodes) })
	eventually(t, 30*time.Second, "6 tasks running", func() (bool, string) {
		got := runningTasksByNode(m1, "ar-web")
		return sum(got) == 6, describe(got)
	})
	// Long enough for a wrongly downed node's tasks to be moved.
	steady(t, 5*time.Second, "the same 6 containers", func() (bool, string) {
		now := runningContainers(t, "ar-web", nodes...)
		return sum(now) == 6 && now["ar-w1"] == before["ar-w1"], describe(now)
	})
	same := 0
	for _, n := range nodes {
		for name, id := range n.containers(false) {
			if ids[name] == id {
				same++
			}
		}
	}
	svcs := lines(m1.ok("service", "ls", "--format", "{{.Name}}"))
	running := sum(runningContainers(t, "ar-web", nodes...))
	fmt.Printf("fault suite: all 3 managers killed at once and restarted: services %d of 2, containers %d of 6 "+
		"(%d kept, not replaced), duplicates %d\n", len(svcs), running, same, max(0, running-6))
	if len(svcs) != 2 {
		t.Fatalf("services after the restart: %v", svcs)
	}
	if same != 6 {
		t.Log(m1.ok("service", "ps", "ar-web"))
		t.Fatalf("%d of 6 containers survived the managers' restart; the agents should adopt them", same)
	}
	if st := nodeStates(m1)[worker.name]; st.status != "Ready" {
		t.Fatalf("the worker is %q after the managers' restart", st.status)
	}
}

// TestFaultWorkerKilledMidUpdate: a worker dies while a rolling update is
// under way; the update finishes on the nodes left, with every task on
// the new spec and none twice, and the worker's return changes nothing.
func TestFaultWorkerKilledMidUpdate(t *testing.T) {
	nodes := newSwarm(t, "wu", 1, 2)
	m, w1, w2 := nodes[0], nodes[1], nodes[2]
	m.ok("node", "update", "--availability", "drain", "wu-m1")
	m.ok("service", "create", "--name", "wu-web", "--replicas", "4", demoImage)
	if got := runningContainers(t, "wu-web", w1, w2); got["wu-w1"] == 0 || got["wu-w2"] == 0 {
		t.Fatalf("tasks not spread over both workers: %s", describe(got))
	}
	m.ok("service", "update", "-d", "--env-add", "GEN=2", "wu-web")
	// Kill a worker as soon as the update has replaced its first task.
	waitFor(t, 30*time.Second, "the update under way", func() bool {
		for _, r := range serviceTasks(m, "wu-web") {
			if r.desired == "Shutdown" {
				return true
			}
		}
		return false
	})
	w2.kill()
	start := time.Now()
	eventually(t, 60*time.Second, "4 tasks of the new spec running on w1", func() (bool, string) {
		got := runningTasksByNode(m, "wu-web")
		out := m.ok("service", "inspect", "--format", "{{.Version}}", "wu-web")
		return got["wu-w1"] == 4 && sum(got) == 4, describe(got) + " v" + strings.TrimSpace(out)
	})
	took := time.Since(start)
	// Every live task runs the new env.
	ids := strings.Fields(dockerOut(t, "ps", "-q", "--filter", "label=com.sw.node.id="+w1.id, "--filter", "label=com.sw.service.name=wu-web"))
	for _, id := range ids {
		if env := dockerOut(t, "inspect", "--format", "{{range .Config.Env}}{{.}} {{end}}", id); !strings.Contains(env, "GEN=2") {
			t.Fatalf("container %s runs the old spec: %s", id, env)
		}
	}
	w2.start()
	eventually(t, 30*time.Second, "w2 back Ready", func() (bool, string) { return allReady(m, nodes) })
	eventually(t, 30*time.Second, "w2's old containers stopped", func() (bool, string) {
		got := runningContainers(t, "wu-web", w1, w2)
		return got["wu-w2"] == 0 && got["wu-w1"] == 4, describe(got)
	})
	steady(t, 3*time.Second, "4 containers", func() (bool, string) {
		got := runningContainers(t, "wu-web", w1, w2)
		return sum(got) == 4, describe(got)
	})
	var desired []string
	for _, r := range serviceTasks(m, "wu-web") {
		if r.desired == "Running" {
			desired = append(desired, r.name)
		}
	}
	sort.Strings(desired)
	fmt.Printf("fault suite: worker killed mid-update: update done %s after the kill, tasks desired running %d (%s), "+
		"containers running %d, duplicates %d\n", took.Round(100*time.Millisecond), len(desired), strings.Join(desired, " "),
		sum(runningContainers(t, "wu-web", w1, w2)), len(desired)-4)
	if len(desired) != 4 {
		t.Fatalf("%d tasks desired running, want 4: %v", len(desired), desired)
	}
}

// fill writes a file into dir until its file system has less than left
// bytes free; it returns the file's path.
func fill(t *testing.T, dir string, left uint64) string {
	t.Helper()
	path := filepath.Join(dir, "fill")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := 0; i < 4096; i++ {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Bavail*uint64(st.Bsize) < left {
			return path
		}
		if _, err := f.Write(chunk); err != nil {
			return path // full
		}
	}
	t.Fatal("the file system never filled")
	return ""
}

// TestFaultDiskFull: a manager whose data dir (a small tmpfs) fills up
// refuses writes with a clear error, loses nothing, and takes writes again
// once space is freed, across a restart too.
func TestFaultDiskFull(t *testing.T) {
	var mnt string
	m := newNodeWith(t, "df", func(dataDir string) {
		mnt = dataDir
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("mounting a tmpfs for the data dir (the test needs root): %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("umount", "-l", dataDir).Run() })
	}, "--min-free-disk", "16MiB")
	m.initSwarm()
	m.ok("service", "create", "-d", "--name", "df-before", "--replicas", "0", demoImage)
	junk := fill(t, mnt, 8<<20)

	r := m.sw("service", "create", "-d", "--name", "df-full", "--replicas", "0", demoImage)
	if r.code == 0 || !strings.Contains(r.stderr, "no space left for the swarm's state") || !strings.Contains(r.stderr, "--min-free-disk") {
		t.Fatalf("create on a full disk: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	refused := 0
	for i := 0; i < 5; i++ {
		if r := m.sw("service", "update", "-d", "--env-add", fmt.Sprintf("N=%d", i), "df-before"); r.code != 0 {
			refused++
		}
	}
	if out := m.ok("service", "ls", "--format", "{{.Name}}"); strings.TrimSpace(out) != "df-before" {
		t.Fatalf("services on a full disk: %q", out)
	}
	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a write once space is back", func() (bool, string) {
		r := m.sw("service", "create", "-d", "--name", "df-after", "--replicas", "0", demoImage)
		return r.code == 0, r.stderr
	})
	m.kill()
	m.start()
	var names []string
	eventually(t, 20*time.Second, "both services after a restart", func() (bool, string) {
		r := m.sw("service", "ls", "--format", "{{.Name}}")
		names = lines(r.stdout)
		return r.code == 0 && len(names) == 2, r.stdout + r.stderr
	})
	fmt.Printf("fault suite: disk full on a manager: writes refused %d of %d, services kept %d of 1, "+
		"acknowledged after space returned %d, lost 0, after a restart %v\n", refused+1, 6, 1, 1, names)
	if refused != 5 {
		t.Fatalf("%d of 5 updates on a full disk were refused", refused)
	}
	if env := m.ok("service", "inspect", "--format", envFormat, "df-before"); strings.Contains(env, "N=") {
		t.Fatalf("a refused update was applied: %s", env)
	}
}
