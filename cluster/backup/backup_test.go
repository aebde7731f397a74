package backup

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testEntries = []Entry{
	{Name: "node.json", Data: []byte(`{"NodeID":"n1"}`), Mode: 0o600},
	{Name: "certificates/swarm-node.key", Data: []byte("-----BEGIN SW SEALED PRIVATE KEY-----\n"), Mode: 0o600},
	{Name: "raft/snapshots/1-2-3/state", Data: bytes.Repeat([]byte("s"), 100000), Mode: 0o600},
}

func allowAll(string) bool { return true }

func archive(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	m := Manifest{CreatedAt: time.Unix(1700000000, 0).UTC(), NodeID: "n1", ClusterID: "c1", RaftIndex: 42, RaftTerm: 3, KeySealed: true}
	if err := Write(&b, m, testEntries); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRoundTrip: what Write wrote, Extract reads back, manifest first.
func TestRoundTrip(t *testing.T) {
	data := archive(t)
	m, err := ReadManifest(bytes.NewReader(data))
	if err != nil || m.NodeID != "n1" || m.RaftIndex != 42 || !m.KeySealed || m.Version != FormatVersion || len(m.Files) != 3 {
		t.Fatalf("ReadManifest = %+v, %v", m, err)
	}
	dir := filepath.Join(t.TempDir(), "x")
	m2, err := Extract(bytes.NewReader(data), dir, allowAll)
	if err != nil || m2.ClusterID != "c1" {
		t.Fatalf("Extract = %+v, %v", m2, err)
	}
	for _, e := range testEntries {
		got, err := os.ReadFile(filepath.Join(dir, e.Name))
		if err != nil || !bytes.Equal(got, e.Data) {
			t.Fatalf("%s: %d bytes, %v", e.Name, len(got), err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, e.Name)); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s extracted with mode %v", e.Name, fi.Mode())
		}
	}
}

// rawTar builds a tar by hand, for archives Write would not make.
func rawTar(t *testing.T, files ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f[0], Size: int64(len(f[1])), Mode: 0o600})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	return b.Bytes()
}

func manifestJSON(t *testing.T, mutate func(*Manifest)) string {
	t.Helper()
	m, err := ReadManifest(bytes.NewReader(archive(t)))
	if err != nil {
		t.Fatal(err)
	}
	mutate(m)
	b, _ := json.Marshal(m)
	return string(b)
}

// TestBadArchives: everything but an intact archive is refused with
// ErrInvalid and leaves no directory behind.
func TestBadArchives(t *testing.T) {
	good := archive(t)
	random := make([]byte, 5000)
	rand.Read(random)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-2000] ^= 1 // inside the snapshot's data
	only := func(names ...string) func(string) bool {
		return func(n string) bool {
			for _, x := range names {
				if n == x {
					return true
				}
			}
			return false
		}
	}
	state := testEntries[2]
	cases := []struct {
		name    string
		data    []byte
		allowed func(string) bool
		want    string
	}{
		{"empty", nil, allowAll, "empty or cut short"},
		{"random bytes", random, allowAll, "no manifest"},
		{"a byte flipped", flipped, allowAll, "does not match its checksum"},
		{"a file not allowed", good, only("node.json"), "no part of a manager's data dir"},
		{"no manifest first", rawTar(t, [2]string{"node.json", "{}"}), allowAll, "not the manifest"},
		{"manifest not JSON", rawTar(t, [2]string{ManifestName, "{"}), allowAll, "does not decode"},
		{"another format", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(m *Manifest) { m.Format = "tar" })}), allowAll, "names format"},
		{"a newer version", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(m *Manifest) { m.Version = 2; m.SwVersion = "9.0" })}),
			allowAll, "format version 2, written by a newer sw (9.0)"},
		{"a listed file missing", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(*Manifest) {})},
			[2]string{"node.json", string(testEntries[0].Data)}), allowAll, "is missing"},
		{"an unlisted file", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(m *Manifest) { m.Files = nil })},
			[2]string{"../../etc/passwd", "x"}), allowAll, "does not list"},
		{"a path out of the dir in the manifest", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(m *Manifest) { m.Files[0].Name = "../x" })}),
			allowAll, "invalid file name"},
		{"a size that differs", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(m *Manifest) { m.Files = m.Files[2:] })},
			[2]string{state.Name, "short"}), allowAll, "the manifest says"},
		{"a file twice", rawTar(t, [2]string{ManifestName, manifestJSON(t, func(m *Manifest) { m.Files = m.Files[:1] })},
			[2]string{"node.json", string(testEntries[0].Data)}, [2]string{"node.json", string(testEntries[0].Data)}), allowAll, "twice"},
	}
	// Cut short at many places, each inside a header or a file (the last
	// file's 100000 bytes end 352 bytes of padding and the 1024-byte tar
	// trailer before the end).
	for _, n := range []int{1, 100, 511, 512, 1024, 1500, 3000, len(good) / 2, len(good) - 1024 - 352 - 1} {
		cases = append(cases, struct {
			name    string
			data    []byte
			allowed func(string) bool
			want    string
		}{"cut to " + itoa(n) + " bytes", good[:n], allowAll, ""})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "x")
			_, err := Extract(bytes.NewReader(c.data), dir, c.allowed)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want ErrInvalid saying %q", err, c.want)
			}
			if _, serr := os.Stat(dir); serr == nil {
				t.Fatal("the directory was left behind")
			}
		})
	}
}

// TestTrailerLost: an archive that lost only its tar trailer still holds
// every file whole, checksums matching: nothing is missing, it is read.
func TestTrailerLost(t *testing.T) {
	good := archive(t)
	if _, err := Extract(bytes.NewReader(good[:len(good)-1024]), filepath.Join(t.TempDir(), "x"), allowAll); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestWriteRefuses: Write refuses names outside the dir and duplicates.
func TestWriteRefuses(t *testing.T) {
	for _, es := range [][]Entry{
		{{Name: "../x"}},
		{{Name: "/etc/x"}},
		{{Name: ManifestName}},
		{{Name: "a"}, {Name: "a"}},
	} {
		if err := Write(&bytes.Buffer{}, Manifest{}, es); err == nil {
			t.Errorf("Write(%v) accepted", es)
		}
	}
}
