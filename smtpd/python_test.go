package smtpd

import (
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonSMTPLib submits with a third-party client, Python's smtplib.
func TestPythonSMTPLib(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	e := newEnv(t, envConfig{})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.certDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port := splitHostPort(t, e.addr)
	// smtplib encodes passwords as ASCII only, so bob (ASCII password) sends.
	for i, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			cmd := exec.Command(python, "testdata/submit.py", host, port, ca, "bob@"+domain, bobPass, mech, "phong@"+domain, "alice@"+domain)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("submit.py: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "2.0.0 OK ") {
				t.Errorf("output %q, want the 250 reply", out)
			}
			inbox := e.inbox(t, e.alice)
			if len(inbox) != i+1 {
				t.Fatalf("alice has %d messages, want %d", len(inbox), i+1)
			}
			raw := string(inbox[i].Raw)
			if !strings.HasPrefix(raw, "Received: from python.test ([127.0.0.1])") || !strings.Contains(raw, "giay-moi.pdf") {
				t.Errorf("stored message starts %q", raw[:min(len(raw), 200)])
			}
		})
	}
}
