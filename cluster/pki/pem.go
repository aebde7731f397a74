package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// PEM block types.
const (
	pemCert      = "CERTIFICATE"
	pemCSR       = "CERTIFICATE REQUEST"
	pemCSROld    = "NEW CERTIFICATE REQUEST"
	pemECKey     = "EC PRIVATE KEY"
	pemRSAKey    = "RSA PRIVATE KEY"
	pemPKCS8Key  = "PRIVATE KEY"
	pemECParams  = "EC PARAMETERS"
	pemEncrypted = "ENCRYPTED PRIVATE KEY"
)

// ParseCertificatePEM returns the first certificate in PEM data, skipping
// any other blocks before it.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("pki: no PEM certificate found")
		}
		if b.Type != pemCert {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pki: bad certificate: %w", err)
		}
		return c, nil
	}
}

// EncodeCertificatePEM returns a certificate's DER as a PEM block.
func EncodeCertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der})
}

// ParsePrivateKeyPEM returns the first private key in PEM data: SEC 1
// ("EC PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") or PKCS #8 ("PRIVATE
// KEY"); an "EC PARAMETERS" block before it, as openssl writes, is
// skipped. Encrypted keys are refused.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("pki: no PEM private key found")
		}
		if _, ok := b.Headers["DEK-Info"]; ok || b.Type == pemEncrypted {
			return nil, errors.New("pki: encrypted private keys are not supported")
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case pemECKey:
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case pemRSAKey:
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case pemPKCS8Key:
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pki: bad private key: %w", err)
		}
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("pki: unsupported private key type %T", k)
		}
	}
}

// encodeECKeyPEM returns an ECDSA key as an "EC PRIVATE KEY" block.
func encodeECKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemECKey, Bytes: der}), nil
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
