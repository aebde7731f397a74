package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// A node's key file is one PEM block: the TLS private key, with the Raft
// data key(s) in its headers.
//
// Unsealed (autolock off), the block is the key itself and the DEK is
// plain base64 in a header:
//
//	-----BEGIN EC PRIVATE KEY-----
//	raft-dek: <base64 DEK>
//	raft-dek-previous: <base64 DEK>   (only while a rotation is under way)
//
//	<the key's DER>
//
// Sealed (autolock on), the block's type is SealedKeyType, the key's DER
// and each DEK are sealed with the KEK, and the key's own PEM type is kept
// in a header:
//
//	-----BEGIN SW SEALED PRIVATE KEY-----
//	key-type: EC PRIVATE KEY
//	kek: hkdf-sha256 aes-256-gcm
//	raft-dek: <base64 of the sealed DEK>
//
//	<the sealed DER>
const (
	SealedKeyType = "SW SEALED PRIVATE KEY"
	hdrDEK        = "raft-dek"
	hdrPrevDEK    = "raft-dek-previous"
	hdrKeyType    = "key-type"
	hdrKEK        = "kek"
	kekScheme     = "hkdf-sha256 aes-256-gcm"
)

// KeyFile is a node's key file, opened.
type KeyFile struct {
	// KeyPEM is the TLS private key as a plain PEM block, no headers.
	KeyPEM []byte
	// DEK is the Raft data key; nil when the file has none yet.
	DEK *Key
	// PreviousDEK is set while a data key rotation is under way.
	PreviousDEK *Key
}

// IsSealed reports whether key file data is sealed (needs an unlock key).
func IsSealed(data []byte) bool {
	b, _ := pem.Decode(data)
	return b != nil && b.Type == SealedKeyType
}

// ParseKeyFile opens a key file. A sealed one needs kek: without it the
// error is ErrLocked, with a wrong one ErrWrongKey. kek is ignored for an
// unsealed file.
func ParseKeyFile(data []byte, kek *Key) (*KeyFile, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("seal: no PEM block in the key file")
	}
	if b.Type != SealedKeyType {
		kf := &KeyFile{KeyPEM: pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})}
		var err error
		if kf.DEK, err = plainKeyHeader(b.Headers, hdrDEK); err != nil {
			return nil, err
		}
		if kf.PreviousDEK, err = plainKeyHeader(b.Headers, hdrPrevDEK); err != nil {
			return nil, err
		}
		return kf, nil
	}
	if kek == nil {
		return nil, ErrLocked
	}
	if s := b.Headers[hdrKEK]; s != kekScheme {
		return nil, fmt.Errorf("seal: key file sealed with an unknown scheme %q", s)
	}
	typ := b.Headers[hdrKeyType]
	if typ == "" {
		return nil, errors.New("seal: sealed key file without a key-type header")
	}
	kf := &KeyFile{}
	var err error
	// The DEK header is opened first: it is what tells a wrong key.
	if kf.DEK, err = sealedKeyHeader(b.Headers, hdrDEK, *kek); err != nil {
		return nil, err
	}
	if kf.PreviousDEK, err = sealedKeyHeader(b.Headers, hdrPrevDEK, *kek); err != nil {
		return nil, err
	}
	der, err := Open(*kek, b.Bytes, []byte("sw private key\x00"+typ))
	if err != nil {
		return nil, ErrWrongKey
	}
	kf.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	return kf, nil
}

func plainKeyHeader(h map[string]string, name string) (*Key, error) {
	s, ok := h[name]
	if !ok {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != KeySize {
		return nil, fmt.Errorf("seal: bad %s header in the key file", name)
	}
	var k Key
	copy(k[:], raw)
	return &k, nil
}

func sealedKeyHeader(h map[string]string, name string, kek Key) (*Key, error) {
	s, ok := h[name]
	if !ok {
		return nil, nil
	}
	sealed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("seal: bad %s header in the key file", name)
	}
	raw, err := Open(kek, sealed, []byte("sw "+name))
	if err != nil {
		return nil, ErrWrongKey
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("seal: bad %s header in the key file", name)
	}
	var k Key
	copy(k[:], raw)
	return &k, nil
}

// Marshal writes the key file, sealed with kek, or unsealed if kek is nil.
func (f *KeyFile) Marshal(kek *Key) ([]byte, error) {
	b, rest := pem.Decode(f.KeyPEM)
	if b == nil || b.Type == SealedKeyType || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("seal: the private key must be one plain PEM block")
	}
	h := map[string]string{}
	put := func(name string, k *Key) {
		if k == nil {
			return
		}
		if kek == nil {
			h[name] = base64.StdEncoding.EncodeToString(k[:])
		} else {
			h[name] = base64.StdEncoding.EncodeToString(Seal(*kek, k[:], []byte("sw "+name)))
		}
	}
	put(hdrDEK, f.DEK)
	put(hdrPrevDEK, f.PreviousDEK)
	if kek == nil {
		return pem.EncodeToMemory(&pem.Block{Type: b.Type, Headers: h, Bytes: b.Bytes}), nil
	}
	h[hdrKeyType] = b.Type
	h[hdrKEK] = kekScheme
	sealed := Seal(*kek, b.Bytes, []byte("sw private key\x00"+b.Type))
	return pem.EncodeToMemory(&pem.Block{Type: SealedKeyType, Headers: h, Bytes: sealed}), nil
}
