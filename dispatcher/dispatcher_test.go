package dispatcher

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"congthu/internal/testdns"
	"congthu/internal/testenv"
	"congthu/outbox"
	"congthu/store"
)

func TestDelivered(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			sk := startSink(t, sinkOpts{})
			e := newEnv(t, envOpts{postgres: backend == "postgres", opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
			e.mx("remote.test", testdns.MX{Pref: 10, Host: "mx.remote.test"})
			e.dns.SetA("mx.remote.test", "127.0.0.1")

			raw := message("alice@local.test", "bob@remote.test", "Công văn số 12", 10<<10)
			id := e.submit("alice@local.test", []string{"bob@remote.test"}, raw)
			r := e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
			if r.Attempts != 1 {
				t.Errorf("attempts: got %d, want 1", r.Attempts)
			}
			msgs := sk.messages()
			if len(msgs) != 1 {
				t.Fatalf("sink got %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.from != "alice@local.test" || len(m.rcpts) != 1 || m.rcpts[0] != "bob@remote.test" {
				t.Errorf("envelope: got %q -> %q", m.from, m.rcpts)
			}
			if !hasPrefix(m.data, "DKIM-Signature:") {
				t.Fatalf("message does not start with a DKIM-Signature: %.80q", m.data)
			}
			if !bytes.HasSuffix(m.data, raw) {
				t.Errorf("message bytes changed: got %d bytes ending %q, want the original %d bytes after the signature", len(m.data), m.data[max(0, len(m.data)-40):], len(raw))
			}
			vs, err := e.verifyDKIM(m.data)
			if err != nil {
				t.Fatalf("dkim verify: %v", err)
			}
			if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "local.test" {
				t.Fatalf("dkim verification: got %+v", vs[0])
			}
			select {
			case f := <-e.final:
				if f != "bob@remote.test delivered" {
					t.Errorf("final outcome: got %q", f)
				}
			case <-time.After(5 * time.Second):
				t.Error("the outbox hook was not told the final outcome")
			}
			if in := e.inbox(); len(in) != 0 {
				t.Errorf("INBOX has %d messages after a delivery, want no DSN", len(in))
			}
		})
	}
}

func TestTemporaryThenDelivered(t *testing.T) {
	fails := 2
	var n int
	sk := startSink(t, sinkOpts{rcpt: func(string) error {
		n++
		if n <= fails {
			return smtpErr(451, [3]int{4, 3, 0}, "greylisted, try again")
		}
		return nil
	}})
	sched := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr); o.RetrySchedule = sched }})
	e.dns.SetA("remote.test", "127.0.0.1") // no MX: the implicit MX
	id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "retry", 1000))
	r := e.waitStatus(id, "bob@remote.test", outbox.Delivered, 15*time.Second)
	if r.Attempts != 3 {
		t.Errorf("attempts: got %d, want 3", r.Attempts)
	}
	sk.mu.Lock()
	at := append([]time.Time(nil), sk.attempts...)
	sk.mu.Unlock()
	if len(at) != 3 {
		t.Fatalf("sink saw %d attempts, want 3", len(at))
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < sched[i-1] {
			t.Errorf("attempt %d came %v after the previous one, want at least %v", i+1, gap, sched[i-1])
		}
	}
	if sk.count() != 1 {
		t.Errorf("sink got %d messages, want 1", sk.count())
	}
}

// dsnParts parses a DSN and returns its three parts' headers and bodies.
func dsnParts(t *testing.T, raw []byte) (hdr mail.Header, human string, status []textproto.MIMEHeader, orig []byte) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("DSN: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("DSN Content-Type: got %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("DSN part: %v", err)
		}
		ct := p.Header.Get("Content-Type")
		types = append(types, ct)
		body, _ := io.ReadAll(p) // multipart decodes quoted-printable
		switch {
		case strings.HasPrefix(ct, "text/plain"):
			human = string(body)
		case ct == "message/delivery-status" || ct == "message/global-delivery-status":
			tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body, "\r\n\r\n"...))))
			for {
				h, err := tr.ReadMIMEHeader()
				if len(h) > 0 {
					status = append(status, h)
				}
				if err != nil {
					break
				}
			}
		case ct == "text/rfc822-headers" || ct == "message/global-headers":
			orig = body
		}
	}
	if len(types) != 3 {
		t.Fatalf("DSN parts: got %q, want 3 parts", types)
	}
	return m.Header, human, status, orig
}

