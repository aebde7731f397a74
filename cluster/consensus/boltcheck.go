package consensus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// raft.db's structural check, in a child process.
//
// bbolt reads its file through a memory map and trusts what it finds: a
// damaged page makes it panic (an assertion, a slice out of range) or
// read past the end of the file or the map, a fault. Its consistency
// check (tx.Check) runs in a goroutine bbolt starts itself, where no
// recover of ours reaches: a damaged file given to it can end the whole
// process. So the check runs in a child process — this same binary,
// started again with boltCheckEnv naming the file — which opens raft.db
// read-only, walks every bucket, key and value, runs tx.Check and prints
// what it found as JSON. A child that crashes is one more way of saying
// the file is damaged. Once the child has read the file whole, the
// parent's own reads (through raft-boltdb) are guarded too (see guarded).
// A damaged page count can also send tx.Check into a loop that only ends
// when memory does: the child watches its heap and gives up past a bound
// (boltCheckHeap), and the parent waits at most boltCheckTimeout.

// boltCheckEnv, set in a process's environment, makes it check the bbolt
// file it names and exit (see init).
const boltCheckEnv = "SW_CONSENSUS_BOLT_CHECK"

// boltCheckArg must also be the process's first argument: the variable
// alone (set by mistake, or inherited) changes nothing.
const boltCheckArg = "__sw-consensus-bolt-check"

func init() {
	if path := os.Getenv(boltCheckEnv); path != "" && len(os.Args) > 1 && os.Args[1] == boltCheckArg {
		// Straight out: the report is written, and nothing else of the
		// process matters (os.Exit would also wait a second in a binary
		// built with the race detector).
		syscall.Exit(boltCheckChild(path))
	}
}

