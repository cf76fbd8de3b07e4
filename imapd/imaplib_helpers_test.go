package imapd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// imaplibCmd is Python's imaplib running testdata/script (which connects
// through testdata/imaplib_connect.py) against e's implicit-TLS listener
// as user; the test is skipped where python3 is missing.
func imaplibCmd(t *testing.T, e *env, script, user, pass string) *exec.Cmd {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	host, port, _ := net.SplitHostPort(e.tlsAddr)
	path, _ := filepath.Abs(filepath.Join("testdata", script))
	cmd := exec.Command(py, path, host, port, user, pass)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8", "PYTHONDONTWRITEBYTECODE=1")
	return cmd
}

// runImaplib runs testdata/script as imaplibCmd does and returns what it
// printed; the test fails if the script does.
func runImaplib(t *testing.T, e *env, script, user, pass string) string {
	t.Helper()
	out, err := imaplibCmd(t, e, script, user, pass).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib %s: %v\n%s", script, err, out)
	}
	return string(out)
}
