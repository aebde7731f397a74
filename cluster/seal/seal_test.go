package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"strings"
	"testing"
)

func mustKey(t *testing.T) Key {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealRoundTripAndTamper(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	msg := []byte(`{"Name":"top-secret-service"}`)
	s := Seal(k, msg, []byte("ad"))
	if bytes.Contains(s, []byte("top-secret")) {
		t.Fatal("plaintext visible in the sealed message")
	}
	if len(s) != len(msg)+Overhead {
		t.Fatalf("sealed length %d, want %d", len(s), len(msg)+Overhead)
	}
	got, err := Open(k, s, []byte("ad"))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if bytes.Equal(Seal(k, msg, []byte("ad")), s) {
		t.Fatal("two seals of one message are equal (nonce reuse)")
	}
	if _, err := Open(other, s, []byte("ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Open(k, s, []byte("other ad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong ad: %v", err)
	}
	for i := range s {
		bad := bytes.Clone(s)
		bad[i] ^= 0x40
		if _, err := Open(k, bad, []byte("ad")); err == nil {
			t.Fatalf("a flipped byte %d went unnoticed", i)
		}
	}
	if _, err := Open(k, s[:Overhead-1], nil); err == nil {
		t.Fatal("a short message opened")
	}
}

func TestKEK(t *testing.T) {
	uk := make([]byte, 32)
	rand.Read(uk)
	a, err := KEK(uk)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := KEK(uk)
	if a != b {
		t.Fatal("KEK is not deterministic")
	}
	if bytes.Equal(a[:], uk) {
		t.Fatal("KEK is the unlock key itself")
	}
	uk[0] ^= 1
	if c, _ := KEK(uk); c == a {
		t.Fatal("two unlock keys give one KEK")
	}
	if _, err := KEK(uk[:8]); err == nil {
		t.Fatal("a short unlock key was accepted")
	}
}

func TestKeyringRotation(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	r := NewKeyring(k1, nil)
	old := r.Seal([]byte("old"), nil)
	if err := r.Rotate(k2); err != nil {
		t.Fatal(err)
	}
	if err := r.Rotate(mustKey(t)); !errors.Is(err, ErrRotating) {
		t.Fatalf("second rotation under way: %v", err)
	}
	if r.Current() != k2 || r.Previous() == nil || *r.Previous() != k1 {
		t.Fatal("rotation did not keep the previous key")
	}
	if p, err := r.Open(old, nil); err != nil || string(p) != "old" {
		t.Fatalf("previous key does not open old data: %v", err)
	}
	fresh := r.Seal([]byte("new"), nil)
	if _, err := Open(k2, fresh, nil); err != nil {
		t.Fatal("new data not sealed with the current key")
	}
	r.DropPrevious()
	if _, err := r.Open(old, nil); err == nil {
		t.Fatal("old data opens after the previous key was dropped")
	}
	if len(r.Keys()) != 1 {
		t.Fatal("keys after drop")
	}
}

func TestStreamRoundTrip(t *testing.T) {
	k := mustKey(t)
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		plain := make([]byte, size)
		rand.Read(plain)
		var buf bytes.Buffer
		w, err := NewWriter(&buf, k)
		if err != nil {
			t.Fatal(err)
		}
		// odd write sizes
		for p := plain; len(p) > 0; {
			n := min(len(p), 1000+len(p)%7777)
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w.Plain() != int64(size) {
			t.Fatalf("Plain() = %d, want %d", w.Plain(), size)
		}
		r, err := NewReader(bytes.NewReader(buf.Bytes()), mustKey(t), k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: read back %d bytes, err %v", size, len(got), err)
		}
	}
}

func TestStreamTamper(t *testing.T) {
	k := mustKey(t)
	plain := bytes.Repeat([]byte("service secret-value "), 10000) // several chunks
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, k)
	w.Write(plain)
	w.Close()
	enc := buf.Bytes()
	if bytes.Contains(enc, []byte("secret-value")) {
		t.Fatal("plaintext visible in the stream")
	}
	read := func(data []byte, keys ...Key) error {
		r, err := NewReader(bytes.NewReader(data), keys...)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(r)
		return err
	}
	if err := read(enc, mustKey(t)); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := read(enc[:len(enc)-100], k); err == nil {
		t.Fatal("a cut stream read without error")
	}
	// Cut exactly at a chunk boundary: the last chunk is missing.
	first := len(streamMagic) + streamIDLen + 4 + ChunkSize + Overhead
	if err := read(enc[:first], k); !errors.Is(err, ErrTruncated) {
		t.Fatalf("stream cut after its first chunk: %v", err)
	}
	bad := bytes.Clone(enc)
	bad[len(bad)/2] ^= 1
	if err := read(bad, k); err == nil {
		t.Fatal("a flipped byte went unnoticed")
	}
	if err := read(append(bytes.Clone(enc), 0), k); err == nil {
		t.Fatal("trailing data went unnoticed")
	}
	if err := read([]byte("plain text"), k); err == nil {
		t.Fatal("a plain stream was accepted")
	}
}

func testKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("not really DER, but opaque here")})
}

