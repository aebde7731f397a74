package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"sw/cluster/api"
	"sw/cluster/backup"
	"sw/cluster/hooks"
)

// backupDaemon answers the backup and restore routes.
type backupDaemon struct {
	archive []byte
	mu      sync.Mutex
	got     []byte // the last restore's body
	key     string // and its unlock key
	q       string
	calls   int
}

func (f *backupDaemon) serve(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/swarm/backup", func(w http.ResponseWriter, r *http.Request) {
		info, _ := json.Marshal(api.BackupInfo{NodeID: "n1", ClusterID: "c1", RaftIndex: 42, Size: int64(len(f.archive))})
		w.Header().Set(api.HeaderBackup, string(info))
		w.Write(f.archive)
	})
	mux.HandleFunc("POST /v1/swarm/restore", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got, f.key, f.q = b, r.Header.Get(api.HeaderUnlockKey), r.URL.RawQuery
		f.calls++
		f.mu.Unlock()
		json.NewEncoder(w).Encode(api.RestoreResponse{NodeID: "n1", ClusterID: "c1", RaftIndex: 42, Services: 1, Nodes: 3,
			OtherManagers: []string{"m2"}})
	})
	sock := filepath.Join(t.TempDir(), "sw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}

func testArchive(t *testing.T, sealed bool) []byte {
	t.Helper()
	var b bytes.Buffer
	err := backup.Write(&b, backup.Manifest{NodeID: "n1", ClusterID: "c1", RaftIndex: 42, KeySealed: sealed},
		[]backup.Entry{{Name: "node.json", Data: []byte("{}"), Mode: 0o600}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// keyPlugin reads unlock keys, as the autolock plugin does.
type keyPlugin struct{ asked *int }

func (keyPlugin) Name() string        { return "keys" }
func (keyPlugin) Description() string { return "reads keys" }
func (p keyPlugin) ReadUnlockKey(*cli.Context) (string, error) {
	*p.asked++
	return "SWMKEY-1-given", nil
}

func runCLI(t *testing.T, plugins []hooks.Plugin, args ...string) (string, string, int) {
	t.Helper()
	app := App(plugins)
	var out, errb bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errb
	code := Run(context.Background(), app, append([]string{"sw"}, args...), &errb)
	return out.String(), errb.String(), code
}

// TestSwarmBackupCommand: the archive lands in FILE (0600, through a
// temporary file) or on stdout with the summary on stderr; -q is quiet.
func TestSwarmBackupCommand(t *testing.T) {
	f := &backupDaemon{archive: testArchive(t, false)}
	host := f.serve(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "b.tar")
	os.WriteFile(file, []byte("an older backup"), 0o644)
	out, errs, code := runCLI(t, nil, "-H", host, "swarm", "backup", file)
	if code != 0 || !strings.HasPrefix(out, "Backup of swarm c1 written to "+file+": ") || !strings.Contains(out, "Raft index 42") ||
		!strings.Contains(out, "keep it as safe as the data dir") {
		t.Fatalf("backup FILE: %d %q %q", code, out, errs)
	}
	got, _ := os.ReadFile(file)
	fi, _ := os.Stat(file)
	if !bytes.Equal(got, f.archive) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %d bytes, mode %v", len(got), fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	out, errs, code = runCLI(t, nil, "-H", host, "swarm", "backup", "-")
	if code != 0 || out != string(f.archive) || !strings.Contains(errs, "written to stdout") {
		t.Fatalf("backup -: %d, %d bytes, %q", code, len(out), errs)
	}
	if out, errs, code = runCLI(t, nil, "-H", host, "swarm", "backup", "-q", file); code != 0 || out != "" || errs != "" {
		t.Fatalf("backup -q: %d %q %q", code, out, errs)
	}
	if _, errs, code = runCLI(t, nil, "-H", host, "swarm", "backup"); code != 1 || !strings.Contains(errs, "requires exactly 1 argument") {
		t.Fatalf("backup without FILE: %d %q", code, errs)
	}
}

// TestSwarmRestoreCommand: the archive is sent whole, with the addresses;
// a sealed one's unlock key is read through the plugin that reads keys
// and sent along; a file that is no backup never reaches the daemon.
func TestSwarmRestoreCommand(t *testing.T) {
	f := &backupDaemon{}
	host := f.serve(t)
	dir := t.TempDir()
	plain, sealed, junk := filepath.Join(dir, "plain.tar"), filepath.Join(dir, "sealed.tar"), filepath.Join(dir, "junk")
	os.WriteFile(plain, testArchive(t, false), 0o600)
	os.WriteFile(sealed, testArchive(t, true), 0o600)
	os.WriteFile(junk, []byte("not a tar"), 0o600)
	asked := 0
	plugins := []hooks.Plugin{keyPlugin{asked: &asked}}

	out, errs, code := runCLI(t, plugins, "-H", host, "swarm", "restore", "--listen-addr", "10.0.0.5:2377", plain)
	if code != 0 || !strings.Contains(out, "current node (n1) is now the only manager of swarm c1") ||
		!strings.Contains(out, "(1 service, 3 nodes)") || !strings.Contains(out, "    m2\n") {
		t.Fatalf("restore: %d %q %q", code, out, errs)
	}
	want, _ := os.ReadFile(plain)
	if !bytes.Equal(f.got, want) || f.key != "" || asked != 0 || f.q != "listen-addr=10.0.0.5%3A2377" {
		t.Fatalf("restore sent %d bytes, key %q, query %q; asked %d times", len(f.got), f.key, f.q, asked)
	}
	if _, errs, code = runCLI(t, plugins, "-H", host, "swarm", "restore", sealed); code != 0 || f.key != "SWMKEY-1-given" || asked != 1 {
		t.Fatalf("sealed restore: %d %q, key %q, asked %d", code, errs, f.key, asked)
	}
	if _, errs, code = runCLI(t, nil, "-H", host, "swarm", "restore", sealed); code != 1 || !strings.Contains(errs, "no plugin that reads one") {
		t.Fatalf("sealed restore without a key reader: %d %q", code, errs)
	}
	calls := f.calls
	for _, args := range [][]string{{junk}, {filepath.Join(dir, "missing")}, {"-"}, {}} {
		_, errs, code := runCLI(t, plugins, append([]string{"-H", host, "swarm", "restore"}, args...)...)
		if code != 1 || errs == "" {
			t.Fatalf("restore %v: %d %q", args, code, errs)
		}
	}
	if f.calls != calls {
		t.Fatal("a bad restore reached the daemon")
	}
}

// TestHumanSize pins the sizes "swarm backup" prints (go-units, as
// Docker): decimal units, four significant digits.
func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 19968: "19.97kB", 2500000: "2.5MB",
		3 * 1000 * 1000 * 1000 * 1000 * 1000: "3PB"} {
		if got := units.HumanSize(float64(n)); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
