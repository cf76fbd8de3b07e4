package dispatcher

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		code      int
		status    string
		permanent bool
	}{
		{"5xx with enhanced code", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, 550, "5.1.1", true},
		{"4xx", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}, 451, "4.7.1", false},
		{"5xx without enhanced code", &smtp.SMTPError{Code: 554, Message: "go away"}, 554, "", true},
		{"unexpected 2xx", &smtp.SMTPError{Code: 250, Message: "ok?"}, 250, "4.5.0", false},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, 0, "4.4.1", false},
		{"timeout", context.DeadlineExceeded, 0, "4.4.2", false},
		{"TLS", errTLSHandshake, 0, "4.7.0", false},
		{"already classified", permanent("5.1.10", "null MX"), 0, "5.1.10", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := classify(tc.err, "mx.example")
			if e.Code != tc.code || e.Status != tc.status || e.Permanent != tc.permanent {
				t.Errorf("got code %d status %q permanent %v, want %d %q %v", e.Code, e.Status, e.Permanent, tc.code, tc.status, tc.permanent)
			}
			if e.RemoteMTA != "mx.example" {
				t.Errorf("RemoteMTA: got %q", e.RemoteMTA)
			}
		})
	}
	if classify(nil, "x") != nil {
		t.Error("classify(nil) is not nil")
	}
	var de *DeliveryError
	if !errors.As(error(classify(errors.New("boom"), "x")), &de) {
		t.Error("not a *DeliveryError")
	}
}

func TestRetryDelay(t *testing.T) {
	d := &Dispatcher{o: Options{RetrySchedule: []time.Duration{time.Minute, 5 * time.Minute, time.Hour}}}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, time.Minute}, {1, time.Minute}, {2, 5 * time.Minute}, {3, time.Hour}, {4, time.Hour}, {100, time.Hour}} {
		if got := d.retryDelay(tc.n); got != tc.want {
			t.Errorf("retryDelay(%d): got %v, want %v", tc.n, got, tc.want)
		}
	}
}

// checkDSN parses a DSN and fails unless it is a well-formed
// multipart/report whose status part has the expected recipients.
func checkDSN(t *testing.T, raw []byte, rcpts int) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("DSN does not parse: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	parts := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", parts, err)
		}
		parts++
		body, _ := io.ReadAll(p)
		if parts == 2 {
			tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body, "\r\n\r\n"...))))
			groups := 0
			for {
				h, err := tr.ReadMIMEHeader()
				if len(h) > 0 {
					groups++
					if groups > 1 && h.Get("Action") == "" {
						t.Fatalf("recipient group without Action: %v", h)
					}
				}
				if err != nil {
					break
				}
			}
			if groups != 1+rcpts {
				t.Fatalf("status groups: got %d, want %d:\n%s", groups, 1+rcpts, body)
			}
		}
	}
	if parts != 3 {
		t.Fatalf("got %d parts, want 3", parts)
	}
}

// FuzzDSN builds DSNs from arbitrary original headers, replies and
// addresses: the result must always parse, with one status group per
// recipient (a reply with line breaks must not add fields).
func FuzzDSN(f *testing.F) {
	f.Add([]byte("From: a@b.c\r\nSubject: =?utf-8?q?Th=C6=B0?=\r\n\r\n"), "550 5.1.1 no\r\nAction: delivered", "bob@remote.test", 550)
	f.Add([]byte("Subject: x\n"), "timeout", "người@ví-dụ.vn", 0)
	f.Add([]byte{}, "", "", 421)
	f.Fuzz(func(t *testing.T, hdr []byte, reply, rcpt string, code int) {
		if rcpt == "" || strings.ContainsAny(rcpt, "\r\n") {
			rcpt = "x@y.z"
		}
		e := &DeliveryError{Code: code % 600, Message: reply, RemoteMTA: "mx.test", Permanent: code%2 == 0}
		raw := buildDSN(dsnInfo{reportingMTA: "mta.test", sender: "a@b.c", arrival: time.Now(), now: time.Now(), outboxID: 1,
			rcpts: []dsnRecipient{{addr: rcpt, action: "failed", err: e}}, header: hdr})
		// A header section with a line that is a boundary is the one
		// thing we do not guard against: the boundary is random.
		checkDSN(t, raw, 1)
	})
}