func TestKeyFileUnsealed(t *testing.T) {
	dek := mustKey(t)
	f := &KeyFile{KeyPEM: testKeyPEM(), DEK: &dek}
	data, err := f.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if IsSealed(data) || !strings.Contains(string(data), "raft-dek: ") {
		t.Fatalf("unsealed key file:\n%s", data)
	}
	got, err := ParseKeyFile(data, nil)
	if err != nil || *got.DEK != dek || got.PreviousDEK != nil || !bytes.Equal(got.KeyPEM, f.KeyPEM) {
		t.Fatalf("parse: %+v, %v", got, err)
	}
	// A key file from before data keys: no DEK.
	got, err = ParseKeyFile(testKeyPEM(), nil)
	if err != nil || got.DEK != nil {
		t.Fatalf("plain key: %+v, %v", got, err)
	}
}

func TestKeyFileSealed(t *testing.T) {
	dek, prev := mustKey(t), mustKey(t)
	kek, wrong := mustKey(t), mustKey(t)
	f := &KeyFile{KeyPEM: testKeyPEM(), DEK: &dek, PreviousDEK: &prev}
	data, err := f.Marshal(&kek)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(data) {
		t.Fatal("not sealed")
	}
	b, _ := pem.Decode(data)
	if strings.Contains(string(data), base64.StdEncoding.EncodeToString(dek[:])) ||
		bytes.Contains(b.Bytes, []byte("not really DER")) {
		t.Fatal("sealed key file shows the key or the DEK")
	}
	if _, err := ParseKeyFile(data, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("no KEK: %v", err)
	}
	if _, err := ParseKeyFile(data, &wrong); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong KEK: %v", err)
	}
	got, err := ParseKeyFile(data, &kek)
	if err != nil || *got.DEK != dek || *got.PreviousDEK != prev || !bytes.Equal(got.KeyPEM, f.KeyPEM) {
		t.Fatalf("parse: %+v, %v", got, err)
	}
	// Unsealing again gives the plain form.
	plain, err := got.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := ParseKeyFile(plain, nil); err != nil || *again.DEK != dek {
		t.Fatalf("unsealed again: %v", err)
	}
	// Tampering with the sealed DER is caught.
	b.Bytes[len(b.Bytes)-1] ^= 1
	if _, err := ParseKeyFile(pem.EncodeToMemory(b), &kek); err == nil {
		t.Fatal("a tampered key opened")
	}
}

func TestKeyFileRefusesSealedInput(t *testing.T) {
	kek := mustKey(t)
	data, _ := (&KeyFile{KeyPEM: testKeyPEM()}).Marshal(&kek)
	if _, err := (&KeyFile{KeyPEM: data}).Marshal(nil); err == nil {
		t.Fatal("a sealed block was accepted as the plain key")
	}
}
