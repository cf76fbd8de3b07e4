package dkim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

func TestSignVerifies(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	txt, err := TXTRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("From: =?UTF-8?B?Tmd1eeG7hW4gVsSDbiBBbg==?= <nva@hanoi.gov.vn>\r\nTo: b@example.org\r\nSubject: =?UTF-8?B?SOG7kyBzxqE=?=\r\nDate: Sun, 15 Mar 2026 09:00:00 +0700\r\nMessage-ID: <1@hanoi.gov.vn>\r\n\r\nKính gửi Ông/Bà,\r\n")
	sel := NewSelector(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	if sel != "ct202611" {
		t.Errorf("selector: got %q, want ct202611", sel)
	}
	h, err := Sign(msg, "hanoi.gov.vn", sel, key)
	if err != nil {
		t.Fatal(err)
	}
	signed := append(h, msg...)
	lookup := func(domain string) ([]string, error) {
		if domain != sel+"._domainkey.hanoi.gov.vn" {
			t.Errorf("lookup of %q", domain)
		}
		return []string{txt}, nil
	}
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(signed), &msgdkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "hanoi.gov.vn" {
		t.Fatalf("verifications: %+v", vs)
	}
	// A changed body fails.
	bad := bytes.Replace(signed, []byte("Kính"), []byte("Kinh"), 1)
	vs, err = msgdkim.VerifyWithOptions(bytes.NewReader(bad), &msgdkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Err == nil {
		t.Errorf("tampered body verified: %+v", vs)
	}
}

func TestRecords(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := Records("hanoi.gov.vn", "mail.hanoi.gov.vn", "ct202611", key)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"MX hanoi.gov.vn.":                      "10 mail.hanoi.gov.vn.",
		"TXT hanoi.gov.vn.":                     "v=spf1 mx -all",
		"TXT ct202611._domainkey.hanoi.gov.vn.": "v=DKIM1; k=rsa; p=",
		"TXT _dmarc.hanoi.gov.vn.":              "v=DMARC1; p=quarantine",
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.Type+" "+r.Name] = r.Value
		if r.Note == "" {
			t.Errorf("%s %s has no note", r.Type, r.Name)
		}
	}
	for k, v := range want {
		if !strings.HasPrefix(got[k], v) {
			t.Errorf("%s: got %q, want prefix %q", k, got[k], v)
		}
	}
	if _, err := ParseKey([]byte("not pem")); err == nil {
		t.Error("ParseKey accepted garbage")
	}
}

// BenchmarkRSASign is one RSA-2048 DKIM signature of a digest, by the
// backend of the build (RSABackend): go test -bench RSASign [-tags openssl] ./dkim
func BenchmarkRSASign(b *testing.B) {
	keyPEM, _ := GenerateKey()
	k, err := NewKey("example.org", "ct", keyPEM)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("m"))
	for b.Loop() {
		if _, err := k.signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