func TestPermanentFailureDSN(t *testing.T) {
	sk := startSink(t, sinkOpts{rcpt: func(rcpt string) error {
		if strings.HasPrefix(rcpt, "nobody@") {
			return smtpErr(550, [3]int{5, 1, 1}, "mailbox unavailable")
		}
		return nil
	}})
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
	e.mx("remote.test", testdns.MX{Pref: 10, Host: "mx.remote.test"})
	e.dns.SetA("mx.remote.test", "127.0.0.1")

	raw := message("alice@local.test", "nobody@remote.test", "Giấy mời họp", 2000)
	id := e.submit("alice@local.test", []string{"nobody@remote.test", "carol@remote.test"}, raw)
	r := e.waitStatus(id, "nobody@remote.test", outbox.Failed, 10*time.Second)
	if !strings.Contains(r.LastError, "550 5.1.1 mailbox unavailable") {
		t.Errorf("last error: got %q, want the remote reply", r.LastError)
	}
	e.waitStatus(id, "carol@remote.test", outbox.Delivered, 10*time.Second)

	in := e.waitInbox(1, 10*time.Second)
	hdr, human, status, orig := dsnParts(t, in[0])
	if got := hdr.Get("To"); !strings.Contains(got, "alice@local.test") {
		t.Errorf("DSN To: got %q", got)
	}
	if hdr.Get("Auto-Submitted") != "auto-replied" {
		t.Errorf("Auto-Submitted: got %q", hdr.Get("Auto-Submitted"))
	}
	if !strings.Contains(human, "Thư của ông/bà") || !strings.Contains(human, "could not be delivered") || !strings.Contains(human, "nobody@remote.test") {
		t.Errorf("human part lacks Vietnamese or English text:\n%s", human)
	}
	if len(status) != 2 {
		t.Fatalf("status groups: got %d, want per-message + 1 recipient: %v", len(status), status)
	}
	if got := status[0].Get("Reporting-MTA"); got != "dns; mta.local.test" {
		t.Errorf("Reporting-MTA: got %q", got)
	}
	if status[0].Get("Arrival-Date") == "" {
		t.Error("no Arrival-Date")
	}
	rs := status[1]
	for field, want := range map[string]string{
		"Final-Recipient": "rfc822; nobody@remote.test",
		"Action":          "failed",
		"Status":          "5.1.1",
		"Remote-MTA":      "dns; mx.remote.test",
		"Diagnostic-Code": "smtp; 550 5.1.1 mailbox unavailable",
	} {
		if got := rs.Get(field); got != want {
			t.Errorf("%s: got %q, want %q", field, got, want)
		}
	}
	if !bytes.Contains(orig, []byte("Subject: Giấy mời họp")) || !bytes.Contains(orig, []byte("From: Alice <alice@local.test>")) {
		t.Errorf("original headers not included:\n%s", orig)
	}
	if bytes.Contains(orig, []byte("Lorem ipsum")) {
		t.Error("the DSN includes the original body")
	}
	// No DSN for the delivered recipient, and just one DSN.
	time.Sleep(200 * time.Millisecond)
	if n := len(e.inbox()); n != 1 {
		t.Errorf("INBOX: got %d messages, want 1 DSN", n)
	}
}

