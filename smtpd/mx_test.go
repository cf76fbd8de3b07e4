package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/testdns"
	"congthu/store"
)

// TestMX runs the MX scenarios on one SQLite store (each with its own
// server and DNS); TestMXPostgres runs the main ones on PostgreSQL.
func TestMX(t *testing.T) {
	t.Parallel()
	fx := newMXFixture(t, "sqlite")
	t.Run("SPF", func(t *testing.T) { t.Parallel(); testMXSPF(t, fx) })
	t.Run("DKIM", func(t *testing.T) { t.Parallel(); testMXDKIM(t, fx) })
	t.Run("DMARC", func(t *testing.T) { t.Parallel(); testMXDMARC(t, fx) })
	t.Run("DMARCOptions", func(t *testing.T) { t.Parallel(); testMXDMARCOptions(t, fx) })
	t.Run("LocalSpoofing", func(t *testing.T) { t.Parallel(); testMXLocalSpoofing(t, fx) })
	t.Run("Recipients", func(t *testing.T) { t.Parallel(); testMXRecipients(t, fx) })
	t.Run("NullSender", func(t *testing.T) { t.Parallel(); testMXNullSender(t, fx) })
	t.Run("STARTTLS", func(t *testing.T) { t.Parallel(); testMXStartTLS(t, fx) })
	t.Run("RateLimit", func(t *testing.T) { t.Parallel(); testMXRateLimit(t, fx) })
	t.Run("ConnLimit", func(t *testing.T) { t.Parallel(); testMXConnLimit(t, fx) })
	t.Run("Message", func(t *testing.T) { t.Parallel(); testMXMessageChecks(t, fx) })
	t.Run("StoreFailure", func(t *testing.T) { t.Parallel(); testMXStoreFailure(t, fx) })
	t.Run("Shutdown", func(t *testing.T) { t.Parallel(); testMXShutdown(t, fx) })
}

func TestMXPostgres(t *testing.T) {
	t.Parallel()
	fx := newMXFixture(t, "postgres")
	t.Run("DMARC", func(t *testing.T) { t.Parallel(); testMXDMARC(t, fx) })
	t.Run("Recipients", func(t *testing.T) { t.Parallel(); testMXRecipients(t, fx) })
}

func testMXSPF(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{})
	tests := []struct {
		name   string
		record string // "" none; "FAIL" SERVFAIL
		want   string
	}{
		{"pass", "v=spf1 ip4:127.0.0.1 -all", "spf=pass"},
		{"fail", "v=spf1 ip4:192.0.2.1 -all", "spf=fail"},
		{"softfail", "v=spf1 ip4:192.0.2.1 ~all", "spf=softfail"},
		{"none", "", "spf=none"},
		{"temperror", "FAIL", "spf=temperror"},
		{"permerror", "v=spf1 ip4:bad -all", "spf=permerror"},
	}
	c := e.dial(t, "mta.example.org")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.name + ".spf.test"
			switch tt.record {
			case "":
			case "FAIL":
				e.dns.SetFail(d, true)
			default:
				e.dns.SetTXT(d, tt.record)
			}
			tok := newToken(tt.name)
			from := "sender@" + d
			// Without a DMARC record SPF alone refuses nothing.
			if _, err := send(c, from, []string{"bob@" + domain}, mxMessage(from, "bob@"+domain, tok)); err != nil {
				t.Fatal(err)
			}
			m := e.find(t, fx.bob, "INBOX", tok)
			if m == nil {
				t.Fatal("not in INBOX")
			}
			ar := authResultsOf(t, m.Raw)
			mustContain(t, "Authentication-Results", ar, mxHostname+";", tt.want+" smtp.mailfrom="+from, "dkim=none", "dmarc=none header.from="+d)
		})
	}
	if !e.logs.Contains("spf=softfail") {
		t.Error("SPF result not in the log")
	}
}

func testMXDKIM(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{})
	c := e.dial(t, "mta.example.org")
	from := "vanthu@sotuphap.test"
	t.Run("pass", func(t *testing.T) {
		tok := newToken("dkimpass")
		msg := e.signed(t, mxMessage(from, "bob@"+domain, tok), "sotuphap.test", "s1")
		if _, err := send(c, "bounce@other.test", []string{"bob@" + domain}, msg); err != nil {
			t.Fatal(err)
		}
		m := e.find(t, fx.bob, "INBOX", tok)
		if m == nil {
			t.Fatal("not in INBOX")
		}
		if !bytes.HasSuffix(m.Raw, msg) {
			t.Error("the stored message does not end with the signed one as sent")
		}
		mustContain(t, "Authentication-Results", authResultsOf(t, m.Raw), "dkim=pass header.d=sotuphap.test", "dmarc=none")
	})
	t.Run("fail", func(t *testing.T) {
		tok := newToken("dkimfail")
		msg := e.signed(t, mxMessage(from, "bob@"+domain, tok), "sotuphap.test", "s1")
		msg = bytes.Replace(msg, []byte("Văn bản số"), []byte("Văn bản giả số"), 1)
		if _, err := send(c, "bounce@other.test", []string{"bob@" + domain}, msg); err != nil {
			t.Fatal(err)
		}
		m := e.find(t, fx.bob, "INBOX", tok)
		if m == nil {
			t.Fatal("not in INBOX")
		}
		mustContain(t, "Authentication-Results", authResultsOf(t, m.Raw), "dkim=fail header.d=sotuphap.test")
	})
	t.Run("no key", func(t *testing.T) {
		tok := newToken("dkimnokey")
		msg := e.signed(t, mxMessage(from, "bob@"+domain, tok), "sotuphap.test", "s1")
		msg = bytes.Replace(msg, []byte("s=s1;"), []byte("s=gone;"), 1)
		if _, err := send(c, "bounce@other.test", []string{"bob@" + domain}, msg); err != nil {
			t.Fatal(err)
		}
		m := e.find(t, fx.bob, "INBOX", tok)
		if m == nil {
			t.Fatal("not in INBOX")
		}
		mustContain(t, "Authentication-Results", authResultsOf(t, m.Raw), "dkim=permerror header.d=sotuphap.test")
	})
}

