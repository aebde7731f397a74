// Package backup is the file format of `sw swarm backup`: a tar archive
// whose first entry is a manifest (MANIFEST.json: the format's name and
// version, the node and swarm it comes from, the Raft index, and every
// other file's name, size and SHA-256), then the files of a manager's
// data dir as they sit on disk there — node.json, the certificates, the
// key file (sealed when autolock is on) and one Raft snapshot (sealed
// with the data key the key file holds). The archive is exactly as
// protected as the data dir it comes from.
//
// The package knows the container, not what the files mean: the daemon
// writes and checks those. Extract refuses anything but a complete,
// intact archive of this format's version or older.
package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// Format and FormatVersion name this format in the manifest. A reader
// refuses a version newer than its own.
const (
	Format        = "sw-swarm-backup"
	FormatVersion = 1
)

// ManifestName is the archive's first entry.
const ManifestName = "MANIFEST.json"

// MaxSize bounds the files of one archive (the manifest's total).
const MaxSize = 1 << 30

// maxManifest bounds the manifest itself.
const maxManifest = 1 << 20

// ErrInvalid is an archive that is not an intact backup of this format.
var ErrInvalid = errors.New("not a valid sw swarm backup")

// Manifest describes an archive.
type Manifest struct {
	Format    string    `json:"Format"`
	Version   int       `json:"Version"`
	CreatedAt time.Time `json:"CreatedAt"`
	// SwVersion is the version of the sw that wrote it.
	SwVersion string `json:"SwVersion"`
	NodeID    string `json:"NodeID"`
	ClusterID string `json:"ClusterID"`
	Hostname  string `json:"Hostname,omitempty"`
	// RaftIndex and RaftTerm are the last log entry the snapshot holds.
	RaftIndex uint64 `json:"RaftIndex"`
	RaftTerm  uint64 `json:"RaftTerm"`
	// KeySealed says the key file is sealed with the swarm's unlock key
	// (autolock): restoring needs that key.
	KeySealed bool   `json:"KeySealed"`
	Files     []File `json:"Files"`
}

// File is one file of the archive.
type File struct {
	// Name is a slash-separated path relative to the data dir.
	Name   string      `json:"Name"`
	Size   int64       `json:"Size"`
	Mode   fs.FileMode `json:"Mode"`
	SHA256 string      `json:"SHA256"`
}

// Entry is a file to write into an archive.
type Entry struct {
	Name string
	Data []byte
	Mode fs.FileMode
}

