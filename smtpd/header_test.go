package smtpd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// headerCase is a message refused at the end of DATA for how its header is
// written, with the reply text expected.
type headerCase struct {
	name, header, want string
}

// spoofCases pose as who (an address of ours) next to a From the sender
// may use (own); each must be refused with 554 5.6.0 and the text naming
// the problem.
func spoofCases(who, own string) []headerCase {
	const space = "Header field name followed by whitespace before the colon"
	return []headerCase{
		{"From space colon", "From : Giam doc <" + who + ">\r\nFrom: " + own + "\r\n", space},
		{"From tab colon", "From\t: " + who + "\r\nFrom: " + own + "\r\n", space},
		{"from space colon", "from : " + who + "\r\nFrom: " + own + "\r\n", space},
		{"From after own", "From: " + own + "\r\nFROM  : " + who + "\r\n", space},
		{"Sender space colon", "From: " + own + "\r\nSender : " + who + "\r\n", space},
		{"folded before colon", "From\r\n : " + who + "\r\nFrom: " + own + "\r\n", space},
		{"Subject space colon", "From: " + own + "\r\nSubject : hi\r\n", space},
		{"folded name", "Fr\r\n om: " + who + "\r\nFrom: " + own + "\r\n", "Malformed header field name"},
		{"8-bit name", "Fr\xc3\xb4m: " + who + "\r\nFrom: " + own + "\r\n", "Malformed header field name"},
		{"two From", "From: " + own + "\r\nFrom: " + who + "\r\n", "More than one From header field"},
		{"two From, case", "From: " + own + "\r\nfrom: " + who + "\r\n", "More than one From header field"},
		{"two Sender", "From: " + own + "\r\nSender: " + own + "\r\nSENDER: " + who + "\r\n", "More than one Sender header field"},
		{"From without address", "From: Giam doc\r\n", "From header field without a valid address"},
		{"From quoted @", "From: \"" + who + "\"@attacker.example\r\n", "From header field without a valid address"},
		{"Sender list", "From: " + own + "\r\nSender: " + own + ", " + who + "\r\n", "Sender header field is not one valid address"},
		{"no colon", "From: " + own + "\r\nno colon here\r\n", "Malformed message header"},
	}
}

func wantReply(t *testing.T, err error, code int, enh smtp.EnhancedCode, text string) {
	t.Helper()
	wantCode(t, err, code, enh)
	if se := err.(*smtp.SMTPError); se.Message != text {
		t.Errorf("reply text %q, want %q", se.Message, text)
	}
}

func TestSubmissionHeaderModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.login(t, "alice@"+domain, alicePass)
	for _, tt := range spoofCases("bob@"+domain, "alice@"+domain) {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.header + "To: bob@" + domain + "\r\nSubject: x\r\n\r\nbody\r\n"
			_, err := send(c, "alice@"+domain, []string{"bob@" + domain}, []byte(msg))
			wantReply(t, err, 554, smtp.EnhancedCode{5, 6, 0}, tt.want)
		})
	}
	if n := len(e.inbox(t, e.bob)); n != 0 {
		t.Fatalf("bob has %d messages, want 0", n)
	}

	// Trust fields a client wrote are dropped; the rest is kept.
	msg := "Authentication-Results: " + e.srv.opts.Hostname + "; dmarc=pass\r\n" +
		"Authentication-Results: mx.example.org; dmarc=pass\r\n" +
		"X-Congthu-Quarantine: none\r\n" +
		"From: alice@" + domain + "\r\n" +
		"x-congthu-anything: 1\r\n" +
		"To: bob@" + domain + "\r\n" +
		"Subject: trust fields\r\n\r\nX-Congthu-Quarantine: in the body\r\n"
	if _, err := send(c, "alice@"+domain, []string{"bob@" + domain}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	in := e.inbox(t, e.bob)
	if len(in) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(in))
	}
	raw := in[0].Raw
	hdr := raw[:bytes.Index(raw, []byte("\r\n\r\n"))]
	for _, bad := range []string{"X-Congthu-Quarantine: none", "x-congthu-anything", "Authentication-Results: " + e.srv.opts.Hostname} {
		if bytes.Contains(hdr, []byte(bad)) {
			t.Errorf("stored header keeps %q:\n%s", bad, hdr)
		}
	}
	if !bytes.HasSuffix(raw, []byte("Authentication-Results: mx.example.org; dmarc=pass\r\nFrom: alice@"+domain+"\r\nTo: bob@"+domain+"\r\nSubject: trust fields\r\n\r\nX-Congthu-Quarantine: in the body\r\n")) {
		t.Errorf("stored message lost more than the trust fields:\n%s", raw)
	}
}

func TestMXHeaderModel(t *testing.T) {
	t.Parallel()
	fx := newMXFixture(t, "sqlite")
	e := newMX(t, fx, MXOptions{})
	c := e.dial(t, "mta.attacker.example")
	for _, tt := range spoofCases("alice@"+domain, "x@attacker.example") {
		t.Run(tt.name, func(t *testing.T) {
			tok := newToken("hdr")
			msg := tt.header + "To: bob@" + domain + "\r\nSubject: " + tok + "\r\n\r\nbody\r\n"
			_, err := send(c, "x@attacker.example", []string{"bob@" + domain}, []byte(msg))
			wantReply(t, err, 554, smtp.EnhancedCode{5, 6, 0}, tt.want)
			if w := e.where(t, fx.bob, tok); w != "" {
				t.Errorf("refused message stored in %s", w)
			}
		})
	}
	// The same pose with the header written plainly is the local-domain
	// spoofing rule's.
	_, err := send(c, "x@attacker.example", []string{"bob@" + domain}, []byte("From: alice@"+domain+"\r\n\r\nbody\r\n"))
	wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})

	// Forged trust fields, however spelled, are gone from what is stored;
	// ours is the only Authentication-Results.
	tok := newToken("trust")
	msg := "Authentication-Results: " + mxHostname + "; dmarc=pass\r\n" +
		"Authentication-Results: (forged) " + mxHostname + "; dmarc=pass\r\n" +
		"authentication-results: " + strings.ToUpper(mxHostname) + ".; dkim=pass\r\n" +
		"Authentication-Results:\r\n (a (nested) comment)\r\n\t" + mxHostname + "\r\n ; spf=pass\r\n" +
		"Authentication-Results: \"" + mxHostname + "\"; spf=pass\r\n" +
		"Authentication-Results: mx.example.org; spf=pass\r\n" +
		"X-Congthu-Quarantine: none\r\n" +
		"x-congthu-anything: 1\r\n" +
		string(mxMessage("a@example.org", "bob@"+domain, tok))
	if _, err := send(c, "a@example.org", []string{"bob@" + domain}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	m := e.find(t, fx.bob, "INBOX", tok)
	if m == nil {
		t.Fatal("message not in INBOX")
	}
	hdr := strings.ToLower(string(m.Raw[:bytes.Index(m.Raw, []byte("\r\n\r\n"))]))
	if n := strings.Count(hdr, "authentication-results:"); n != 2 {
		t.Errorf("%d Authentication-Results fields, want ours and mx.example.org's:\n%s", n, hdr)
	}
	if !strings.HasPrefix(hdr, "authentication-results: "+mxHostname+";\r\n\tspf=") || !strings.Contains(hdr, "authentication-results: mx.example.org; spf=pass") {
		t.Errorf("want ours first and mx.example.org's kept:\n%s", hdr)
	}
	if strings.Contains(hdr, "x-congthu") {
		t.Errorf("X-Congthu-* kept:\n%s", hdr)
	}
}