// boltCheckReport is what the child prints.
type boltCheckReport struct {
	Problem  string   `json:"problem,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// InUse: another process holds the file's lock.
	InUse bool `json:"inUse,omitempty"`
}

// ErrCheckUnfinished is a check of the Raft data that could not be done
// (interrupted, timed out, the file in use by another process): it says
// nothing of the data, which is not to be taken for damaged.
var ErrCheckUnfinished = errors.New("the check of the Raft data did not finish")

// boltCheckHeap is the heap the child may use besides the file's size.
const boltCheckHeap = 256 << 20

func boltCheckChild(path string) int {
	var once sync.Once
	report := func(rep boltCheckReport) {
		once.Do(func() { _ = json.NewEncoder(os.Stdout).Encode(&rep) })
	}
	fi, err := os.Stat(path)
	if err != nil {
		report(boltCheckReport{Problem: err.Error()})
		return 0
	}
	// Walking and checking a sound file takes memory in proportion to
	// its pages, far below its size.
	limit := uint64(boltCheckHeap + fi.Size()/8)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for range time.Tick(20 * time.Millisecond) {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
				report(boltCheckReport{Problem: fmt.Sprintf(
					"bbolt's consistency check ran out of bounds on it: it needed more than %d MiB of memory", limit>>20)})
				syscall.Exit(0)
			}
		}
	}()
	var rep boltCheckReport
	rep.Warnings, err = boltTreeCheck(path, fi.Size(), true)
	if err != nil {
		rep.Problem = err.Error()
		rep.InUse = errors.Is(err, bolt.ErrTimeout)
	}
	report(rep)
	return 0
}

// boltCheckTimeout bounds the child's check.
var boltCheckTimeout = 2 * time.Minute

// checkBoltFile checks raft.db's structure in a child process; it
// returns bbolt's warnings (a meta page it had to pass over). If no
// child can be started, the walk runs here, guarded, without tx.Check.
func checkBoltFile(path string, size int64) ([]string, error) {
	exe, err := selfExecutable()
	if err != nil {
		return boltCheckHere(path, size)
	}
	ctx, cancel := context.WithTimeout(context.Background(), boltCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, boltCheckArg)
	cmd.Env = append(os.Environ(), boltCheckEnv+"="+path)
	// Its own process group: a Ctrl-C meant for the daemon in a terminal
	// does not end the check half way.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return boltCheckHere(path, size)
	}
	err = cmd.Wait()
	var rep boltCheckReport
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: it took longer than %s (a slow or stalled disk?); start the daemon again", ErrCheckUnfinished, boltCheckTimeout)
	case stopped(err):
		return nil, fmt.Errorf("%w: the checking process was stopped (%v); start the daemon again", ErrCheckUnfinished, err)
	case err != nil:
		return nil, fmt.Errorf("the storage library crashed reading it: %s", crashLine(errb.String(), err))
	case json.Unmarshal(out.Bytes(), &rep) != nil:
		return nil, fmt.Errorf("its check printed no report: %q", strings.TrimSpace(errb.String()))
	case rep.InUse:
		return nil, fmt.Errorf("%w: raft.db is in use by another process (another sw daemon on this data dir?)", ErrCheckUnfinished)
	case rep.Problem != "":
		return rep.Warnings, errors.New(rep.Problem)
	}
	return rep.Warnings, nil
}

// stopped reports whether the child was ended from outside (a signal
// such as SIGINT, SIGTERM or SIGKILL) rather than by a crash of its own,
// which a Go program shows as exit status 2, or as SIGSEGV, SIGBUS or
// SIGABRT.
func stopped(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGABRT, syscall.SIGILL, syscall.SIGFPE:
		return false
	}
	return true
}

// selfExecutable names this process's binary, still there if the file
// was replaced or removed since it started (on Linux).
func selfExecutable() (string, error) {
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	return os.Executable()
}

// crashLine picks the line saying why a Go process died.
func crashLine(stderr string, err error) string {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		l := sc.Text()
		for _, p := range []string{"panic: ", "fatal error: ", "unexpected fault address", "runtime: "} {
			if strings.HasPrefix(l, p) {
				return strings.TrimPrefix(l, "panic: ")
			}
		}
	}
	return err.Error()
}

func boltCheckHere(path string, size int64) ([]string, error) {
	var warnings []string
	err := guarded("the storage library", func() error {
		var err error
		warnings, err = boltTreeCheck(path, size, false)
		return err
	})
	return warnings, err
}

// boltTreeCheck opens path read-only, walks every page bbolt can reach
// and, with withCheck, runs bbolt's consistency check.
func boltTreeCheck(path string, size int64, withCheck bool) ([]string, error) {
	warnings := metaWarnings(path)
	// The freelist is loaded only for the check, in the child: loading a
	// damaged one panics in a goroutine bbolt starts, where no recover
	// reaches.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: withCheck, Timeout: boltOpenTimeout})
	if err != nil {
		return warnings, fmt.Errorf("not a readable database: %w", err)
	}
	defer db.Close()
	return warnings, db.View(func(tx *bolt.Tx) error {
		if tx.Size() > size {
			return fmt.Errorf("cut short: the database says it is %d bytes long, the file has %d", tx.Size(), size)
		}
		for _, name := range []string{"logs", "conf"} {
			if tx.Bucket([]byte(name)) == nil {
				return fmt.Errorf("its %q bucket is missing", name)
			}
		}
		if err := walkBucket(tx.Cursor(), nil); err != nil {
			return err
		}
		if !withCheck {
			return nil
		}
		var problems []string
		for err := range tx.Check() {
			if len(problems) < 3 {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("its consistency check failed: %s", strings.Join(problems, "; "))
		}
		return nil
	})
}

// walkBucket reads every key and value below c; bucket keys lead to
// nested buckets. Keys of the logs bucket must be 8-byte indexes.
func walkBucket(c *bolt.Cursor, path []string) error {
	b := c.Bucket()
	isLogs := len(path) == 1 && path[0] == "logs"
	var prev []byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("keys out of order in bucket %q", strings.Join(path, "/"))
		}
		prev = append(prev[:0], k...)
		if v == nil { // a nested bucket
			nb := b.Bucket(k)
			if nb == nil {
				return fmt.Errorf("bucket %q: key %x has no value", strings.Join(path, "/"), k)
			}
			if err := walkBucket(nb.Cursor(), append(path, string(k))); err != nil {
				return err
			}
			continue
		}
		if isLogs && len(k) != 8 {
			return fmt.Errorf("a log key of %d bytes (want 8)", len(k))
		}
		_ = crc32.ChecksumIEEE(v) // reads every byte of the value, overflow pages included
	}
	return nil
}

// bbolt keeps two meta pages and uses the valid one with the higher
// transaction ID; one that fails its checksum is passed over silently —
// what a crash in the middle of a commit leaves, and also what a damaged
// page looks like, when the newest transaction is lost. It is worth a
// warning. The layout read here is bbolt's file format: a 16-byte page
// header, then magic, version, page size, flags (uint32), the root
// bucket (two uint64), the freelist page, the page count, the
// transaction ID (uint64) and an FNV-64a checksum of all that, in the
// machine's byte order.
const (
	boltHeaderSize = 16
	boltMetaSize   = 64
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
)

// filePageSize is the page size meta page 0 records, or the system's if
// it records none that makes sense (a file made on another machine may
// have another).
func filePageSize(f *os.File) int64 {
	b := make([]byte, boltHeaderSize+12)
	if _, err := f.ReadAt(b, 0); err == nil {
		ps := int64(binary.NativeEndian.Uint32(b[boltHeaderSize+8:]))
		if ps >= 512 && ps <= 1<<20 && ps&(ps-1) == 0 {
			return ps
		}
	}
	return int64(os.Getpagesize())
}

// metaWarnings reads both meta pages and says if one is damaged.
func metaWarnings(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	ps := filePageSize(f)
	type meta struct {
		ok   bool
		txid uint64
	}
	var m [2]meta
	for i := range m {
		b := make([]byte, boltHeaderSize+boltMetaSize)
		if _, err := f.ReadAt(b, int64(i)*ps); err != nil {
			return nil
		}
		body := b[boltHeaderSize:]
		h := fnv.New64a()
		h.Write(body[:56])
		ne := binary.NativeEndian
		m[i] = meta{ok: ne.Uint32(body) == boltMagic && ne.Uint32(body[4:]) == boltVersion && ne.Uint64(body[56:]) == h.Sum64(),
			txid: ne.Uint64(body[48:])}
	}
	for i := range m {
		if j := 1 - i; !m[i].ok && m[j].ok {
			return []string{fmt.Sprintf("meta page %d fails its checksum: the database is read as of meta page %d (transaction %d); "+
				"after a crash in the middle of a write this is expected, otherwise the last write may be lost", i, j, m[j].txid)}
		}
	}
	return nil
}
