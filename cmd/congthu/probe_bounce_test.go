package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"congthu/internal/testdns"
	"congthu/internal/testenv"
	"congthu/webhook"
)

// envelopeSink is a remote MX (reached as the smarthost) that keeps each
// message with its envelope sender.
type envelopeSink struct {
	mu   sync.Mutex
	from map[string]string // recipient -> MAIL FROM
	msgs map[string][]byte
}

func (s *envelopeSink) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &envelopeSession{s: s}, nil
}

type envelopeSession struct {
	s     *envelopeSink
	from  string
	rcpts []string
}

func (e *envelopeSession) Mail(from string, _ *smtp.MailOptions) error { e.from = from; return nil }
func (e *envelopeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	e.rcpts = append(e.rcpts, to)
	return nil
}
func (e *envelopeSession) Reset()        { e.rcpts = nil }
func (e *envelopeSession) Logout() error { return nil }
func (e *envelopeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	for _, rc := range e.rcpts {
		e.s.from[rc], e.s.msgs[rc] = e.from, b
	}
	return nil
}

// sendMX sends msg from the null sender over the MX, returning the
// reply to the first refused command (nil when accepted).
func sendMX(t *testing.T, addr, rcpt, msg string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	io.WriteString(w, strings.ReplaceAll(msg, "\n", "\r\n"))
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestProbeBounce: postmaster@ and abuse@ of a served
// domain are accepted by the MX and reach the first account, then the one
// `domain postmaster` names; notification mail leaves DKIM-signed by the
// first served domain, whose bounce+<id>@ return path it carries; an RFC
// 3464 bounce to that address makes the notification permanent-failure
// with the remote diagnostic, and the callback says so; an unknown id is
// 550 5.1.1. Before: postmaster@ and bounce+ were 550, and the return
// path was on the host name, unsigned.
func TestProbeBounce(t *testing.T) {
	sink := &envelopeSink{from: map[string]string{}, msgs: map[string][]byte{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.example.org"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	var cbMu sync.Mutex
	var callbacks []webhook.Payload
	const secret = "bi-mat-cua-mot-cua-hoan-kiem"
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		json.Unmarshal(body, &p)
		cbMu.Lock()
		callbacks = append(callbacks, p)
		cbMu.Unlock()
	}))
	defer cb.Close()

	dns := testdns.Start(t)
	ports := testenv.FreePorts(t, 2)
	httpAddr, mxAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_SMARTHOST="+ln.Addr().String(),
		"CONGTHU_HTTP_ADDR="+httpAddr, "CONGTHU_MX_ADDR="+mxAddr, "CONGTHU_DNS_RESOLVER="+dns.Addr(),
		"CONGTHU_HOSTNAME=mail.hoankiem.gov.vn", "CONGTHU_API_CALLBACK_ALLOW=127.0.0.0/8")
	n.addr["http"], n.addr["mx"] = httpAddr, mxAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn") // the first: the sender domain by default
	n.admin(t, "", "domain", "add", "hoankiem.hanoi.gov.vn")
	const pw = "mat-khau-rat-dai-123"
	for _, a := range []string{"vanthu@hanoi.gov.vn", "giamdoc@hanoi.gov.vn"} {
		n.admin(t, pw+"\n", "user", "add", "--password-stdin", a)
	}
	key := strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua-hoankiem"))
	n.admin(t, "", "service", "callback", "set", "motcua-hoankiem", "--url", cb.URL, "--secret", secret)
	rec := regexp.MustCompile(`(?m)^(\S+)\._domainkey\.hanoi\.gov\.vn\.\tIN\tTXT\t(.*)$`).FindStringSubmatch(n.admin(t, "", "domain", "dns", "hanoi.gov.vn"))
	if rec == nil {
		t.Fatal("no DKIM record for hanoi.gov.vn")
	}
	selector, txt := rec[1], strings.ReplaceAll(strings.ReplaceAll(rec[2], `" "`, ""), `"`, "")
	if out := n.admin(t, "", "checkconfig"); !strings.Contains(out, "sender       hanoi.gov.vn") {
		t.Errorf("checkconfig: %s, want the sender domain hanoi.gov.vn", out)
	}
	n.start(t)
	defer n.stop(t)

	// postmaster@ and abuse@: the first account, then the named one.
	inboxHas := func(user, subject string) bool {
		out := filepath.Join(t.TempDir(), "m.eml")
		readInbox(t, n, user, pw, out, false)
		b, _ := os.ReadFile(out)
		return bytes.Contains(b, []byte(subject))
	}
	role := func(rcpt, subject string) {
		t.Helper()
		msg := "From: Quan tri <admin@example.org>\nTo: " + rcpt + "\nSubject: " + subject + "\nMessage-ID: <" + subject + "@example.org>\n\nXin chao.\n"
		if err := sendMX(t, mxAddr, rcpt, msg); err != nil {
			t.Fatalf("%s over the MX: %v\n%s", rcpt, err, n.logs)
		}
	}
	role("postmaster@hanoi.gov.vn", "pm-1")
	if !inboxHas("vanthu@hanoi.gov.vn", "pm-1") {
		t.Errorf("postmaster@ did not reach the first account")
	}
	role("Abuse@Hanoi.gov.vn", "abuse-1")
	if !inboxHas("vanthu@hanoi.gov.vn", "abuse-1") {
		t.Errorf("abuse@ did not reach the first account")
	}
	if out := n.admin(t, "", "domain", "postmaster", "hanoi.gov.vn", "giamdoc@hanoi.gov.vn"); !strings.Contains(out, "giamdoc@hanoi.gov.vn") {
		t.Errorf("domain postmaster: %s", out)
	}
	role("postmaster@hanoi.gov.vn", "pm-2")
	if !inboxHas("giamdoc@hanoi.gov.vn", "pm-2") {
		t.Errorf("postmaster@ did not reach the named account")
	}
	// A domain with no account says so.
	var se *smtp.SMTPError
	if err := sendMX(t, mxAddr, "postmaster@hoankiem.hanoi.gov.vn", "Subject: x\n\nx\n"); !errors.As(err, &se) || se.Code != 550 || !strings.Contains(se.Message, "postmaster") {
		t.Errorf("postmaster@ of a domain without accounts: got %v, want 550 naming postmaster", err)
	}

	// A live notification, then its bounce.
	body := `{"event_id":"evt-b1","status":"received","channels":["email"],
		"applicant":{"name":"Nguyễn Văn An","email":"an@example.org"},
		"procedure":"Cấp giấy phép xây dựng","agency":"Ủy ban nhân dân quận Hoàn Kiếm",
		"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`
	api := func(method, path, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+httpAddr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	var created struct {
		Notifications []struct{ ID string } `json:"notifications"`
	}
	json.Unmarshal(api("POST", "/v1/dossiers/000.00.12.H26-B1/events", body), &created)
	if len(created.Notifications) != 1 {
		t.Fatalf("created %+v", created)
	}
	id := created.Notifications[0].ID
	deadline := time.Now().Add(30 * time.Second)
	var raw []byte
	for raw == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the notification never reached the sink\n%s", n.logs)
		}
		time.Sleep(100 * time.Millisecond)
		sink.mu.Lock()
		raw = sink.msgs["an@example.org"]
		from := sink.from["an@example.org"]
		sink.mu.Unlock()
		if raw != nil && from != "bounce+"+id+"@hanoi.gov.vn" {
			t.Errorf("envelope sender %q, want bounce+%s@hanoi.gov.vn", from, id)
		}
	}
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(raw), &msgdkim.VerifyOptions{
		LookupTXT: func(d string) ([]string, error) {
			if d != selector+"._domainkey.hanoi.gov.vn" {
				return nil, fmt.Errorf("unexpected lookup %s", d)
			}
			return []string{txt}, nil
		},
	})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "hanoi.gov.vn" {
		t.Errorf("DKIM of the notification: %v %+v, want a valid signature of hanoi.gov.vn", err, vs)
	}

	// A delayed report first: nothing changes.
	const diag = "550 5.1.1 <an@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
	report := func(action, status, diag string) string {
		return "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nTo: bounce+" + id + "@hanoi.gov.vn\n" +
			"Subject: Undelivered Mail Returned to Sender\nMessage-ID: <" + action + "." + id + "@mx.example.org>\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n" +
			"--B\nContent-Type: text/plain\n\nThe mail system could not deliver your message.\n\n" +
			"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n" +
			"Final-Recipient: rfc822; an@example.org\nAction: " + action + "\nStatus: " + status + "\n" +
			"Remote-MTA: dns; mailstore.example.org\nDiagnostic-Code: smtp; " + diag + "\n\n--B--\n"
	}
	if err := sendMX(t, mxAddr, "bounce+"+id+"@hanoi.gov.vn", report("delayed", "4.2.2", "452 4.2.2 Mailbox full")); err != nil {
		t.Fatalf("delayed report: %v", err)
	}
	var view struct {
		Status       string `json:"status"`
		StatusDetail string `json:"status_detail"`
		Events       []struct {
			Status string `json:"status"`
			Detail string `json:"detail"`
		} `json:"events"`
	}
	json.Unmarshal(api("GET", "/v1/notifications/"+id, ""), &view)
	if view.Status == "permanent-failure" {
		t.Errorf("after a delayed report: status %q, want it unchanged", view.Status)
	}
	if err := sendMX(t, mxAddr, "bounce+"+id+"@hanoi.gov.vn", report("failed", "5.1.1", diag)); err != nil {
		t.Fatalf("bounce: %v\n%s", err, n.logs)
	}
	json.Unmarshal(api("GET", "/v1/notifications/"+id, ""), &view)
	if view.Status != "permanent-failure" || !strings.Contains(view.StatusDetail, diag) || !strings.Contains(view.StatusDetail, "5.1.1") {
		t.Errorf("after the bounce: %+v, want permanent-failure with the diagnostic", view)
	}
	if len(view.Events) == 0 || view.Events[len(view.Events)-1].Status != "permanent-failure" || !strings.Contains(view.Events[len(view.Events)-1].Detail, diag) {
		t.Errorf("timeline %+v, want the bounce last", view.Events)
	}
	// The same bounce again is accepted and changes nothing.
	if err := sendMX(t, mxAddr, "bounce+"+id+"@hanoi.gov.vn", report("failed", "5.1.1", diag)); err != nil {
		t.Errorf("second bounce: %v", err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		cbMu.Lock()
		var got []string
		for _, p := range callbacks {
			if p.ID == id {
				got = append(got, p.Status)
			}
		}
		cbMu.Unlock()
		if len(got) > 0 && got[len(got)-1] == "permanent-failure" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callbacks for %s: %v, want permanent-failure last\n%s", id, got, n.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Unknown and malformed ids.
	for _, rcpt := range []string{"bounce+0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@hanoi.gov.vn", "bounce+nonsense@hanoi.gov.vn", "bounce+@hanoi.gov.vn"} {
		err := sendMX(t, mxAddr, rcpt, report("failed", "5.1.1", diag))
		if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
			t.Errorf("%s: got %v, want 550 5.1.1", rcpt, err)
		}
	}
}
