package clamd_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"congthu/filter/clamd"
	"congthu/internal/testenv"
)

// message is a MIME message with one attachment.
func message(name string, attachment []byte) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: vp@hanoi.gov.vn\r\nSubject: Ho so\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nKính gửi.\r\n" +
		"--b1\r\nContent-Type: application/octet-stream; name=" + name + "\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(attachment)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return []byte(b.String())
}

func zipped(name string, data []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(name)
	w.Write(data)
	zw.Close()
	return buf.Bytes()
}

func TestScan(t *testing.T) {
	d := testenv.StartClamd(t)
	ctx := context.Background()
	for _, c := range []*clamd.Client{{Addr: d.Addr}, {Addr: "unix:" + d.Socket}} {
		v, err := c.Ping(ctx)
		if err != nil || !strings.HasPrefix(v, "ClamAV ") {
			t.Fatalf("%s: ping: %q %v", c, v, err)
		}
		for _, tc := range []struct {
			name string
			msg  []byte
			sig  string
		}{
			{"clean", message("to-trinh.pdf", []byte("%PDF-1.4 tờ trình")), ""},
			{"eicar base64 attachment", message("eicar.com", []byte(testenv.EICAR)), testenv.EICARSignature},
			{"eicar in a zip", message("ho-so.zip", zipped("eicar.com", []byte(testenv.EICAR))), testenv.EICARSignature},
			{"empty", nil, ""},
			{"large clean", bytes.Repeat([]byte("Nội dung văn bản. "), 200000), ""},
		} {
			res, err := c.Scan(ctx, tc.msg)
			if err != nil || res.Signature != tc.sig || res.Infected() != (tc.sig != "") {
				t.Errorf("%s %s: %+v %v, want signature %q", c, tc.name, res, err, tc.sig)
			}
		}
	}
}

// TestScanFailures: clamd refusing a stream over its limit, and clamd
// not running, are errors: the message was not scanned.
func TestScanFailures(t *testing.T) {
	d := testenv.StartClamd(t)
	ctx := context.Background()
	c := &clamd.Client{Addr: d.Addr}
	_, err := c.Scan(ctx, bytes.Repeat([]byte("x"), 31<<20))
	var ce *clamd.Error
	if !errors.As(err, &ce) {
		t.Errorf("over StreamMaxLength: %v", err)
	}
	d.Stop()
	c.Timeout = 2 * time.Second
	if _, err := c.Scan(ctx, []byte("x")); !errors.As(err, &ce) {
		t.Errorf("clamd down: %v", err)
	}
	d.Start(t)
	if res, err := c.Scan(ctx, []byte(testenv.EICAR)); err != nil || !res.Infected() {
		t.Errorf("after a restart: %+v %v", res, err)
	}
}
