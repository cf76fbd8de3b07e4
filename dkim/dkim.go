// Package dkim holds congthu's DKIM keys (RFC 6376): generating a domain's
// key pair, the DNS records an operator publishes for a domain, and signing
// outgoing messages with go-msgauth.
package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// KeyBits is the size of generated RSA keys: 2048 bits is what every
// verifier accepts and fits a DNS TXT record split in strings.
const KeyBits = 2048

// NewSelector returns the selector for a key generated now, e.g.
// "ct202611": one per month, so a key can be rotated by publishing the new
// selector beside the old one.
func NewSelector(now time.Time) string { return "ct" + now.UTC().Format("200601") }

// GenerateKey returns a new RSA private key as PKCS#8 PEM.
func GenerateKey() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey parses a PKCS#8 PEM private key (RSA or Ed25519).
func ParseKey(pemBytes []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("dkim: no PEM block in the key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: parse key: %w", err)
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("dkim: unsupported key type %T", k)
}

// TXTRecord returns the value of the DKIM TXT record for a private key:
// "v=DKIM1; k=rsa; p=...".
func TXTRecord(pemBytes []byte) (string, error) {
	k, err := ParseKey(pemBytes)
	if err != nil {
		return "", err
	}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", errors.New("dkim: unsupported public key")
}

// signedHeaders are the fields signed (RFC 6376 section 5.4.1), From first.
// Fields listed twice are "oversigned" so none can be added later.
var signedHeaders = []string{
	"From", "From", "Reply-To", "Subject", "Subject", "Date", "To", "Cc",
	"Message-ID", "In-Reply-To", "References", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding",
}

// Key is a parsed signing key for one domain and selector. Parse a
// domain's key once with NewKey and sign many messages with it: parsing
// an RSA key costs about a third of a signature.
type Key struct {
	Domain, Selector string
	signer           crypto.Signer
}

// NewKey parses a PKCS#8 PEM private key for signing as domain/selector.
func NewKey(domain, selector string, keyPEM []byte) (*Key, error) {
	k, err := ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if rk, ok := k.(*rsa.PrivateKey); ok {
		if k, err = fastSigner(rk); err != nil {
			return nil, err
		}
	}
	return &Key{Domain: domain, Selector: selector, signer: k}, nil
}

// Sign returns the DKIM-Signature header field (with its CRLF) for msg,
// relaxed/relaxed, SHA-256 (RFC 6376 section 3.4, RFC 8301). Prepend it to
// the message.
func (k *Key) Sign(msg []byte) ([]byte, error) {
	s, err := msgdkim.NewSigner(&msgdkim.SignOptions{
		Domain:                 k.Domain,
		Selector:               k.Selector,
		Signer:                 k.signer,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
		HeaderKeys:             signedHeaders,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if _, err := s.Write(msg); err != nil {
		s.Close()
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	return []byte(s.Signature()), nil
}

// Sign parses keyPEM and signs msg for domain/selector: NewKey then
// Key.Sign, for one-off use.
func Sign(msg []byte, domain, selector string, keyPEM []byte) ([]byte, error) {
	k, err := NewKey(domain, selector, keyPEM)
	if err != nil {
		return nil, err
	}
	return k.Sign(msg)
}

// Record is one DNS record an operator publishes, with a note on why.
type Record struct {
	Name, Type, Value, Note string
}

// Records returns the DNS records to publish for a domain served by the
// host mxHost: MX, SPF, DKIM and DMARC.
func Records(domain, mxHost, selector string, keyPEM []byte) ([]Record, error) {
	recs := []Record{
		{domain + ".", "MX", "10 " + strings.TrimSuffix(mxHost, ".") + ".",
			"Mail for the domain is delivered to this host (its A/AAAA records must point at congthu's MX listener, port 25)."},
		{domain + ".", "TXT", "v=spf1 mx -all",
			"SPF: only the domain's MX hosts send its mail; add ip4:/include: terms if mail also leaves through a smarthost."},
	}
	if len(keyPEM) > 0 {
		txt, err := TXTRecord(keyPEM)
		if err != nil {
			return nil, err
		}
		recs = append(recs, Record{selector + "._domainkey." + domain + ".", "TXT", txt,
			"DKIM: the public key receivers use to verify congthu's signatures. Long values are split into 255-character strings by most DNS tools."})
	}
	recs = append(recs, Record{"_dmarc." + domain + ".", "TXT", "v=DMARC1; p=quarantine; rua=mailto:postmaster@" + domain + "; adkim=s; aspf=s",
		"DMARC: tells receivers to quarantine mail that fails SPF and DKIM alignment, and where to send aggregate reports. Start with p=none to observe, then tighten to p=reject."})
	return recs, nil
}