// dmarcCase is one message through DMARC.
type dmarcCase struct {
	name     string
	dns      func(e *mxEnv)
	mailFrom string
	from     string
	dkimD    string // sign with this d= ("" unsigned)
	code     int    // refusal at DATA; 0: accepted
	enh      smtp.EnhancedCode
	where    string // "INBOX" or "Junk" when accepted
	ar       []string
}

func runDMARC(t *testing.T, e *mxEnv, c *smtp.Client, tt dmarcCase) *store.Message {
	t.Helper()
	if tt.dns != nil {
		tt.dns(e)
	}
	tok := newToken(tt.name)
	msg := mxMessage(tt.from, "vanthu@"+domain, tok)
	if tt.dkimD != "" {
		msg = e.signed(t, msg, tt.dkimD, "sel")
	}
	_, err := send(c, tt.mailFrom, []string{"vanthu@" + domain}, msg)
	if tt.code != 0 {
		wantCode(t, err, tt.code, tt.enh)
		if w := e.where(t, e.alice, tok); w != "" {
			t.Errorf("refused message stored in %s", w)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if w := e.where(t, e.alice, tok); w != tt.where {
		t.Fatalf("message in %q, want %q", w, tt.where)
	}
	m := e.find(t, e.alice, tt.where, tok)
	mustContain(t, "Authentication-Results", authResultsOf(t, m.Raw), tt.ar...)
	return m
}

func testMXDMARC(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{})
	spfPass := "v=spf1 ip4:127.0.0.1 -all"
	spfFail := "v=spf1 ip4:192.0.2.1 -all"
	tests := []dmarcCase{
		{name: "reject", dns: func(e *mxEnv) {
			e.dns.SetTXT("reject.test", spfFail)
			e.dns.SetTXT("_dmarc.reject.test", "v=DMARC1; p=reject")
		}, mailFrom: "a@reject.test", from: "a@reject.test", code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
		{name: "quarantine", dns: func(e *mxEnv) {
			e.dns.SetTXT("quarantine.test", spfFail)
			e.dns.SetTXT("_dmarc.quarantine.test", "v=DMARC1; p=quarantine")
		}, mailFrom: "a@quarantine.test", from: "a@quarantine.test", where: "Junk",
			ar: []string{"spf=fail", "dmarc=fail header.from=quarantine.test policy.dmarc=quarantine"}},
		{name: "none policy", dns: func(e *mxEnv) {
			e.dns.SetTXT("nonepol.test", spfFail)
			e.dns.SetTXT("_dmarc.nonepol.test", "v=DMARC1; p=none")
		}, mailFrom: "a@nonepol.test", from: "a@nonepol.test", where: "INBOX",
			ar: []string{"dmarc=fail header.from=nonepol.test policy.dmarc=none"}},
		{name: "no record", mailFrom: "a@norecord.test", from: "a@norecord.test", where: "INBOX",
			ar: []string{"spf=none", "dmarc=none header.from=norecord.test"}},
		{name: "SPF aligned relaxed", dns: func(e *mxEnv) {
			e.dns.SetTXT("bounces.spfalign.test", spfPass)
			e.dns.SetTXT("_dmarc.spfalign.test", "v=DMARC1; p=reject")
		}, mailFrom: "b@bounces.spfalign.test", from: "a@spfalign.test", where: "INBOX",
			ar: []string{"spf=pass", "dmarc=pass header.from=spfalign.test"}},
		{name: "SPF not aligned strict", dns: func(e *mxEnv) {
			e.dns.SetTXT("bounces.spfstrict.test", spfPass)
			e.dns.SetTXT("_dmarc.spfstrict.test", "v=DMARC1; p=reject; aspf=s")
		}, mailFrom: "b@bounces.spfstrict.test", from: "a@spfstrict.test", code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
		{name: "SPF pass other domain", dns: func(e *mxEnv) {
			e.dns.SetTXT("elsewhere.test", spfPass)
			e.dns.SetTXT("_dmarc.spfother.test", "v=DMARC1; p=reject")
		}, mailFrom: "b@elsewhere.test", from: "a@spfother.test", code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
		{name: "DKIM aligned", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.dkimalign.test", "v=DMARC1; p=reject; adkim=s")
		}, mailFrom: "b@list.test", from: "a@dkimalign.test", dkimD: "dkimalign.test", where: "INBOX",
			ar: []string{"dkim=pass header.d=dkimalign.test", "dmarc=pass header.from=dkimalign.test"}},
		{name: "DKIM relaxed subdomain", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.dkimsub.test", "v=DMARC1; p=reject")
		}, mailFrom: "b@list.test", from: "a@dkimsub.test", dkimD: "mail.dkimsub.test", where: "INBOX",
			ar: []string{"dmarc=pass"}},
		{name: "DKIM strict subdomain", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.dkimstrict.test", "v=DMARC1; p=quarantine; adkim=s")
		}, mailFrom: "b@list.test", from: "a@dkimstrict.test", dkimD: "mail.dkimstrict.test", where: "Junk",
			ar: []string{"dkim=pass header.d=mail.dkimstrict.test", "dmarc=fail"}},
		{name: "DKIM other domain", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.dkimother.test", "v=DMARC1; p=reject")
		}, mailFrom: "b@list.test", from: "a@dkimother.test", dkimD: "signer.test", code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
		{name: "organizational domain sp", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.orgsp.test", "v=DMARC1; p=none; sp=reject")
		}, mailFrom: "b@list.test", from: "a@sub.orgsp.test", code: 550, enh: smtp.EnhancedCode{5, 7, 1}},
		{name: "organizational domain p", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.orgp.test", "v=DMARC1; p=quarantine")
		}, mailFrom: "b@list.test", from: "a@deep.sub.orgp.test", where: "Junk",
			ar: []string{"dmarc=fail header.from=deep.sub.orgp.test policy.dmarc=quarantine"}},
		{name: "policy lookup temperror", dns: func(e *mxEnv) {
			e.dns.SetFail("_dmarc.dnsdown.test", true)
		}, mailFrom: "b@list.test", from: "a@dnsdown.test", code: 451, enh: smtp.EnhancedCode{4, 7, 0}},
		{name: "policy lookup temperror aligned pass", dns: func(e *mxEnv) {
			e.dns.SetFail("_dmarc.dnsdown2.test", true)
		}, mailFrom: "b@list.test", from: "a@dnsdown2.test", dkimD: "dnsdown2.test", where: "INBOX",
			ar: []string{"dkim=pass", "dmarc=temperror"}},
		{name: "SPF temperror decides", dns: func(e *mxEnv) {
			e.dns.SetFail("spfdown.test", true)
			e.dns.SetTXT("_dmarc.spfdown.test", "v=DMARC1; p=reject")
		}, mailFrom: "a@spfdown.test", from: "a@spfdown.test", code: 451, enh: smtp.EnhancedCode{4, 7, 0}},
		{name: "invalid record", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.badrec.test", "v=DMARC1; p=everything")
		}, mailFrom: "b@list.test", from: "a@badrec.test", where: "INBOX",
			ar: []string{"dmarc=permerror"}},
	}
	c := e.dial(t, "mta.example.org")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDMARC(t, e, c, tt)
		})
	}
	// The refusal names the domain.
	e.dns.SetTXT("_dmarc.named.test", "v=DMARC1; p=reject")
	tok := newToken("named")
	_, err := send(c, "x@list.test", []string{"bob@" + domain}, mxMessage("a@named.test", "bob@"+domain, tok))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Message != "Rejected by DMARC policy of named.test" {
		t.Errorf("got %v, want 550 5.7.1 Rejected by DMARC policy of named.test", err)
	}
	if !e.logs.Contains("action=\"policy reject\"") {
		t.Error("DMARC action not in the log")
	}
}