func TestNoDSNForNullSenderOrRemoteSender(t *testing.T) {
	sk := startSink(t, sinkOpts{rcpt: func(string) error { return smtpErr(550, [3]int{5, 1, 1}, "no") }})
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
	e.dns.SetA("remote.test", "127.0.0.1")
	a := e.submit("", []string{"x@remote.test"}, message("alice@local.test", "x@remote.test", "dsn", 100))
	b := e.submit("bounces@notify.example", []string{"y@remote.test"}, message("alice@local.test", "y@remote.test", "notification", 100))
	e.waitStatus(a, "x@remote.test", outbox.Failed, 10*time.Second)
	e.waitStatus(b, "y@remote.test", outbox.Failed, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if n := len(e.inbox()); n != 0 {
		t.Errorf("INBOX: got %d messages, want no DSN", n)
	}
}

func TestHostDownThenUp(t *testing.T) {
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = port; o.RetrySchedule = []time.Duration{300 * time.Millisecond} }})
	e.dns.SetA("remote.test", "127.0.0.1")
	id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "down", 100))
	waitFor(t, "a failed attempt", 10*time.Second, func() bool { return e.state(id)["bob@remote.test"].Attempts >= 1 })
	r := e.state(id)["bob@remote.test"]
	if r.Status != outbox.Queued || !strings.Contains(r.LastError, "refused") {
		t.Errorf("after the host was down: got %q %q, want queued with connection refused", r.Status, r.LastError)
	}
	sk := startSink(t, sinkOpts{addr: addr})
	r = e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
	if r.Attempts < 2 || sk.count() != 1 {
		t.Errorf("got %d attempts and %d messages at the sink, want >= 2 and 1", r.Attempts, sk.count())
	}
}

func TestSTARTTLS(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sink       sinkOpts
		requireTLS bool
		delivered  bool
		tls        bool
	}{
		{"not offered", sinkOpts{}, false, true, false},
		{"offered", sinkOpts{tls: true}, false, true, true},
		{"handshake fails", sinkOpts{brokenTLS: true}, false, true, false},
		{"handshake fails, TLS required", sinkOpts{brokenTLS: true}, true, false, false},
		{"not offered, TLS required", sinkOpts{}, true, false, false},
		{"offered, TLS required", sinkOpts{tls: true}, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := startSink(t, tc.sink)
			e := newEnv(t, envOpts{opts: func(o *Options) {
				o.Port = portOf(t, sk.addr)
				if tc.requireTLS {
					o.RequireTLS = []string{"Remote.Test"}
				}
			}})
			e.dns.SetA("remote.test", "127.0.0.1")
			id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "tls", 100))
			if tc.delivered {
				e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
				if m := sk.messages(); len(m) != 1 || m[0].tls != tc.tls {
					t.Errorf("sink: got %d messages (tls %v), want 1 with tls %v", len(m), len(m) > 0 && m[0].tls, tc.tls)
				}
				return
			}
			waitFor(t, "two attempts", 10*time.Second, func() bool { return e.state(id)["bob@remote.test"].Attempts >= 2 })
			r := e.state(id)["bob@remote.test"]
			if r.Status != outbox.Queued || sk.count() != 0 {
				t.Errorf("got status %q, %d messages at the sink; want queued (retried) and none", r.Status, sk.count())
			}
			if !strings.Contains(r.LastError, "TLS") && !strings.Contains(r.LastError, "tls") {
				t.Errorf("last error: got %q, want a TLS reason", r.LastError)
			}
		})
	}
}

