package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"congthu/internal/testenv"
	"congthu/webhook"
)

// mxSink is a go-smtp server standing in for the applicants' mail
// servers (reached as the smarthost): it keeps every message and answers
// 550 to recipients whose local part starts with "reject".
type mxSink struct {
	mu   sync.Mutex
	msgs map[string][]byte // recipient -> message
}

func (s *mxSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &mxSinkSession{s: s}, nil }

type mxSinkSession struct {
	s     *mxSink
	rcpts []string
}

func (*mxSinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *mxSinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "reject") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}
func (ss *mxSinkSession) Reset()        { ss.rcpts = nil }
func (ss *mxSinkSession) Logout() error { return nil }
func (ss *mxSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	for _, rc := range ss.rcpts {
		ss.s.msgs[rc] = b
	}
	ss.s.mu.Unlock()
	return nil
}

func (s *mxSink) get(rcpt string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[rcpt]
}

// A dossier event through the running binary: the applicant's email
// reaches the remote side with correct MIME, a UTF-8 subject, a DKIM
// signature that verifies and Reply-To to the handling unit; a 550 for
// another applicant ends in permanent-failure and a signed callback.
func TestE2EDossierEventEmail(t *testing.T) {
	sink := &mxSink{msgs: map[string][]byte{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.example.org"
	srv.AllowInsecureAuth = true
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
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("callback signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("callback body %q: %v", body, err)
		}
		cbMu.Lock()
		callbacks = append(callbacks, p)
		cbMu.Unlock()
	}))
	defer cb.Close()

	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_SMARTHOST="+ln.Addr().String(),
		"CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn", "CONGTHU_HTTP_ADDR="+httpAddr,
		"CONGTHU_API_CALLBACK_ALLOW=127.0.0.0/8") // the callback receiver is on loopback
	n.addr["http"] = httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	key := strings.TrimSpace(n.admin(t, "", "apikey", "create", "--service", "motcua-hoankiem"))
	n.admin(t, secret+"\n", "service", "callback", "set", "motcua-hoankiem", "--url", cb.URL, "--secret-stdin")
	dns := n.admin(t, "", "domain", "dns", "hanoi.gov.vn")
	m := regexp.MustCompile(`(?m)^(\S+)\._domainkey\.hanoi\.gov\.vn\.\tIN\tTXT\t(.*)$`).FindStringSubmatch(dns)
	if m == nil {
		t.Fatalf("no DKIM record in:\n%s", dns)
	}
	selector, txt := m[1], strings.ReplaceAll(strings.ReplaceAll(m[2], `" "`, ""), `"`, "")
	n.start(t)
	defer n.stop(t)

	post := func(code, eventID, email string) {
		t.Helper()
		body := fmt.Sprintf(`{"event_id":%q,"status":"received","channels":["email"],
			"applicant":{"name":"Nguyễn Văn An","email":%q},
			"procedure":"Cấp giấy phép xây dựng nhà ở riêng lẻ","agency":"Ủy ban nhân dân quận Hoàn Kiếm",
			"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00",
			"handling_unit":"motcua.hoankiem@hanoi.gov.vn"}`, eventID, email)
		out, err := exec.Command("curl", "-sS", "-w", "\n%{http_code}", "-H", "Authorization: Bearer "+key,
			"-H", "Content-Type: application/json", "--data-binary", body,
			"http://"+httpAddr+"/v1/dossiers/"+code+"/events").CombinedOutput()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "201") {
			t.Fatalf("POST event: %v\n%s", err, out)
		}
	}
	post("000.00.12.H26-260315-0001", "evt-1", "an@example.org")
	post("000.00.12.H26-260315-0002", "evt-2", "reject-me@example.org")

	var raw []byte
	deadline := time.Now().Add(30 * time.Second)
	for raw == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the email never reached the remote side\n%s", n.logs)
		}
		time.Sleep(100 * time.Millisecond)
		raw = sink.get("an@example.org")
	}

	// DKIM verifies with the published key.
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(raw), &msgdkim.VerifyOptions{
		LookupTXT: func(d string) ([]string, error) {
			if d != selector+"._domainkey.hanoi.gov.vn" {
				return nil, fmt.Errorf("unexpected lookup %s", d)
			}
			return []string{txt}, nil
		},
	})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Errorf("DKIM: %v %+v", err, vs)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.Contains(subj, "000.00.12.H26-260315-0001") || !strings.Contains(subj, "hồ sơ") && !strings.Contains(subj, "Hồ sơ") {
		t.Errorf("subject %q (%v): want the Vietnamese subject with the dossier code", subj, err)
	}
	if rt := msg.Header.Get("Reply-To"); !strings.Contains(rt, "motcua.hoankiem@hanoi.gov.vn") {
		t.Errorf("Reply-To %q, want the handling unit", rt)
	}
	if from := msg.Header.Get("From"); !strings.Contains(from, "@hanoi.gov.vn") {
		t.Errorf("From %q", from)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		if cp["charset"] != "" && !strings.EqualFold(cp["charset"], "utf-8") {
			t.Errorf("part %s charset %q", ct, cp["charset"])
		}
		body, _ := io.ReadAll(p)
		if ct == "text/plain" && !strings.Contains(string(body), "Nguy") {
			t.Errorf("text part does not address the applicant: %.200q", body)
		}
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", types)
	}

	// The 550 ends in permanent-failure with a signed callback, and both
	// notifications' final statuses arrive as callbacks.
	deadline = time.Now().Add(60 * time.Second)
	for {
		cbMu.Lock()
		final := map[string]string{}
		for _, p := range callbacks {
			if p.Final {
				final[p.Dossier] = p.Status
			}
		}
		cbMu.Unlock()
		if final["000.00.12.H26-260315-0002"] == "permanent-failure" && final["000.00.12.H26-260315-0001"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("final callbacks: got %v, want delivered and permanent-failure\n%s", final, n.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