func testMXDMARCOptions(t *testing.T, fx *mxFixture) {
	t.Run("quarantine to inbox", func(t *testing.T) {
		e := newMX(t, fx, MXOptions{QuarantineToInbox: true})
		c := e.dial(t, "mta.example.org")
		m := runDMARC(t, e, c, dmarcCase{name: "qinbox", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.qinbox.test", "v=DMARC1; p=quarantine")
		}, mailFrom: "a@list.test", from: "a@qinbox.test", where: "INBOX", ar: []string{"policy.dmarc=quarantine"}})
		if got := header(t, m.Raw).Get("X-Congthu-Quarantine"); got != "DMARC policy of qinbox.test" {
			t.Errorf("X-Congthu-Quarantine %q", got)
		}
	})
	t.Run("no DMARC reject", func(t *testing.T) {
		e := newMX(t, fx, MXOptions{NoDMARCReject: true})
		c := e.dial(t, "mta.example.org")
		runDMARC(t, e, c, dmarcCase{name: "noreject", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.noreject.test", "v=DMARC1; p=reject")
		}, mailFrom: "a@list.test", from: "a@noreject.test", where: "Junk", ar: []string{"dmarc=fail", "policy.dmarc=quarantine"}})
	})
	t.Run("no DMARC reject, quarantine to inbox", func(t *testing.T) {
		// Both switches (mx.dmarc_reject = "quarantine", mx.dmarc_quarantine
		// = "inbox"): a p=reject failure is delivered to the INBOX, marked.
		e := newMX(t, fx, MXOptions{NoDMARCReject: true, QuarantineToInbox: true})
		c := e.dial(t, "mta.example.org")
		m := runDMARC(t, e, c, dmarcCase{name: "rejinbox", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.rejinbox.test", "v=DMARC1; p=reject")
		}, mailFrom: "a@list.test", from: "a@rejinbox.test", where: "INBOX", ar: []string{"dmarc=fail", "policy.dmarc=quarantine"}})
		if got := header(t, m.Raw).Get("X-Congthu-Quarantine"); got != "DMARC policy of rejinbox.test" {
			t.Errorf("X-Congthu-Quarantine: got %q, want %q", got, "DMARC policy of rejinbox.test")
		}
	})
	t.Run("pct 0", func(t *testing.T) {
		e := newMX(t, fx, MXOptions{})
		c := e.dial(t, "mta.example.org")
		// RFC 7489 section 6.6.4: outside pct, reject becomes quarantine.
		runDMARC(t, e, c, dmarcCase{name: "pct", dns: func(e *mxEnv) {
			e.dns.SetTXT("_dmarc.pct.test", "v=DMARC1; p=reject; pct=0")
		}, mailFrom: "a@list.test", from: "a@pct.test", where: "Junk"})
	})
}

