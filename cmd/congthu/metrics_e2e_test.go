package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"congthu/internal/metrics"
	"congthu/internal/testdns"
	"congthu/internal/testenv"
)

// TestE2EMetrics: the built binary's /metrics carries the mail side. A
// message submitted over implicit TLS to a citizen (delivered through a
// go-smtp smarthost), a wrong password, a message in through the MX and a
// relay attempt there move exactly their counters.
func TestE2EMetrics(t *testing.T) {
	sk, sinkAddr := startSink(t)
	dns := testdns.Start(t)
	ports := testenv.FreePorts(t, 2)
	httpAddr, mxAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_SMARTHOST="+sinkAddr, "CONGTHU_MX_ADDR="+mxAddr,
		"CONGTHU_HTTP_ADDR="+httpAddr, "CONGTHU_DNS_RESOLVER="+dns.Addr(), "CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn",
		"CONGTHU_IMAP_ADDR=off", "CONGTHU_IMAPS_ADDR=off")
	delete(n.addr, "imap")
	delete(n.addr, "imaps")
	n.addr["mx"], n.addr["http"] = mxAddr, httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pw = "mat-khau-cua-an-1"
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "nva.stp@hanoi.gov.vn")
	n.start(t)
	defer n.stop(t)

	c, err := smtp.DialTLS(n.addr["submissions"], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "nva.stp@hanoi.gov.vn", "sai-mat-khau")); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if err := c.Auth(sasl.NewPlainClient("", "nva.stp@hanoi.gov.vn", pw)); err != nil {
		t.Fatal(err)
	}
	msg := "From: nva.stp@hanoi.gov.vn\r\nTo: citizen@example.org\r\nSubject: Ket qua ho so\r\nMessage-ID: <metrics-1@hanoi.gov.vn>\r\n\r\nKính gửi Ông/Bà.\r\n"
	if err := c.SendMail("nva.stp@hanoi.gov.vn", []string{"citizen@example.org"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	mx, err := smtp.Dial(mxAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := mx.Hello("mx.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := mx.Mail("vanban@sotuphap.example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := mx.Rcpt("someone@elsewhere.example", nil); err == nil {
		t.Fatal("the MX relayed")
	}
	if err := mx.Rcpt("nva.stp@hanoi.gov.vn", nil); err != nil {
		t.Fatal(err)
	}
	w, err := mx.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "From: vanban@sotuphap.example.org\r\nTo: nva.stp@hanoi.gov.vn\r\nSubject: Cong van\r\nMessage-ID: <metrics-2@sotuphap.example.org>\r\nDate: %s\r\n\r\nNội dung.\r\n", time.Now().Format(time.RFC1123Z))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mx.Quit()

	// The smarthost has the message once the dispatcher recorded it.
	var got map[string]float64
	deadline := time.Now().Add(20 * time.Second)
	for {
		sk.mu.Lock()
		arrived := sk.seen["<metrics-1@hanoi.gov.vn>"]
		sk.mu.Unlock()
		got = scrapeNode(t, "http://"+httpAddr+"/metrics")
		if arrived == 1 && got[`congthu_outbox_outcomes_total{result="delivered",destination="remote_other"}`] == 1 &&
			got[`congthu_smtp_connections_open{listener="mx"}`] == 0 && got[`congthu_smtp_connections_open{listener="submissions"}`] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the message did not reach the smarthost, or its outcome was not counted (arrived %d)\n%s", arrived, n.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for series, want := range map[string]float64{
		`congthu_smtp_connections_total{listener="submissions",result="accepted"}`:      2, // start dials each listener once
		`congthu_smtp_connections_total{listener="mx",result="accepted"}`:               2,
		`congthu_smtp_messages_total{listener="submissions",result="accepted"}`:         1,
		`congthu_smtp_messages_total{listener="mx",result="accepted"}`:                  1,
		`congthu_smtp_recipients_total{listener="mx",result="rejected",reason="relay"}`: 1,
		`congthu_smtp_recipients_total{listener="mx",result="accepted"}`:                1,
		`congthu_login_attempts_total{protocol="smtp",result="ok"}`:                     1,
		`congthu_login_attempts_total{protocol="smtp",result="failed"}`:                 1,
		`congthu_outbox_outcomes_total{result="delivered",destination="remote_other"}`:  1,
		`congthu_outbox_outcomes_total{result="deferred",destination="remote_other"}`:   0,
		`congthu_outbox_recipients{state="due"}`:                                        0,
		`congthu_outbox_recipients{state="deferred"}`:                                   0,
		`congthu_outbox_oldest_due_seconds`:                                             0,
		`congthu_login_lockouts_total{scope="account"}`:                                 0,
	} {
		v, ok := got[series]
		if !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	// The API's own families are still there.
	if _, ok := got[`congthu_api_commits_total`]; !ok {
		t.Errorf("/metrics lost the API's families")
	}
}

func scrapeNode(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	samples, err := metrics.ParseText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return samples
}