func TestMXPreferenceAndFallback(t *testing.T) {
	primary := startSink(t, sinkOpts{addr: "127.0.0.2:0"})
	port := primary.port()
	backup := startSink(t, sinkOpts{addr: "127.0.0.3:" + port})
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, primary.addr) }})
	e.mx("remote.test", testdns.MX{Pref: 20, Host: "backup.remote.test"}, testdns.MX{Pref: 10, Host: "primary.remote.test"})
	e.dns.SetA("primary.remote.test", "127.0.0.2")
	e.dns.SetA("backup.remote.test", "127.0.0.3")

	id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "mx 1", 100))
	e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
	if primary.count() != 1 || backup.count() != 0 {
		t.Errorf("primary got %d, backup %d; want 1, 0", primary.count(), backup.count())
	}

	primary.close()
	e.d.t.closeAll() // forget pooled connections to the primary
	e.d.t.mu.Lock()
	e.d.t.closed = false
	e.d.t.mu.Unlock()
	id = e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "mx 2", 100))
	e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
	if backup.count() != 1 {
		t.Errorf("backup got %d, want 1 after the primary went down", backup.count())
	}

	t.Run("A fallback", func(t *testing.T) {
		// No MX: the domain's own address (RFC 5321 5.1).
		e.dns.SetA("plain.test", "127.0.0.3")
		id := e.submit("alice@local.test", []string{"carol@plain.test"}, message("alice@local.test", "carol@plain.test", "a", 100))
		e.waitStatus(id, "carol@plain.test", outbox.Delivered, 10*time.Second)
	})
	t.Run("no such domain", func(t *testing.T) {
		id := e.submit("alice@local.test", []string{"dave@nxdomain.test"}, message("alice@local.test", "dave@nxdomain.test", "nx", 100))
		r := e.waitStatus(id, "dave@nxdomain.test", outbox.Failed, 10*time.Second)
		if !strings.Contains(r.LastError, "not found") {
			t.Errorf("last error: got %q", r.LastError)
		}
	})
	t.Run("DNS failure is temporary", func(t *testing.T) {
		e.dns.SetFail("flaky.test", true)
		id := e.submit("alice@local.test", []string{"x@flaky.test"}, message("alice@local.test", "x@flaky.test", "servfail", 100))
		waitFor(t, "an attempt", 10*time.Second, func() bool { return e.state(id)["x@flaky.test"].Attempts >= 1 })
		if r := e.state(id)["x@flaky.test"]; r.Status != outbox.Queued {
			t.Errorf("status: got %q (%s), want queued", r.Status, r.LastError)
		}
	})
	t.Run("null MX", func(t *testing.T) {
		n := len(e.inbox())
		e.mx("nullmx.test", testdns.MX{Pref: 0, Host: "."})
		id := e.submit("alice@local.test", []string{"eve@nullmx.test"}, message("alice@local.test", "eve@nullmx.test", "null mx", 100))
		r := e.waitStatus(id, "eve@nullmx.test", outbox.Failed, 10*time.Second)
		if r.Attempts != 1 {
			t.Errorf("attempts: got %d, want 1", r.Attempts)
		}
		in := e.waitInbox(n+1, 10*time.Second)
		_, _, status, _ := dsnParts(t, in[len(in)-1])
		if got := status[len(status)-1].Get("Status"); got != "5.1.10" {
			t.Errorf("DSN Status: got %q, want 5.1.10", got)
		}
	})
}

func TestConcurrencyLimitAndReuse(t *testing.T) {
	sk := startSink(t, sinkOpts{dataDelay: 20 * time.Millisecond})
	const limit, n = 3, 60
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr); o.MaxPerDomain = limit; o.Workers = 32 }})
	e.dns.SetA("remote.test", "127.0.0.1")
	var ids []int64
	for i := range n {
		ids = append(ids, e.submit("alice@local.test", []string{fmt.Sprintf("r%d@remote.test", i)}, message("alice@local.test", "x@remote.test", "load", 500)))
	}
	waitFor(t, "all delivered", 30*time.Second, func() bool { return sk.count() == n })
	if m := sk.maxActive.Load(); m > limit {
		t.Errorf("at most %d sessions at once, want <= %d", m, limit)
	} else if m < 2 {
		t.Errorf("at most %d session at once: expected parallel deliveries", m)
	}
	if c := sk.conns.Load(); c >= n {
		t.Errorf("%d connections for %d messages: connections are not reused", c, n)
	} else {
		t.Logf("%d messages over %d connections, at most %d at once", n, c, sk.maxActive.Load())
	}
	e.waitStatus(ids[n-1], fmt.Sprintf("r%d@remote.test", n-1), outbox.Delivered, 5*time.Second)
}

// TestSmarthostConcurrency: the smarthost, which carries every domain's
// mail, gets SmarthostMaxConnections sessions, not MaxPerDomain.
func TestSmarthostConcurrency(t *testing.T) {
	sk := startSink(t, sinkOpts{dataDelay: 50 * time.Millisecond})
	const limit, n = 6, 60
	e := newEnv(t, envOpts{opts: func(o *Options) {
		o.Smarthost = sk.addr
		o.MaxPerDomain = 1
		o.SmarthostMaxConnections = limit
		o.Workers = 32
	}})
	for i := range n {
		e.submit("alice@local.test", []string{fmt.Sprintf("r%d@d%d.test", i, i%3)}, message("alice@local.test", "x@remote.test", "load", 500))
	}
	waitFor(t, "all delivered", 30*time.Second, func() bool { return sk.count() == n })
	if m := sk.maxActive.Load(); m > limit || m <= 2 {
		t.Errorf("at most %d sessions at once to the smarthost, want between 3 and %d", m, limit)
	}
}