func testMXLocalSpoofing(t *testing.T, fx *mxFixture) {
	spoof := dmarcCase{name: "spoof", mailFrom: "a@evil.test", from: "giamdoc@" + domain,
		code: 550, enh: smtp.EnhancedCode{5, 7, 1}}
	t.Run("refused", func(t *testing.T) {
		e := newMX(t, fx, MXOptions{})
		c := e.dial(t, "mta.evil.test")
		runDMARC(t, e, c, spoof)
		if !e.logs.Contains("local domain not authenticated") {
			t.Error("reason not logged")
		}
		// Authenticated by our own DKIM key (a forwarder kept the
		// signature): fine.
		runDMARC(t, e, c, dmarcCase{name: "ownsig", mailFrom: "a@forwarder.test", from: "giamdoc@" + domain,
			dkimD: domain, where: "INBOX", ar: []string{"dkim=pass header.d=" + domain, "dmarc=none"}})
	})
	t.Run("allowed", func(t *testing.T) {
		e := newMX(t, fx, MXOptions{AllowLocalSpoofing: true})
		c := e.dial(t, "mta.evil.test")
		spoof.code, spoof.where, spoof.ar = 0, "INBOX", []string{"dmarc=none header.from=" + domain}
		runDMARC(t, e, c, spoof)
	})
}

func testMXRecipients(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{Common: Common{MaxRecipients: 4}})
	c := e.dial(t, "mta.example.org")
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	// Never relay: any other domain, including our parent and lookalikes.
	for _, r := range []string{"citizen@example.org", "x@hcm.gov.vn", "x@" + domain + ".evil.test", "x@sub." + domain} {
		wantCode(t, c.Rcpt(r, nil), 550, smtp.EnhancedCode{5, 7, 1})
	}
	wantCode(t, c.Rcpt("nobody@"+domain, nil), 550, smtp.EnhancedCode{5, 1, 1})
	// Account, alias (any case) and the alias's account again: one copy
	// each.
	for _, r := range []string{"bob@" + domain, "VanThu@" + strings.ToUpper(domain), "alice@" + domain} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	tok := newToken("rcpts")
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(mxMessage("sender@example.org", "bob@"+domain, tok))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if e.find(t, fx.bob, "INBOX", tok) == nil || e.find(t, fx.alice, "INBOX", tok) == nil {
		t.Error("not delivered to both bob and alice")
	}
	// Received: has no "for" clause with several recipients.
	m := e.find(t, fx.alice, "INBOX", tok)
	if rcv := header(t, m.Raw).Get("Received"); strings.Contains(rcv, " for <") {
		t.Errorf("Received %q discloses a recipient", rcv)
	}
	// Nothing for other domains was queued.
	ids, err := fx.st.Outbox().DuePage(context.Background(), time.Now().Add(time.Hour), 0, 100)
	if err != nil || len(ids) != 0 {
		t.Errorf("outbox: %v %v, want empty", ids, err)
	}
	// Too many recipients.
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := c.Rcpt("bob@"+domain, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, c.Rcpt("bob@"+domain, nil), 452, smtp.EnhancedCode{4, 5, 3})
	c.Reset()
	// DATA without an accepted recipient.
	if err := c.Mail("sender@example.org", nil); err != nil {
		t.Fatal(err)
	}
	c.Rcpt("nobody@"+domain, nil)
	if _, err := c.Data(); err == nil {
		t.Error("DATA accepted without a recipient")
	}
	if !e.logs.Contains("result=\"relay denied\"") || !e.logs.Contains("result=unknown") {
		t.Error("refused recipients not logged")
	}
}

func testMXNullSender(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{})
	e.dns.SetTXT("mta.example.org", "v=spf1 ip4:127.0.0.1 -all")
	c := e.dial(t, "mta.example.org")
	tok := newToken("dsn")
	msg := mxMessage("MAILER-DAEMON@mta.example.org", "alice@"+domain, tok)
	if _, err := send(c, "", []string{"alice@" + domain}, msg); err != nil {
		t.Fatal(err)
	}
	m := e.find(t, fx.alice, "INBOX", tok)
	if m == nil {
		t.Fatal("bounce not delivered")
	}
	mustContain(t, "Authentication-Results", authResultsOf(t, m.Raw), "spf=pass smtp.mailfrom=postmaster@mta.example.org")
}

