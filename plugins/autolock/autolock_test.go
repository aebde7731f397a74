package autolock

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/hooks"
	"sw/commands"
)

// fakeDaemon answers the API calls the plugin's commands make.
type fakeDaemon struct {
	mu       sync.Mutex
	key      string
	enabled  bool
	init     *api.InitRequest
	unlocked string
	calls    []string
}

func (f *fakeDaemon) handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, msg string) {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(api.ErrorResponse{Message: msg})
	}
	mux.HandleFunc("POST /v1/swarm/init", func(w http.ResponseWriter, r *http.Request) {
		var req api.InitRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.init = &req
		for _, p := range req.Plugins {
			if p == "autolock" {
				f.enabled, f.key = true, "SWMKEY-1-first"
			}
		}
		ok(w, api.InitResponse{NodeID: "n1", AdvertiseAddr: "10.0.0.1:2377", WorkerToken: "SWMTKN-1-x"})
	})
	mux.HandleFunc("POST /v1/plugins/autolock/{action}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, "plugin "+r.PathValue("action"))
		f.enabled = r.PathValue("action") == "enable"
		if f.enabled && f.key == "" {
			f.key = "SWMKEY-1-enabled"
		}
		if !f.enabled {
			f.key = ""
		}
		ok(w, struct{}{})
	})
	mux.HandleFunc("POST /v1/swarm/update", func(w http.ResponseWriter, r *http.Request) {
		var req api.SwarmUpdateRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		defer f.mu.Unlock()
		if req.RotateUnlockKey {
			if !f.enabled {
				fail(w, "plugin autolock is disabled: no unlock key is set")
				return
			}
			f.key = "SWMKEY-1-rotated"
		}
		f.calls = append(f.calls, "update")
		ok(w, struct{}{})
	})
	mux.HandleFunc("GET /v1/swarm/unlockkey", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.enabled {
			fail(w, "plugin autolock is disabled: no unlock key is set")
			return
		}
		ok(w, api.UnlockKeyResponse{UnlockKey: f.key})
	})
	mux.HandleFunc("POST /v1/swarm/unlock", func(w http.ResponseWriter, r *http.Request) {
		var req api.UnlockRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		defer f.mu.Unlock()
		if req.UnlockKey != "SWMKEY-1-right" {
			fail(w, "invalid unlock key")
			return
		}
		f.unlocked = req.UnlockKey
		ok(w, struct{}{})
	})
	return mux
}

// run runs the CLI with the autolock plugin against a fake daemon.
func run(t *testing.T, f *fakeDaemon, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "sw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f.handler())
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	app := commands.App([]hooks.Plugin{New()})
	var out, errb bytes.Buffer
	app.Writer, app.ErrWriter, app.Reader = &out, &errb, strings.NewReader(stdin)
	code = commands.Run(context.Background(), app, append([]string{"sw", "-H", "unix://" + sock}, args...), &errb)
	return out.String(), errb.String(), code
}

func TestExtendAddsFlagsAndCommands(t *testing.T) {
	app := commands.App([]hooks.Plugin{New()})
	find := func(cmds []*cli.Command, name string) *cli.Command {
		for _, c := range cmds {
			if c.Name == name {
				return c
			}
		}
		return nil
	}
	swarm := find(app.Commands, "swarm")
	for _, sub := range []string{"unlock", "unlock-key"} {
		if find(swarm.Subcommands, sub) == nil {
			t.Errorf("no 'swarm %s'", sub)
		}
	}
	for _, sub := range []string{"init", "update"} {
		c := find(swarm.Subcommands, sub)
		has := false
		for _, fl := range c.Flags {
			for _, n := range fl.Names() {
				has = has || n == "autolock"
			}
		}
		if !has {
			t.Errorf("'swarm %s' has no --autolock", sub)
		}
	}
	p := New()
	if p.Name() != "autolock" || !p.DefaultDisabled() || p.Description() == "" {
		t.Fatal("plugin identity")
	}
}