func TestDelayNoticeAndExpiry(t *testing.T) {
	sk := startSink(t, sinkOpts{rcpt: func(string) error { return smtpErr(421, [3]int{4, 4, 5}, "too busy") }})
	e := newEnv(t, envOpts{noRun: true, opts: func(o *Options) {
		o.Port = portOf(t, sk.addr)
		o.RetrySchedule = []time.Duration{time.Hour}
		o.DelayNotice = 4 * time.Hour
		o.MaxQueueAge = 10 * time.Hour
	}})
	e.dns.SetA("remote.test", "127.0.0.1")
	res, err := e.st.Deliver(e.ctx, &store.Delivery{Raw: message("alice@local.test", "bob@remote.test", "slow", 100), MailFrom: "alice@local.test", Remote: []string{"bob@remote.test"}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.OutboxID
	step := func(advance time.Duration) (time.Time, outbox.RecipientState) {
		t.Helper()
		e.clock.Advance(advance)
		next, err := e.d.AttemptNow(e.ctx, id)
		if err != nil {
			t.Fatalf("AttemptNow: %v", err)
		}
		return next, e.state(id)["bob@remote.test"]
	}
	next, r := step(0)
	if r.Status != outbox.Queued || r.Attempts != 1 || next.Sub(e.clock.Now()) < 59*time.Minute {
		t.Fatalf("first attempt: got %q, %d attempts, next in %v", r.Status, r.Attempts, next.Sub(e.clock.Now()))
	}
	_, r = step(30 * time.Minute) // not due: nothing happens
	if r.Attempts != 1 {
		t.Errorf("attempted before due: %d attempts", r.Attempts)
	}
	_, r = step(4 * time.Hour) // 4h30 old: a delay notice
	if r.Attempts != 2 || !r.DelayNotified {
		t.Errorf("at 4h30: got %d attempts, delay notified %v; want 2, true", r.Attempts, r.DelayNotified)
	}
	in := e.inbox()
	if len(in) != 1 {
		t.Fatalf("INBOX: got %d, want 1 delay notice", len(in))
	}
	hdr, human, status, _ := dsnParts(t, in[0])
	if !strings.Contains(hdr.Get("Subject"), "Delayed") && !strings.Contains(mustDecode(hdr.Get("Subject")), "Delayed") {
		t.Errorf("delay notice subject: %q", mustDecode(hdr.Get("Subject")))
	}
	if !strings.Contains(human, "vẫn đang tiếp tục thử gửi") {
		t.Errorf("delay notice text:\n%s", human)
	}
	if got := status[1].Get("Action"); got != "delayed" {
		t.Errorf("Action: got %q, want delayed", got)
	}
	if got := status[1].Get("Status"); !strings.HasPrefix(got, "4.") {
		t.Errorf("Status: got %q, want 4.x.x", got)
	}
	if status[1].Get("Will-Retry-Until") == "" {
		t.Error("no Will-Retry-Until")
	}
	_, r = step(time.Hour) // 5h30: retried, no second notice
	if r.Attempts != 3 || len(e.inbox()) != 1 {
		t.Errorf("at 5h30: %d attempts, %d in INBOX; want 3, 1", r.Attempts, len(e.inbox()))
	}
	next, r = step(5 * time.Hour) // 10h30: expired
	if r.Status != outbox.Expired || !next.IsZero() {
		t.Fatalf("at 10h30: got %q (next %v), want expired", r.Status, next)
	}
	in = e.inbox()
	if len(in) != 2 {
		t.Fatalf("INBOX: got %d, want delay notice + failure", len(in))
	}
	_, human, status, _ = dsnParts(t, in[1])
	if got := status[1].Get("Action"); got != "failed" {
		t.Errorf("Action: got %q, want failed", got)
	}
	if got := status[1].Get("Status"); got != "5.4.5" {
		t.Errorf("Status: got %q, want 5.4.5 (the 4.4.5 that kept failing, made final)", got)
	}
	if got := status[1].Get("Diagnostic-Code"); got != "smtp; 421 4.4.5 too busy" {
		t.Errorf("Diagnostic-Code: got %q", got)
	}
	if !strings.Contains(human, "hết thời gian") {
		t.Errorf("expiry text:\n%s", human)
	}
	// Done: running again changes nothing.
	if _, r = step(time.Hour); r.Status != outbox.Expired || len(e.inbox()) != 2 {
		t.Errorf("after expiry: %q, %d in INBOX", r.Status, len(e.inbox()))
	}
}

func mustDecode(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

func TestSweeperRestoresAfterFlushAll(t *testing.T) {
	rs := testenv.StartRedis(t)
	sk := startSink(t, sinkOpts{})
	e := newEnv(t, envOpts{redisURL: rs.URL(0), noRun: true, opts: func(o *Options) {
		o.Port = portOf(t, sk.addr)
		o.SweepInterval = 200 * time.Millisecond
	}})
	e.dns.SetA("remote.test", "127.0.0.1")
	var ids []int64
	for i := range 5 {
		res, err := e.st.Deliver(e.ctx, &store.Delivery{Raw: message("alice@local.test", "bob@remote.test", "sweep", 100), MailFrom: "alice@local.test", Remote: []string{fmt.Sprintf("r%d@remote.test", i)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.q.Enqueue(e.ctx, jobFor(res.OutboxID)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.OutboxID)
	}
	if st, _ := e.q.Stats(e.ctx, Queue); st.Ready != 5 {
		t.Fatalf("ready before FLUSHALL: got %d, want 5", st.Ready)
	}
	if err := e.rdb.FlushAll(e.ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.q.Stats(e.ctx, Queue); st.Ready != 0 {
		t.Fatalf("ready after FLUSHALL: got %d", st.Ready)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error)
	go func() { done <- e.d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "all 5 delivered", 15*time.Second, func() bool { return sk.count() == 5 })
	for i, id := range ids {
		e.waitStatus(id, fmt.Sprintf("r%d@remote.test", i), outbox.Delivered, 5*time.Second)
	}
}

func TestLocalDomainRecipient(t *testing.T) {
	e := newEnv(t, envOpts{})
	// Queued for a domain that is local by the time it is delivered.
	id := e.submit("alice@local.test", []string{"Alice@Local.Test", "ghost@local.test"}, message("alice@local.test", "alice@local.test", "to myself", 100))
	e.waitStatus(id, "Alice@local.test", outbox.Delivered, 10*time.Second)
	r := e.waitStatus(id, "ghost@local.test", outbox.Failed, 10*time.Second)
	if !strings.Contains(r.LastError, "5.1.1") {
		t.Errorf("last error: got %q", r.LastError)
	}
	in := e.waitInbox(2, 10*time.Second) // the message and the DSN for ghost
	var dsn int
	for _, m := range in {
		if bytes.Contains(m, []byte("multipart/report")) {
			dsn++
		}
	}
	if dsn != 1 {
		t.Errorf("got %d DSNs among %d INBOX messages, want 1", dsn, len(in))
	}
}

func TestSmarthostAuth(t *testing.T) {
	sk := startSink(t, sinkOpts{tls: true, authUser: "relay", authPass: "s3cret"})
	e := newEnv(t, envOpts{opts: func(o *Options) {
		o.Smarthost = sk.addr
		o.SmarthostUsername, o.SmarthostPassword = "relay", "s3cret"
		o.SmarthostInsecureSkipVerify = true
	}})
	// No DNS at all for the recipient's domain: everything goes to the
	// smarthost.
	id := e.submit("alice@local.test", []string{"bob@anywhere.example"}, message("alice@local.test", "bob@anywhere.example", "via relay", 100))
	e.waitStatus(id, "bob@anywhere.example", outbox.Delivered, 10*time.Second)
	m := sk.messages()
	if len(m) != 1 || !m[0].tls {
		t.Fatalf("smarthost got %d messages (tls %v), want 1 over TLS", len(m), len(m) == 1 && m[0].tls)
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if len(sk.authed) == 0 || sk.authed[0] != "relay" {
		t.Errorf("AUTH: got %q", sk.authed)
	}
}

func TestSmarthostImplicitTLSBadPassword(t *testing.T) {
	sk := startSink(t, sinkOpts{implicit: true, authUser: "relay", authPass: "s3cret"})
	e := newEnv(t, envOpts{opts: func(o *Options) {
		o.Smarthost = sk.addr
		o.SmarthostTLS = SmarthostImplicitTLS
		o.SmarthostUsername, o.SmarthostPassword = "relay", "wrong"
		o.SmarthostInsecureSkipVerify = true
	}})
	id := e.submit("alice@local.test", []string{"bob@anywhere.example"}, message("alice@local.test", "bob@anywhere.example", "via relay", 100))
	waitFor(t, "an attempt", 10*time.Second, func() bool { return e.state(id)["bob@anywhere.example"].Attempts >= 1 })
	r := e.state(id)["bob@anywhere.example"]
	if r.Status != outbox.Queued || !strings.Contains(r.LastError, "535") {
		t.Errorf("got %q %q, want queued after 535 (our configuration, not the recipient)", r.Status, r.LastError)
	}
	if strings.Contains(r.LastError, "wrong") {
		t.Error("the password leaked into the error")
	}
}

func TestGracefulShutdown(t *testing.T) {
	sk := startSink(t, sinkOpts{dataDelay: 300 * time.Millisecond})
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
	e.dns.SetA("remote.test", "127.0.0.1")
	id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "bye", 100))
	waitFor(t, "delivery started", 5*time.Second, func() bool { return sk.active.Load() > 0 })
	e.stop()
	e.stop = nil
	// The running delivery finished and was recorded.
	if r := e.state(id)["bob@remote.test"]; r.Status != outbox.Delivered {
		t.Errorf("after shutdown: got %q, want delivered", r.Status)
	}
	waitFor(t, "connections closed", 5*time.Second, func() bool { return sk.active.Load() == 0 })
}

func TestDialPlainIPLiteral(t *testing.T) {
	// An MX host given as an IP literal is accepted.
	sk := startSink(t, sinkOpts{})
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
	e.mx("remote.test", testdns.MX{Pref: 10, Host: "127.0.0.1"})
	id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "ip", 100))
	e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
	_ = net.IPv4len
}

// A message signed when it was accepted (Sign, as submission and the API
// do) is delivered as stored: one signature, which verifies; the
// dispatcher does not sign it again.
func TestSignedAtAcceptanceNotSignedAgain(t *testing.T) {
	sk := startSink(t, sinkOpts{})
	e := newEnv(t, envOpts{opts: func(o *Options) { o.Port = portOf(t, sk.addr) }})
	e.mx("remote.test", testdns.MX{Pref: 10, Host: "mx.remote.test"})
	e.dns.SetA("mx.remote.test", "127.0.0.1")

	raw := message("alice@local.test", "bob@remote.test", "Công văn đã ký", 4<<10)
	signed := e.d.o.Signer.Sign(e.ctx, "alice@local.test", raw)
	if !hasPrefix(signed, "DKIM-Signature:") || !bytes.HasSuffix(signed, raw) {
		t.Fatalf("Sign: got %.80q", signed)
	}
	// A domain without a key is not signed.
	if out := e.d.o.Signer.Sign(e.ctx, "x@elsewhere.test", message("x@elsewhere.test", "bob@remote.test", "x", 100)); hasPrefix(out, "DKIM-Signature:") {
		t.Fatal("signed mail from a domain that is not ours")
	}
	id := e.submit("alice@local.test", []string{"bob@remote.test"}, signed)
	e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
	msgs := sk.messages()
	if len(msgs) != 1 {
		t.Fatalf("sink got %d messages, want 1", len(msgs))
	}
	if !bytes.Equal(msgs[0].data, signed) {
		t.Fatalf("delivered bytes differ from the stored signed message (%d vs %d bytes)", len(msgs[0].data), len(signed))
	}
	if n := bytes.Count(msgs[0].data, []byte("DKIM-Signature:")); n != 1 {
		t.Fatalf("%d DKIM-Signature fields, want 1", n)
	}
	vs, err := e.verifyDKIM(msgs[0].data)
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("dkim verify: %+v, %v", vs, err)
	}
}
