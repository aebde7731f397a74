package consensus

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestStoppedChild: a checking child ended from outside is an unfinished
// check, not damage; one that crashed of itself is damage.
func TestStoppedChild(t *testing.T) {
	cases := []struct {
		name    string
		run     func() error
		stopped bool
	}{
		{"terminated", func() error { return signalled(t, syscall.SIGTERM) }, true},
		{"interrupted", func() error { return signalled(t, syscall.SIGINT) }, true},
		{"killed", func() error { return signalled(t, syscall.SIGKILL) }, true},
		{"a fault of its own", func() error { return signalled(t, syscall.SIGSEGV) }, false},
		{"a Go panic (exit status 2)", func() error { return exec.Command("sh", "-c", "exit 2").Run() }, false},
		{"not a child error at all", func() error { return syscall.ENOENT }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := stopped(tc.run()); got != tc.stopped {
				t.Fatalf("stopped = %v, want %v", got, tc.stopped)
			}
		})
	}
}

func signalled(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	_ = cmd.Process.Signal(sig)
	return cmd.Wait()
}
