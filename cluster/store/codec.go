package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// The stored format: how Raft log entries and snapshots encode the store's
// commands and state. It is the store's own, apart from what the API and
// the CLI print (Docker's JSON shapes, made at the edge), so that changing
// the output never means migrating the log. Every entry and snapshot
// starts with a byte naming its format:
//
//   - '{' — format 0, the first release's: encoding/json of the same Go
//     types, in the API's JSON shapes. Still read (the migration path: a
//     log and snapshots written before format 1 are read as they are, and
//     the next snapshot is written in format 1); never written.
//   - 0x01 — format 1: MessagePack (hashicorp/go-msgpack, which Raft
//     itself uses) of the Go types, keyed by Go field names. JSON tags,
//     MarshalJSON and MarshalText methods play no part in it.
//
// A field added to a stored type is read as its zero value from older
// entries; a field that is gone is skipped. A format this code does not
// know (a later release's) is refused with an error naming it.
const (
	format0       = '{'
	FormatVersion = 1
)

// storedHandle is format 1's codec: struct keys are Go field names (a
// `codec:` tag could rename one; the only ones used are Change's
// omitempty), times as MessagePack's timestamp extension.
var storedHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.TypeInfos = codec.NewTypeInfos([]string{"codec"})
	return h
}()

// encodeStored writes v in the current format.
func encodeStored(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(FormatVersion)
	if err := codec.NewEncoder(&b, storedHandle).Encode(v); err != nil {
		return nil, fmt.Errorf("store: encode: %w", err)
	}
	return b.Bytes(), nil
}

// decodeStored reads v from b in whichever known format it is in.
func decodeStored(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("store: decode: empty")
	}
	switch b[0] {
	case format0:
		return json.Unmarshal(b, v)
	case FormatVersion:
		return codec.NewDecoderBytes(b[1:], storedHandle).Decode(v)
	}
	return unknownFormat(b[0])
}

func unknownFormat(f byte) error {
	return fmt.Errorf("store: stored format %d is unknown to this sw (it reads formats 0 and %d): a later release wrote it", f, FormatVersion)
}

// writeStored writes v to w in the current format.
func writeStored(w io.Writer, v any) error {
	bw := bufio.NewWriter(w)
	if err := bw.WriteByte(FormatVersion); err != nil {
		return err
	}
	if err := codec.NewEncoder(bw, storedHandle).Encode(v); err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return bw.Flush()
}

// readStored reads v from r in whichever known format it is in.
func readStored(r io.Reader, v any) error {
	br := bufio.NewReader(r)
	first, err := br.Peek(1)
	if err != nil {
		return fmt.Errorf("store: decode: %w", err)
	}
	switch first[0] {
	case format0:
		return json.NewDecoder(br).Decode(v)
	case FormatVersion:
		_, _ = br.ReadByte()
		return codec.NewDecoder(br, storedHandle).Decode(v)
	}
	return unknownFormat(first[0])
}