func TestInitAutolock(t *testing.T) {
	f := &fakeDaemon{}
	out, errs, code := run(t, f, "", "swarm", "init", "--autolock")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if f.init == nil || strings.Join(f.init.Plugins, ",") != "autolock" {
		t.Fatalf("init request: %+v", f.init)
	}
	if !strings.HasPrefix(out, "Swarm initialized") ||
		!strings.Contains(out, "To unlock a swarm manager after it restarts, run the `sw swarm unlock` command and provide the following key:\n\n    SWMKEY-1-first\n") {
		t.Fatalf("output:\n%s", out)
	}
	for _, args := range [][]string{
		{"swarm", "init", "--autolock", "--no-plugin", "autolock"},
		{"swarm", "init", "--autolock", "--force-new-cluster"},
	} {
		if _, errs, code := run(t, &fakeDaemon{}, "", args...); code == 0 || errs == "" {
			t.Errorf("%v accepted", args)
		}
	}
	// Without the flag, nothing about keys.
	f = &fakeDaemon{}
	out, _, _ = run(t, f, "", "swarm", "init")
	if strings.Contains(out, "unlock") || len(f.init.Plugins) != 0 {
		t.Fatalf("plain init: %q %+v", out, f.init)
	}
}

func TestUpdateAutolock(t *testing.T) {
	f := &fakeDaemon{}
	out, errs, code := run(t, f, "", "swarm", "update", "--autolock=true")
	if code != 0 || !strings.HasPrefix(out, "Swarm updated.\n") || !strings.Contains(out, "    SWMKEY-1-enabled\n") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	out, _, code = run(t, f, "", "swarm", "update", "--autolock=false")
	if code != 0 || out != "Swarm updated.\n" || f.enabled {
		t.Fatalf("autolock=false: exit %d, out %q", code, out)
	}
	if strings.Join(f.calls, ",") != "plugin enable,plugin disable" {
		t.Fatalf("calls: %v", f.calls)
	}
	// Plugin enable prints the key too.
	out, _, code = run(t, f, "", "plugin", "enable", "autolock")
	if code != 0 || !strings.HasPrefix(out, "autolock\n") || !strings.Contains(out, "SWMKEY-1-enabled") {
		t.Fatalf("plugin enable: %q", out)
	}
}

func TestUnlockKeyCommand(t *testing.T) {
	f := &fakeDaemon{enabled: true, key: "SWMKEY-1-abc"}
	out, _, code := run(t, f, "", "swarm", "unlock-key", "-q")
	if code != 0 || out != "SWMKEY-1-abc\n" {
		t.Fatalf("-q: %q", out)
	}
	out, _, _ = run(t, f, "", "swarm", "unlock-key", "--rotate")
	if !strings.HasPrefix(out, "Successfully rotated manager unlock key.\n\nTo unlock") || !strings.Contains(out, "SWMKEY-1-rotated") {
		t.Fatalf("--rotate: %q", out)
	}
	f.enabled = false
	for _, args := range [][]string{{"swarm", "unlock-key"}, {"swarm", "unlock-key", "--rotate"}} {
		_, errs, code := run(t, f, "", args...)
		if code != 1 || !strings.Contains(errs, "plugin autolock is disabled") {
			t.Fatalf("%v while disabled: %d %q", args, code, errs)
		}
	}
}

func TestUnlockCommand(t *testing.T) {
	f := &fakeDaemon{}
	if _, errs, code := run(t, f, "SWMKEY-1-right\n", "swarm", "unlock"); code != 0 || f.unlocked != "SWMKEY-1-right" {
		t.Fatalf("right key: %d %q", code, errs)
	}
	if _, errs, code := run(t, f, "SWMKEY-1-wrong", "swarm", "unlock"); code != 1 || !strings.Contains(errs, "invalid unlock key") {
		t.Fatalf("wrong key: %d %q", code, errs)
	}
	if _, errs, code := run(t, f, "\n", "swarm", "unlock"); code != 1 || !strings.Contains(errs, "no unlock key given") {
		t.Fatalf("no key: %d %q", code, errs)
	}
}

func TestPrintKey(t *testing.T) {
	var b bytes.Buffer
	PrintKey(&b, "SWMKEY-1-k")
	want := "To unlock a swarm manager after it restarts, run the `sw swarm unlock` command and provide the following key:\n\n    SWMKEY-1-k\n\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Fatalf("%q", b.String())
	}
}
