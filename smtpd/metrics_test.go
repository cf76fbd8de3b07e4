package smtpd

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/metrics"
	"congthu/loginlimit"
)

// scraper reads a registry through HTTP, as Prometheus does.
type scraper struct {
	t   testing.TB
	url string
}

func newScraper(t testing.TB, reg *metrics.Registry) *scraper {
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return &scraper{t: t, url: srv.URL + "/metrics"}
}

func (s *scraper) scrape() map[string]float64 {
	s.t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	samples, err := metrics.ParseText(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return samples
}

// wantDeltas checks that every series moved from before to after by
// exactly what want says, and that no other series moved (a gauge may
// only be back where it was).
func wantDeltas(t testing.TB, before, after map[string]float64, want map[string]float64) {
	t.Helper()
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if got := after[k] - before[k]; got != want[k] {
			t.Errorf("%s moved by %v, want %v", k, got, want[k])
		}
	}
}

// waitGauge waits until a gauge series reads v.
func waitGauge(t testing.TB, s *scraper, series string, v float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := s.scrape()[series]
		if got == v {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %v", series, got, v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsSubmission drives both submission listeners with go-smtp's
// client and checks that each counter moved by exactly what the sessions
// did.
func TestMetricsSubmission(t *testing.T) {
	reg := metrics.NewRegistry()
	opts := Options{Common: Common{Metrics: NewMetrics(reg), Resources: Resources{RcptErrorDelay: -1}}}
	e := newEnv(t, envConfig{opts: opts, lim: &loginlimit.Options{DelayAfter: -1, AccountFailures: 2, Metrics: reg}})
	s := newScraper(t, reg)
	before := s.scrape()

	// One session: a message accepted, a sender refused, a recipient
	// unknown and the transaction reset, a message without From:.
	c := e.login(t, "alice@"+domain, alicePass)
	msg := testMessage(msgOpts{from: "alice@" + domain, to: "bob@" + domain, date: true, msgID: true})
	if _, err := send(c, "alice@"+domain, []string{"bob@" + domain}, msg); err != nil {
		t.Fatal(err)
	}
	_, err := send(c, "bob@"+domain, []string{"bob@" + domain}, msg)
	wantCode(t, err, 553, smtp.EnhancedCode{5, 7, 1})
	if err := c.Mail("alice@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("nobody@"+domain, nil), 550, smtp.EnhancedCode{5, 1, 1})
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	noFrom := testMessage(msgOpts{to: "bob@" + domain, omitFrom: true})
	_, err = send(c, "alice@"+domain, []string{"bob@" + domain}, noFrom)
	wantCode(t, err, 554, smtp.EnhancedCode{5, 6, 0})
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	// Two wrong passwords lock the account (AccountFailures 2); the
	// third try is refused unverified.
	c2 := e.dialStartTLS(t)
	for range 2 {
		wantCode(t, c2.Auth(sasl.NewPlainClient("", "bob@"+domain, "wrong")), 535, smtp.EnhancedCode{5, 7, 8})
	}
	wantCode(t, c2.Auth(sasl.NewPlainClient("", "bob@"+domain, bobPass)), 454, smtp.EnhancedCode{4, 7, 0})
	c2.Quit()

	// AUTH before STARTTLS is refused without reading a password.
	c3 := e.dial(t)
	if err := c3.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c3.Auth(sasl.NewPlainClient("", "alice@"+domain, alicePass)), 538, smtp.EnhancedCode{5, 7, 11})
	c3.Quit()

	// The implicit-TLS listener counts apart.
	conn, err := tls.Dial("tcp", e.tlsAddr, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	c4 := smtp.NewClient(conn)
	if err := c4.Auth(sasl.NewPlainClient("", "alice@"+domain, alicePass)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c4, "vanthu@"+domain, []string{"phong@" + domain, "bob@" + domain}, testMessage(msgOpts{from: "vanthu@" + domain, to: "phong@" + domain})); err != nil {
		t.Fatal(err)
	}
	c4.Quit()

	waitGauge(t, s, `congthu_smtp_connections_open{listener="submission"}`, 0)
	waitGauge(t, s, `congthu_smtp_connections_open{listener="submissions"}`, 0)
	wantDeltas(t, before, s.scrape(), map[string]float64{
		`congthu_smtp_connections_total{listener="submission",result="accepted"}`:                 3,
		`congthu_smtp_connections_total{listener="submissions",result="accepted"}`:                1,
		`congthu_smtp_messages_total{listener="submission",result="accepted"}`:                    1,
		`congthu_smtp_messages_total{listener="submission",result="rejected",reason="sender"}`:    1,
		`congthu_smtp_messages_total{listener="submission",result="aborted",reason="reset"}`:      1,
		`congthu_smtp_messages_total{listener="submission",result="rejected",reason="syntax"}`:    1,
		`congthu_smtp_messages_total{listener="submissions",result="accepted"}`:                   1,
		`congthu_smtp_recipients_total{listener="submission",result="accepted"}`:                  2,
		`congthu_smtp_recipients_total{listener="submission",result="rejected",reason="unknown"}`: 1,
		`congthu_smtp_recipients_total{listener="submissions",result="accepted"}`:                 2,
		`congthu_login_attempts_total{protocol="smtp",result="ok"}`:                               2,
		`congthu_login_attempts_total{protocol="smtp",result="failed"}`:                           2,
		`congthu_login_attempts_total{protocol="smtp",result="locked"}`:                           1,
		`congthu_login_attempts_total{protocol="smtp",result="refused"}`:                          1,
		`congthu_login_lockouts_total{scope="account"}`:                                           1,
	})
}

// TestMetricsMX drives the MX: a relay attempt, an accepted message, a
// DMARC reject and a connection over the per-address cap.
func TestMetricsMX(t *testing.T) {
	fx := newMXFixture(t, "sqlite")
	reg := metrics.NewRegistry()
	e := newMX(t, fx, MXOptions{Common: Common{Metrics: NewMetrics(reg), MaxConnectionsPerIP: 1, LimitLoopback: true,
		Resources: Resources{RcptErrorDelay: -1}}})
	e.dns.SetTXT("sender.test", "v=spf1 ip4:127.0.0.1 -all")
	e.dns.SetTXT("reject.test", "v=spf1 ip4:192.0.2.1 -all")
	e.dns.SetTXT("_dmarc.reject.test", "v=DMARC1; p=reject")
	s := newScraper(t, reg)
	before := s.scrape()

	c := e.dial(t, "mta.sender.test")
	// A second connection from the same address is over the cap.
	if conn, err := net.Dial("tcp", e.addr); err != nil {
		t.Fatal(err)
	} else {
		line := make([]byte, 100)
		n, _ := conn.Read(line)
		if !strings.HasPrefix(string(line[:n]), "421 4.7.0") {
			t.Errorf("second connection got %q, want 421", line[:n])
		}
		conn.Close()
	}
	if err := c.Mail("a@sender.test", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("someone@example.org", nil), 550, smtp.EnhancedCode{5, 7, 1})
	if err := c.Rcpt("alice@"+domain, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(mxMessage("a@sender.test", "alice@"+domain, newToken("metrics")))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = send(c, "a@reject.test", []string{"alice@" + domain}, mxMessage("a@reject.test", "alice@"+domain, newToken("reject")))
	wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	c.Quit()

	waitGauge(t, s, `congthu_smtp_connections_open{listener="mx"}`, 0)
	wantDeltas(t, before, s.scrape(), map[string]float64{
		`congthu_smtp_connections_total{listener="mx",result="accepted"}`:               1,
		`congthu_smtp_connections_total{listener="mx",result="too_many_from_client"}`:   1,
		`congthu_smtp_messages_total{listener="mx",result="accepted"}`:                  1,
		`congthu_smtp_messages_total{listener="mx",result="rejected",reason="dmarc"}`:   1,
		`congthu_smtp_recipients_total{listener="mx",result="accepted"}`:                2,
		`congthu_smtp_recipients_total{listener="mx",result="rejected",reason="relay"}`: 1,
	})
}

// TestReasonOf names every reply the servers give a transaction or a
// recipient.
func TestReasonOf(t *testing.T) {
	for _, tc := range []struct {
		e    *smtp.SMTPError
		want string
	}{
		{errMalware("Eicar-Test-Signature"), "malware"},
		{errSpam("spam score 20"), "spam"},
		{errSpam(""), "spam"},
		{errDMARCReject("reject.test"), "dmarc"},
		{&smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Maximum message size exceeded"}, "size"},
		{errRelayDenied, "relay"},
		{errMailboxFull, "quota"},
		{errBadFrom, "syntax"},
		{headerReply(nil), "syntax"},
		{&smtp.SMTPError{Code: 554, Message: "something new"}, "other"},
	} {
		if got := metricReasons[reasonOf(tc.e)]; got != tc.want {
			t.Errorf("%d %q: got %q, want %q", tc.e.Code, tc.e.Message, got, tc.want)
		}
	}
}

// Counting a transaction, a recipient or a connection allocates nothing
// (once a series has been counted before).
func TestMetricsNoAllocation(t *testing.T) {
	m := NewMetrics(metrics.NewRegistry())
	lm := m.mx
	ok := &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK id"}
	dmarc := errDMARCReject("reject.test")
	count := func() {
		lm.countTx("accepted", ok)
		lm.countTx("rejected", dmarc)
		lm.countTx("deferred", errMailboxFull)
		lm.countTx("aborted", &smtp.SMTPError{})
		lm.countRcpt(nil)
		lm.countRcpt(errRelayDenied)
		lm.connAccepted.Inc()
		lm.open.Inc()
		lm.open.Dec()
		m.logins.OK.Inc()
	}
	count()
	if n := testing.AllocsPerRun(1000, count); n != 0 {
		t.Errorf("%v allocations per round, want 0", n)
	}
}
