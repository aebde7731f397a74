package pki

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	steps := []struct {
		data []byte
		perm os.FileMode
	}{
		{[]byte("first"), 0o600},
		{[]byte("second, longer"), 0o644},
		{nil, 0o600},
	}
	for _, s := range steps {
		if err := WriteFileAtomic(path, s.data, s.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(s.data) {
			t.Fatalf("read %q, %v; want %q", got, err, s.data)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != s.perm {
			t.Errorf("mode = %v, want %v", fi.Mode().Perm(), s.perm)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
		t.Errorf("write into a missing directory succeeded")
	}
	// Renaming over a directory fails, and leaves no temporary file.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(sub, []byte("x"), 0o600); err == nil {
		t.Errorf("write over a non-empty directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