func testMXStartTLS(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{})
	plain := e.dial(t, "mta.example.org")
	if ok, _ := plain.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	if ok, _ := plain.Extension("AUTH"); ok {
		t.Error("AUTH offered on the MX")
	}
	c, err := smtp.DialStartTLS(e.addr, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered on the MX after STARTTLS")
	}
	tok := newToken("tls")
	if _, err := send(c, "sender@example.org", []string{"bob@" + domain}, mxMessage("sender@example.org", "bob@"+domain, tok)); err != nil {
		t.Fatal(err)
	}
	m := e.find(t, fx.bob, "INBOX", tok)
	if m == nil {
		t.Fatal("not delivered")
	}
	h := header(t, m.Raw)
	rcv := strings.Join(strings.Fields(h.Get("Received")), " ")
	mustContain(t, "Received", rcv, "from localhost ([127.0.0.1])", "by "+mxHostname+" (congthu) with ESMTPS id", "for <bob@"+domain+">", "(using TLS 1.3 with cipher TLS_")
	if strings.Contains(rcv, "ESMTPSA") || strings.Contains(rcv, "authenticated") {
		t.Errorf("Received %q claims authentication", rcv)
	}
	// Authentication-Results comes first, then Received.
	if !bytes.HasPrefix(m.Raw, []byte("Authentication-Results: "+mxHostname+";")) {
		t.Errorf("message starts %q", m.Raw[:60])
	}
	if err := c.Auth(sasl.NewPlainClient("", "bob@"+domain, bobPass)); err == nil {
		t.Error("AUTH accepted on the MX")
	}
}

