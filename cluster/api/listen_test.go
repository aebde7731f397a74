package api

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The socket is 0600 however permissive the umask (here none at all),
// reachable, alone in its directory, and gone once closed. Not parallel:
// the umask is the process's.
func TestListenUnixMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "sw.sock")
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if got := l.Addr().String(); got != path {
		t.Errorf("Addr = %s, want %s", got, path)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialling the socket: %v", err)
	}
	c.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the socket's directory holds %v, want only sw.sock (no temporary directory left)", names)
	}
	if _, err := ListenUnix(path); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("a second ListenUnix on a live socket: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("after Close the socket is still there: %v", err)
	}
}

// A socket left behind by a killed daemon is replaced.
func TestListenUnixStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sw.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays, nobody listens
	l, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer l.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced socket: %v, %v", fi, err)
	}
}
