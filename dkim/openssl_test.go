//go:build openssl && cgo

package dkim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// TestOpenSSLSignerMatchesGo: OpenSSL's PKCS #1 v1.5 signatures are the
// very bytes Go's crypto/rsa makes, and verify; other options go to Go.
func TestOpenSSLSignerMatchesGo(t *testing.T) {
	keyPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk := k.(*rsa.PrivateKey)
	s, err := fastSigner(rk)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*opensslSigner); !ok || RSABackend != "openssl" {
		t.Fatalf("fastSigner gave %T (%s)", s, RSABackend)
	}
	for i := range 20 {
		d := sha256.Sum256([]byte{byte(i), 'x'})
		got, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := rsa.SignPKCS1v15(nil, rk, crypto.SHA256, d[:])
		if !bytes.Equal(got, want) {
			t.Fatalf("digest %d: openssl and Go signatures differ", i)
		}
		if err := rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, d[:], got); err != nil {
			t.Fatal(err)
		}
	}
	// PSS is not OpenSSL's here: Go signs it, and it verifies.
	d := sha256.Sum256([]byte("pss"))
	sig, err := s.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256})
	if err != nil || rsa.VerifyPSS(&rk.PublicKey, crypto.SHA256, d[:], sig, nil) != nil {
		t.Fatalf("PSS: %v", err)
	}
}
