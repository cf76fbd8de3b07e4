package bounce

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse: any message parses without panic, in bounded time, into
// short one-line fields; and a report that says the delivery is delayed
// (an Action: delayed recipient block beside anything else, or an
// explanation saying it will be retried) is never a permanent failure,
// whatever the fuzzed text around it says.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "smtp; 550 5.1.1 User unknown", "This is a permanent error.")
	}
	f.Add([]byte("From: MAILER-DAEMON@x\r\n\r\ncould not be delivered 550 5.1.1"), "", "")
	f.Add([]byte("Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\nQWN0aW9uOiBmYWlsZWQ=\r\n--x--"), "", "")
	f.Fuzz(func(t *testing.T, raw []byte, diag, text string) {
		start := time.Now()
		r := Parse(bytes.NewReader(raw))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Parse took %v on %d bytes", d, len(raw))
		}
		for _, s := range []string{r.Diagnostic, r.Recipient, r.ReportingMTA, r.RemoteMTA} {
			if len(s) > maxDiagnostic || !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
				t.Errorf("field %q: longer than %d bytes, not UTF-8 or not one line", s, maxDiagnostic)
			}
		}
		if r.Permanent() && !strings.HasPrefix(r.Status, "5.") {
			t.Errorf("permanent with status %q", r.Status)
		}

		// The same fuzzed text in a report that says delayed.
		diag = strings.NewReplacer("\r", " ", "\n", " ").Replace(diag)
		for name, msg := range map[string]string{
			"delayed block": dsn("Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: "+diag+"\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: delayed\r\nStatus: 4.4.1", text),
			"delayed first": dsn("Action: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: "+diag, text),
			"will retry":    dsn("Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: "+diag, text+"\r\nIt will be retried until it is 5 days old.\r\n"),
			"text only": "From: MAILER-DAEMON@mx.example.org\r\nSubject: Delivery Status Notification (Delay)\r\n\r\n" +
				text + "\r\ncould not be delivered: 550 5.1.1 " + diag + "\r\n",
		} {
			if r := Parse(strings.NewReader(msg)); r.Permanent() {
				t.Errorf("%s: a delayed report read as a permanent failure: %+v\n%q", name, r, msg)
			}
		}
	})
}