// Write writes an archive of entries to w, with m (Format, Version and
// Files filled in here) as its manifest.
func Write(w io.Writer, m Manifest, entries []Entry) error {
	m.Format, m.Version, m.Files = Format, FormatVersion, nil
	seen := map[string]bool{}
	var total int64
	for _, e := range entries {
		if err := checkName(e.Name); err != nil {
			return err
		}
		if seen[e.Name] {
			return fmt.Errorf("backup: %s twice", e.Name)
		}
		seen[e.Name] = true
		sum := sha256.Sum256(e.Data)
		m.Files = append(m.Files, File{Name: e.Name, Size: int64(len(e.Data)), Mode: e.Mode.Perm(), SHA256: hex.EncodeToString(sum[:])})
		total += int64(len(e.Data))
	}
	if total > MaxSize {
		return fmt.Errorf("backup: %d bytes, more than the %d a backup may hold", total, MaxSize)
	}
	mb, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	put := func(name string, data []byte, mode fs.FileMode) error {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: int64(mode.Perm()),
			ModTime: m.CreatedAt, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put(ManifestName, mb, 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, e := range entries {
		if err := put(e.Name, e.Data, e.Mode); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func checkName(name string) error {
	if name == "" || name == ManifestName || !fs.ValidPath(name) || path.Clean(name) != name {
		return fmt.Errorf("backup: invalid file name %q", name)
	}
	return nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// ReadManifest reads and checks the manifest at the start of an archive
// (the files after it are not read).
func ReadManifest(r io.Reader) (*Manifest, error) {
	m, _, err := readManifest(tar.NewReader(r))
	return m, err
}

func readManifest(tr *tar.Reader) (*Manifest, map[string]File, error) {
	h, err := tr.Next()
	if err != nil {
		return nil, nil, invalid("no manifest: %s", tarErr(err))
	}
	if h.Name != ManifestName || h.Typeflag != tar.TypeReg {
		return nil, nil, invalid("the first entry is %q, not the manifest", h.Name)
	}
	if h.Size > maxManifest {
		return nil, nil, invalid("a manifest of %d bytes", h.Size)
	}
	b, err := io.ReadAll(io.LimitReader(tr, maxManifest))
	if err != nil {
		return nil, nil, invalid("reading the manifest: %s", tarErr(err))
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, invalid("the manifest does not decode: %v", err)
	}
	if m.Format != Format {
		return nil, nil, invalid("the manifest names format %q, not %q", m.Format, Format)
	}
	if m.Version > FormatVersion {
		return nil, nil, fmt.Errorf("%w: it is format version %d, written by a newer sw (%s); this sw reads versions up to %d",
			ErrInvalid, m.Version, m.SwVersion, FormatVersion)
	}
	if m.Version < 1 {
		return nil, nil, invalid("format version %d", m.Version)
	}
	files := map[string]File{}
	var total int64
	for _, f := range m.Files {
		if err := checkName(f.Name); err != nil {
			return nil, nil, invalid("the manifest lists an invalid file name %q", f.Name)
		}
		if _, dup := files[f.Name]; dup {
			return nil, nil, invalid("the manifest lists %s twice", f.Name)
		}
		if f.Size < 0 || len(f.SHA256) != 2*sha256.Size {
			return nil, nil, invalid("the manifest's entry for %s is malformed", f.Name)
		}
		total += f.Size
		if total > MaxSize {
			return nil, nil, invalid("the manifest lists more than %d bytes", MaxSize)
		}
		files[f.Name] = f
	}
	return &m, files, nil
}

func tarErr(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the archive is empty or cut short"
	}
	return err.Error()
}

// Extract reads a whole archive from r into dir (created, which must not
// exist yet), refusing — with ErrInvalid — an archive that is cut short,
// damaged, holds a file its manifest does not list or whose size or
// checksum differ, lacks one it lists, or names a file allowed refuses.
// Files are written with owner-only permissions; File.Mode is for the
// caller. On error dir is removed.
func Extract(r io.Reader, dir string, allowed func(name string) bool) (m *Manifest, err error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	tr := tar.NewReader(r)
	m, files, err := readManifest(tr)
	if err != nil {
		return nil, err
	}
	for name := range files {
		if !allowed(name) {
			return nil, invalid("it holds %s, which is no part of a manager's data dir", name)
		}
	}
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalid("%s", tarErr(err))
		}
		f, ok := files[h.Name]
		switch {
		case !ok:
			return nil, invalid("it holds %q, which the manifest does not list", h.Name)
		case seen[h.Name]:
			return nil, invalid("it holds %s twice", h.Name)
		case h.Typeflag != tar.TypeReg:
			return nil, invalid("%s is not a regular file", h.Name)
		case h.Size != f.Size:
			return nil, invalid("%s is %d bytes, the manifest says %d", h.Name, h.Size, f.Size)
		}
		seen[h.Name] = true
		if err := extractFile(tr, filepath.Join(dir, filepath.FromSlash(h.Name)), f); err != nil {
			return nil, err
		}
	}
	for name := range files {
		if !seen[name] {
			return nil, invalid("%s, listed in the manifest, is missing", name)
		}
	}
	return m, nil
}

func extractFile(r io.Reader, dst string, f File) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, f.Size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return invalid("%s: the archive is cut short", f.Name)
	case err != nil:
		return invalid("%s: %v", f.Name, err)
	case n != f.Size:
		return invalid("%s: the archive is cut short", f.Name)
	}
	want, _ := hex.DecodeString(f.SHA256)
	if !bytes.Equal(h.Sum(nil), want) {
		return invalid("%s does not match its checksum: the archive is damaged", f.Name)
	}
	return nil
}
