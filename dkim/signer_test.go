package dkim

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

type keys struct {
	pem   []byte
	calls atomic.Int32
}

func (k *keys) DKIMKey(ctx context.Context, domain string) (string, []byte, error) {
	k.calls.Add(1)
	switch domain {
	case "local.test":
		return "sel", k.pem, nil
	case "broken.test":
		return "", nil, errors.New("store down")
	}
	return "", nil, nil
}

func TestSignerSignsWithTheSendersKey(t *testing.T) {
	pem, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	src := &keys{pem: pem}
	s := NewSigner(src, nil)
	ctx := context.Background()
	msg := []byte("From: Alice <alice@local.test>\r\nTo: bob@remote.test\r\nSubject: x\r\n\r\nbody\r\n")

	signed := s.Sign(ctx, "alice@local.test", msg)
	if !bytes.HasPrefix(signed, []byte("DKIM-Signature:")) || !bytes.HasSuffix(signed, msg) {
		t.Fatalf("Sign: got %.80q", signed)
	}
	if !hasSignatureOf(signed, "local.test") || hasSignatureOf(signed, "remote.test") || hasSignatureOf(msg, "local.test") {
		t.Fatal("hasSignatureOf misreads the DKIM-Signature d= tag")
	}
	if again := s.SignUnlessSigned(ctx, nil, "alice@local.test", signed); !bytes.Equal(again, signed) {
		t.Fatal("SignUnlessSigned signed a signed message again")
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("key looked up %d times; want 1 (cached)", n)
	}
	other := []byte(strings.ReplaceAll(string(msg), "local.test", "elsewhere.test"))
	if out := s.Sign(ctx, "x@elsewhere.test", other); !bytes.Equal(out, other) {
		t.Fatal("signed mail from a domain without a key")
	}
	broken := []byte(strings.ReplaceAll(string(msg), "local.test", "broken.test"))
	if out := s.Sign(ctx, "x@broken.test", broken); !bytes.Equal(out, broken) {
		t.Fatal("a failed key lookup must leave the message unsigned")
	}
}

func TestHeaderFromDomain(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"From: Alice <alice@Local.Test>\r\n\r\nbody", "local.test"},
		{"From: =?utf-8?q?Nguy=E1=BB=85n?= <a@so.gov.vn>\r\nTo: x@y\r\n\r\n", "so.gov.vn"},
		{"To: x@y\r\n\r\nFrom: b@c.d\r\n", ""},
		{"From: a@b.c, d@e.f\n\nbody", "b.c"},
		// What mailhdr (submission's sender check) cannot read has no From
		// domain: the envelope sender's key signs, if any.
		{"From: broken <<a@bad.test>\r\n\r\n", ""},
		{"From : spaced@before.colon\r\n\r\n", ""},
		{"From: a@one.test\r\nFrom: b@two.test\r\n\r\n", ""},
		{"no header at all", ""},
	} {
		if got := headerFromDomain([]byte(tc.msg)); got != tc.want {
			t.Errorf("headerFromDomain(%q): got %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// FuzzHeaderFromDomain: any bytes, no panic, a lower-case result.
func FuzzHeaderFromDomain(f *testing.F) {
	f.Add([]byte("From: Alice <alice@Local.Test>\r\n\r\n"))
	f.Add([]byte("From: \"a@b\" <@>\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		d := headerFromDomain(msg)
		if d != strings.ToLower(d) {
			t.Errorf("not lower case: %q", d)
		}
	})
}
