//go:build !openssl || !cgo

package dkim

import (
	"crypto"
	"crypto/rsa"
)

// RSABackend names the implementation that makes RSA signatures: Go's
// crypto/rsa here; OpenSSL's with the build tag "openssl" (openssl.go).
const RSABackend = "go"

func fastSigner(k *rsa.PrivateKey) (crypto.Signer, error) { return k, nil }