func testMXRateLimit(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{Common: Common{LimitLoopback: true}, MaxMessagesPerIPPerMinute: 3})
	c := e.dial(t, "mta.example.org")
	for i := 0; i < 3; i++ {
		tok := newToken("rate")
		if _, err := send(c, "sender@example.org", []string{"bob@" + domain}, mxMessage("sender@example.org", "bob@"+domain, tok)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	wantCode(t, c.Mail("sender@example.org", nil), 451, smtp.EnhancedCode{4, 7, 1})
	// Another connection from the same address too.
	c2 := e.dial(t, "mta.example.org")
	wantCode(t, c2.Mail("sender@example.org", nil), 451, smtp.EnhancedCode{4, 7, 1})

	// Loopback is exempt by default.
	e2 := newMX(t, fx, MXOptions{MaxMessagesPerIPPerMinute: 1})
	c3 := e2.dial(t, "mta.example.org")
	for i := 0; i < 3; i++ {
		if err := c3.Mail("sender@example.org", nil); err != nil {
			t.Fatalf("exempt loopback limited: %v", err)
		}
		c3.Reset()
	}

	// LimitExempt spares a network even with loopback limited.
	e3 := newMX(t, fx, MXOptions{Common: Common{LimitLoopback: true, LimitExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, MaxMessagesPerIPPerMinute: 1})
	c4 := e3.dial(t, "mta.example.org")
	for i := 0; i < 3; i++ {
		if err := c4.Mail("sender@example.org", nil); err != nil {
			t.Fatalf("exempt network limited: %v", err)
		}
		c4.Reset()
	}

	// The bucket refills.
	r := newRate[netip.Addr](60, time.Minute)
	now := time.Now()
	ip := limitKey(mustAddr("192.0.2.7"))
	for i := 0; i < 60; i++ {
		if !r.allow(ip, now) {
			t.Fatalf("token %d refused", i)
		}
	}
	if r.allow(ip, now) {
		t.Error("61st token allowed")
	}
	if !r.allow(ip, now.Add(time.Second)) {
		t.Error("no token after a second at 60/min")
	}
	// An IPv6 /64 shares a bucket.
	r = newRate[netip.Addr](1, time.Minute)
	if !r.allow(limitKey(mustAddr("2001:db8::1")), now) || r.allow(limitKey(mustAddr("2001:db8::2")), now) {
		t.Error("IPv6 addresses of one /64 not limited together")
	}
}

func testMXConnLimit(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{Common: Common{MaxConnectionsPerIP: 2, LimitLoopback: true}})
	e.dial(t, "a.example.org")
	c2 := e.dial(t, "b.example.org")
	c, err := smtp.Dial(e.addr)
	if err == nil {
		defer c.Close()
		err = c.Hello("c.example.org")
	}
	wantCode(t, err, 421, smtp.EnhancedCode{4, 7, 0})
	// A connection that ends frees its place.
	c2.Quit()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := smtp.Dial(e.addr)
		if err == nil {
			err = c.Hello("d.example.org")
			c.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("place not freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawMX is a hand-driven connection for what well-behaved clients cannot
// send.
func (e *mxEnv) raw(t *testing.T) *rawConn {
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	rc.expect(220)
	rc.cmd("EHLO mta.example.org", 250)
	return rc
}

func testMXMessageChecks(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{Common: Common{MaxMessageBytes: 64 << 10}, MaxReceived: 5})
	t.Run("bare LF", func(t *testing.T) {
		rc := e.raw(t)
		for _, data := range []string{
			"From: a@example.org\r\n\r\nline one\nline two\r\n",
			"From: a@example.org\r\n\r\nhi\n.\nMAIL FROM:<x@example.org>\r\n",
			"From: a@example.org\r\n\r\nhi\r.\rRSET\r\n",
		} {
			rc.cmd("MAIL FROM:<a@example.org>", 250)
			rc.cmd("RCPT TO:<bob@"+domain+">", 250)
			rc.cmd("DATA", 354)
			rc.c.Write([]byte(data + ".\r\n"))
			if msg := rc.expect(554); !strings.HasPrefix(msg, "5.6.0 ") {
				t.Errorf("reply %q, want 5.6.0", msg)
			}
		}
	})
	c := e.dial(t, "mta.example.org")
	t.Run("oversize", func(t *testing.T) {
		wantCode(t, c.Mail("a@example.org", &smtp.MailOptions{Size: 100 << 10}), 552, smtp.EnhancedCode{5, 3, 4})
		tok := newToken("big")
		msg := append(mxMessage("a@example.org", "bob@"+domain, tok), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"), 2000)...)
		_, err := send(c, "a@example.org", []string{"bob@" + domain}, msg)
		wantCode(t, err, 552, smtp.EnhancedCode{5, 3, 4})
		if e.where(t, fx.bob, tok) != "" {
			t.Error("oversize message stored")
		}
	})
	t.Run("loop", func(t *testing.T) {
		tok := newToken("loop")
		msg := append([]byte(strings.Repeat("Received: from a by b; Thu, 02 Jan 2025 08:00:00 +0700\r\n", 6)), mxMessage("a@example.org", "bob@"+domain, tok)...)
		_, err := send(c, "a@example.org", []string{"bob@" + domain}, msg)
		wantCode(t, err, 554, smtp.EnhancedCode{5, 4, 6})
		tok = newToken("noloop")
		msg = append([]byte(strings.Repeat("Received: from a by b; Thu, 02 Jan 2025 08:00:00 +0700\r\n", 5)), mxMessage("a@example.org", "bob@"+domain, tok)...)
		if _, err := send(c, "a@example.org", []string{"bob@" + domain}, msg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("From", func(t *testing.T) {
		for _, hdr := range []string{"", "From: a@example.org\r\nFrom: b@example.org\r\n", "From: not an address\r\n"} {
			msg := []byte(hdr + "Subject: x\r\n\r\nbody\r\n")
			_, err := send(c, "a@example.org", []string{"bob@" + domain}, msg)
			wantCode(t, err, 554, smtp.EnhancedCode{5, 6, 0})
		}
	})
	t.Run("forged Authentication-Results", func(t *testing.T) {
		tok := newToken("forged")
		msg := append([]byte("Authentication-Results: "+strings.ToUpper(mxHostname)+"; spf=pass smtp.mailfrom=a@example.org;\r\n\tdkim=pass header.d=example.org\r\n"+
			"Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=a@example.org\r\n"), mxMessage("a@example.org", "bob@"+domain, tok)...)
		if _, err := send(c, "a@example.org", []string{"bob@" + domain}, msg); err != nil {
			t.Fatal(err)
		}
		m := e.find(t, fx.bob, "INBOX", tok)
		var ours, theirs int
		for _, v := range header(t, m.Raw).Values("Authentication-Results") {
			switch {
			case strings.HasPrefix(strings.ToLower(v), mxHostname+";"):
				ours++
				if !strings.Contains(v, "spf=none") {
					t.Errorf("our field %q", v)
				}
			case strings.HasPrefix(v, "mx.example.org;"):
				theirs++
			}
		}
		if ours != 1 || theirs != 1 {
			t.Errorf("%d fields with our authserv-id (want 1), %d others (want 1)", ours, theirs)
		}
	})
	if !e.logs.Contains("smtpd: mx transaction") || !e.logs.Contains("result=rejected") || !e.logs.Contains("helo=mta.example.org") {
		t.Error("transaction log lines missing")
	}
}

// failingStore fails every Deliver.
type failingStore struct{ MXStore }

func (failingStore) Deliver(context.Context, *store.Delivery) (*store.DeliveryResult, error) {
	return nil, errors.New("disk on fire")
}

func testMXStoreFailure(t *testing.T, fx *mxFixture) {
	e := newMX(t, &mxFixture{st: struct {
		testStore
	}{fx.st}, alice: fx.alice, bob: fx.bob}, MXOptions{})
	e.srv.st = failingStore{fx.st}
	c := e.dial(t, "mta.example.org")
	tok := newToken("fail")
	_, err := send(c, "a@example.org", []string{"bob@" + domain}, mxMessage("a@example.org", "bob@"+domain, tok))
	wantCode(t, err, 451, smtp.EnhancedCode{4, 3, 0})
	if !e.logs.Contains("disk on fire") {
		t.Error("store error not logged")
	}
}

func testMXShutdown(t *testing.T, fx *mxFixture) {
	e := newMX(t, fx, MXOptions{})
	busy := e.dial(t, "mta.example.org")
	idle := e.dial(t, "mta2.example.org")
	tok := newToken("shutdown")
	msg := mxMessage("a@example.org", "bob@"+domain, tok)
	if err := busy.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := busy.Rcpt("bob@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	w, err := busy.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg[:20])
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for idle.Noop() == nil {
		if time.Now().After(deadline) {
			t.Fatal("idle connection still open during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.Write(msg[20:])
	if err := w.Close(); err != nil {
		t.Fatalf("DATA during shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if e.find(t, fx.bob, "INBOX", tok) == nil {
		t.Error("message accepted during shutdown not stored")
	}
}

func TestRemoveTrustFields(t *testing.T) {
	tests := []struct{ in, want string }{
		{"From: a\r\n\r\nAuthentication-Results: mx.test; x\r\n", "From: a\r\n\r\nAuthentication-Results: mx.test; x\r\n"},
		{"Authentication-Results: mx.test; spf=pass\r\nFrom: a\r\n\r\nb\r\n", "From: a\r\n\r\nb\r\n"},
		{"From: a\r\nauthentication-results:MX.TEST;\r\n\tdkim=pass\r\n (comment)\r\nTo: b\r\n\r\n", "From: a\r\nTo: b\r\n\r\n"},
		{"Authentication-Results: mx.test.evil; spf=pass\r\nAuthentication-Results: mx.test\r\n", "Authentication-Results: mx.test.evil; spf=pass\r\n"},
		{"X-Authentication-Results: mx.test; a\r\n\r\n", "X-Authentication-Results: mx.test; a\r\n\r\n"},
		// Spellings the first version let through.
		{"Authentication-Results: (x) mx.test; dmarc=pass\r\nFrom: a\r\n\r\n", "From: a\r\n\r\n"},
		{"Authentication-Results: mx.test.; dmarc=pass\r\nFrom: a\r\n\r\n", "From: a\r\n\r\n"},
		{"Authentication-Results:\r\n (a (nested) comment)\r\n\tMx.Test. ; dmarc=pass\r\nFrom: a\r\n\r\n", "From: a\r\n\r\n"},
		{"Authentication-Results: \"mx.test\"; dmarc=pass\r\nFrom: a\r\n\r\n", "From: a\r\n\r\n"},
		{"X-Congthu-Quarantine: no\r\nx-congthu-anything: 1\r\nX-CONGTHU: 2\r\nFrom: a\r\nX-Congthuy: 3\r\n\r\nX-Congthu-Body: 4\r\n", "From: a\r\nX-Congthuy: 3\r\n\r\nX-Congthu-Body: 4\r\n"},
	}
	for _, tt := range tests {
		got, changed := removeTrustFields([]byte(tt.in), "mx.test")
		if string(got) != tt.want || changed != (tt.in != tt.want) {
			t.Errorf("removeTrustFields(%q) = %q, %v; want %q", tt.in, got, changed, tt.want)
		}
	}
}

func TestOrgDomainAlignment(t *testing.T) {
	tests := []struct {
		a, b   string
		strict bool
		want   bool
	}{
		{"example.org", "example.org", true, true},
		{"mail.example.org", "example.org", false, true},
		{"mail.example.org", "example.org", true, false},
		{"a.hcm.gov.vn", "b.hcm.gov.vn", false, true},
		{"hcm.gov.vn", "hanoi.gov.vn", false, false},
		{"x.co.uk", "y.co.uk", false, false},
		{"", "example.org", false, false},
	}
	for _, tt := range tests {
		mode := "r"
		if tt.strict {
			mode = "s"
		}
		if got := aligned(tt.a, tt.b, dmarcMode(mode)); got != tt.want {
			t.Errorf("aligned(%q, %q, %s) = %v, want %v", tt.a, tt.b, mode, got, tt.want)
		}
	}
	if got := orgDomain("a.b.ubnd.hcm.gov.vn"); got != "hcm.gov.vn" {
		t.Errorf("orgDomain = %q, want hcm.gov.vn", got)
	}
}

// The verdicts of evaluateDMARC's table, without DNS.
func TestEvaluateDMARC(t *testing.T) {
	rec := func(s string) dmarcRecord {
		r, err := parseDMARC(s)
		if err != nil {
			t.Fatal(err)
		}
		return dmarcRecord{rec: r, domain: "example.org"}
	}
	pass := spfOutcome{result: "pass", domain: "example.org"}
	fail := spfOutcome{result: "fail", domain: "example.org"}
	temp := spfOutcome{result: "temperror", domain: "example.org"}
	pol := dmarcPolicy{rejectLocalSpoof: true}
	tests := []struct {
		name  string
		local bool
		sp    spfOutcome
		dk    []dkimOutcome
		rec   dmarcRecord
		pol   dmarcPolicy
		want  verdict
		value string
	}{
		{"pass", false, pass, nil, rec("v=DMARC1; p=reject"), pol, verdictInbox, "pass"},
		{"fail reject", false, fail, nil, rec("v=DMARC1; p=reject"), pol, verdictReject, "fail"},
		{"fail reject, no reject", false, fail, nil, rec("v=DMARC1; p=reject"), dmarcPolicy{noReject: true}, verdictJunk, "fail"},
		{"fail quarantine", false, fail, nil, rec("v=DMARC1; p=quarantine"), pol, verdictJunk, "fail"},
		{"spf temp, reject", false, temp, nil, rec("v=DMARC1; p=reject"), pol, verdictTempFail, "temperror"},
		{"dkim temp, reject", false, fail, []dkimOutcome{{result: "temperror", domain: "example.org"}}, rec("v=DMARC1; p=reject"), pol, verdictTempFail, "temperror"},
		{"dkim temp elsewhere, reject", false, fail, []dkimOutcome{{result: "temperror", domain: "other.org"}}, rec("v=DMARC1; p=reject"), pol, verdictReject, "fail"},
		{"dkim pass", false, fail, []dkimOutcome{{result: "fail", domain: "other.org"}, {result: "pass", domain: "example.org"}}, rec("v=DMARC1; p=reject"), pol, verdictInbox, "pass"},
		{"no record", false, fail, nil, dmarcRecord{result: "none"}, pol, verdictInbox, "none"},
		{"local no record", true, fail, nil, dmarcRecord{result: "none"}, pol, verdictReject, "fail"},
		{"local p=none", true, fail, nil, rec("v=DMARC1; p=none"), pol, verdictReject, "fail"},
		{"local spoof allowed", true, fail, nil, dmarcRecord{result: "none"}, dmarcPolicy{}, verdictInbox, "none"},
		{"local pass", true, pass, nil, dmarcRecord{result: "none"}, pol, verdictInbox, "none"},
		{"record temp", false, fail, nil, dmarcRecord{result: "temperror"}, pol, verdictTempFail, "temperror"},
		{"record temp, pass", false, pass, nil, dmarcRecord{result: "temperror"}, pol, verdictInbox, "temperror"},
	}
	for _, tt := range tests {
		got := evaluateDMARC("example.org", tt.local, tt.sp, tt.dk, tt.rec, tt.pol)
		if got.verdict != tt.want || string(got.result) != tt.value {
			t.Errorf("%s: got verdict %d result %s (%s), want %d %s", tt.name, got.verdict, got.result, got.reason, tt.want, tt.value)
		}
	}
}

func TestAuthResultsFormat(t *testing.T) {
	got := authResults("mx.test",
		spfOutcome{result: "pass", ident: "a@example.org"},
		[]dkimOutcome{{result: "pass", domain: "example.org", ident: "@example.org"}, {result: "fail", domain: "x.org"}},
		[]dmarcOutcome{{domain: "example.org", result: "pass"}})
	want := "Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=a@example.org;\r\n\tdkim=pass header.d=example.org header.i=@example.org;\r\n\tdkim=fail header.d=x.org;\r\n\tdmarc=pass header.from=example.org\r\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTXTCache(t *testing.T) {
	dns := testdns.Start(t)
	c := newTXTCache(dns.Resolver(), time.Minute, 2)
	ctx := context.Background()
	dns.SetTXT("a.test", "one")
	if got, err := c.LookupTXT(ctx, "a.test"); err != nil || len(got) != 1 || got[0] != "one" {
		t.Fatalf("got %q, %v", got, err)
	}
	dns.SetTXT("a.test", "two")
	if got, _ := c.LookupTXT(ctx, "A.test."); got[0] != "one" {
		t.Errorf("got %q, want the cached answer", got)
	}
	// No such name is cached, as the same *net.DNSError.
	_, err := c.LookupTXT(ctx, "none.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("got %v, want not found", err)
	}
	dns.SetTXT("none.test", "now")
	if _, err := c.LookupTXT(ctx, "none.test"); !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("got %v, want the cached not found", err)
	}
	// Temporary errors are not.
	dns.SetFail("flaky.test", true)
	if _, err := c.LookupTXT(ctx, "flaky.test"); !errors.As(err, &de) || !de.Temporary() {
		t.Fatalf("got %v, want a temporary error", err)
	}
	dns.SetFail("flaky.test", false)
	dns.SetTXT("flaky.test", "ok")
	if got, err := c.LookupTXT(ctx, "flaky.test"); err != nil || got[0] != "ok" {
		t.Errorf("got %q, %v after the failure cleared", got, err)
	}
	if n := len(c.entries); n > 2 {
		t.Errorf("%d entries, max 2", n)
	}
}

func TestDirCache(t *testing.T) {
	c := newDirCache(10)
	now := time.Now()
	c.setLocalDomain("a.test", true, now)
	c.setLocalDomain("b.test", false, now)
	if l, ok := c.localDomain("a.test", now); !ok || !l {
		t.Error("a.test not remembered as local")
	}
	if l, ok := c.localDomain("b.test", now); !ok || l {
		t.Error("b.test not remembered as not local")
	}
	if _, ok := c.localDomain("a.test", now.Add(dirCacheTTL)); ok {
		t.Error("answer used after its TTL")
	}
	c.setRecipient("x@a.test", 7, now)
	if id, ok := c.recipient("x@a.test", now); !ok || id != 7 {
		t.Error("recipient not remembered")
	}
	if _, ok := c.recipient("x@a.test", now.Add(dirCacheTTL)); ok {
		t.Error("recipient used after its TTL")
	}
}
