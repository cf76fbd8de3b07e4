package certs

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestSelfSignedGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	cfg, self, err := Load("", "", "mail.hanoi.gov.vn", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !self {
		t.Error("got self=false, want true")
	}
	leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("mail.hanoi.gov.vn"); err != nil {
		t.Errorf("certificate does not name the host: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("certificate does not name loopback: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, SelfSignedKey))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode: got %v, want 0600", st.Mode().Perm())
	}
	cfg2, _, err := Load("", "", "mail.hanoi.gov.vn", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg.Certificates[0].Certificate[0], cfg2.Certificates[0].Certificate[0]) {
		t.Error("second Load generated a new certificate; want the same one reused")
	}
}

func TestConfiguredPair(t *testing.T) {
	dir := t.TempDir()
	c, k := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := Generate(c, k, "example.org"); err != nil {
		t.Fatal(err)
	}
	_, self, err := Load(c, k, "ignored", dir)
	if err != nil || self {
		t.Fatalf("got self=%v err=%v, want false, nil", self, err)
	}
	if _, err := os.Stat(filepath.Join(dir, SelfSignedCert)); err == nil {
		t.Error("a self-signed certificate was generated although a pair was configured")
	}
	if _, _, err := Load(c, filepath.Join(dir, "missing.pem"), "x", dir); err == nil {
		t.Error("missing key: got no error")
	}
}
