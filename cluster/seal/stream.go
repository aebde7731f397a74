package seal

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A sealed stream (a snapshot's state) is a header — streamMagic and a
// random 16-byte stream ID — then chunks, each a 4-byte big-endian length
// and a sealed message of up to ChunkSize plain bytes. Each chunk's
// additional data is the stream ID, its number and whether it is the last,
// so chunks cannot be reordered, dropped, moved to another stream, or the
// stream cut short without the reader noticing.

// ChunkSize is the plain size of a full chunk.
const ChunkSize = 64 << 10

var streamMagic = []byte("SWSEAL1\n")

const streamIDLen = 16

// ErrTruncated: a sealed stream ended before its last chunk.
var ErrTruncated = errors.New("seal: the encrypted stream is cut short")

// Writer seals what is written to it into an underlying writer.
type Writer struct {
	w      *bufio.Writer
	key    Key
	id     [streamIDLen]byte
	buf    []byte
	n      uint64 // chunks written
	plain  int64
	err    error
	closed bool
}

// NewWriter starts a sealed stream on w with key k. Close writes the last
// chunk (it does not close w).
func NewWriter(w io.Writer, k Key) (*Writer, error) {
	sw := &Writer{w: bufio.NewWriterSize(w, ChunkSize+Overhead+4), key: k, buf: make([]byte, 0, ChunkSize)}
	if _, err := rand.Read(sw.id[:]); err != nil {
		return nil, fmt.Errorf("seal: stream ID: %w", err)
	}
	if _, err := sw.w.Write(streamMagic); err != nil {
		return nil, err
	}
	if _, err := sw.w.Write(sw.id[:]); err != nil {
		return nil, err
	}
	return sw, nil
}

// Write buffers p, sealing each full chunk.
func (s *Writer) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("seal: write after close")
	}
	written := 0
	for len(p) > 0 && s.err == nil {
		// A full chunk waits for more data: only Close knows which is last.
		if len(s.buf) == ChunkSize {
			s.flushChunk(false)
			continue
		}
		k := min(ChunkSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p, written = p[k:], written+k
	}
	return written, s.err
}

// Plain is how many plain bytes were written.
func (s *Writer) Plain() int64 { return s.plain + int64(len(s.buf)) }

func (s *Writer) flushChunk(final bool) {
	if s.err != nil {
		return
	}
	sealed := Seal(s.key, s.buf, chunkAD(s.id[:], s.n, final))
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(sealed)))
	if _, err := s.w.Write(hdr[:]); err != nil {
		s.err = err
		return
	}
	if _, err := s.w.Write(sealed); err != nil {
		s.err = err
		return
	}
	s.n++
	s.plain += int64(len(s.buf))
	s.buf = s.buf[:0]
}

// Close seals the last chunk and flushes.
func (s *Writer) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	s.flushChunk(true)
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

func chunkAD(id []byte, n uint64, final bool) []byte {
	ad := make([]byte, 0, len(id)+9)
	ad = append(ad, id...)
	ad = binary.BigEndian.AppendUint64(ad, n)
	if final {
		return append(ad, 1)
	}
	return append(ad, 0)
}

// Reader opens a sealed stream.
type Reader struct {
	r     *bufio.Reader
	keys  []Key
	key   *Key
	id    []byte
	n     uint64
	plain []byte
	done  bool
	err   error
}

// NewReader reads a sealed stream's header from r; the first chunk
// decides which of keys opens it.
func NewReader(r io.Reader, keys ...Key) (*Reader, error) {
	br := bufio.NewReaderSize(r, ChunkSize+Overhead+4)
	hdr := make([]byte, len(streamMagic)+streamIDLen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("seal: not an encrypted stream: %w", err)
	}
	if string(hdr[:len(streamMagic)]) != string(streamMagic) {
		return nil, errors.New("seal: not an encrypted stream")
	}
	return &Reader{r: br, keys: keys, id: hdr[len(streamMagic):]}, nil
}

// Read returns plain bytes; a chunk that does not open, or a stream that
// ends before its last chunk, is an error.
func (s *Reader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.done {
			return 0, io.EOF
		}
		s.next()
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

func (s *Reader) next() {
	var hdr [4]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		s.err = ErrTruncated
		return
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size < Overhead || size > ChunkSize+Overhead {
		s.err = ErrDecrypt
		return
	}
	sealed := make([]byte, size)
	if _, err := io.ReadFull(s.r, sealed); err != nil {
		s.err = ErrTruncated
		return
	}
	keys := s.keys
	if s.key != nil {
		keys = []Key{*s.key}
	}
	for _, final := range []bool{false, true} {
		for i := range keys {
			if plain, err := Open(keys[i], sealed, chunkAD(s.id, s.n, final)); err == nil {
				s.key, s.plain, s.done = &keys[i], plain, final
				s.n++
				if final {
					if _, err := s.r.ReadByte(); err != io.EOF {
						s.err = errors.New("seal: data after the end of the encrypted stream")
					}
				}
				return
			}
		}
	}
	s.err = ErrDecrypt
}
