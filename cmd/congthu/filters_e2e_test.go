package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"congthu/filter/rspamd"
	"congthu/internal/testdns"
	"congthu/internal/testenv"
)

// TestE2EFilters: the built binary with a real clamd and a real rspamd
// (learning through Redis): GTUBE and EICAR (in a zip, base64 in a
// multipart) refused at the MX, a clean Vietnamese message delivered with
// its score, an "add header" message in Junk, a forged score dropped, a
// move into Junk learnt once, each daemon stopped: 451 (counted in
// /metrics); with filter.failure = accept, delivered marked as not
// scanned by either.
func TestE2EFilters(t *testing.T) {
	cd := testenv.StartClamd(t)
	rsRedis := testenv.StartRedis(t)
	rs := testenv.StartRspamd(t, rsRedis.Addr)
	dns := testdns.Start(t)
	ports := testenv.FreePorts(t, 2)
	httpAddr, mxAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	n := newNode(t, "CONGTHU_REDIS_URL="+testenv.Redis(t), "CONGTHU_MX_ADDR="+mxAddr, "CONGTHU_HTTP_ADDR="+httpAddr,
		"CONGTHU_DNS_RESOLVER="+dns.Addr(), "CONGTHU_API_SENDER_DOMAIN=hanoi.gov.vn",
		"CONGTHU_CLAMD_ADDR="+cd.Addr, "CONGTHU_RSPAMD_URL="+rs.Controller, "CONGTHU_RSPAMD_PASSWORD="+rs.Password,
		"CONGTHU_FILTER_TIMEOUT=3s")
	n.addr["mx"], n.addr["http"] = mxAddr, httpAddr
	n.admin(t, "", "domain", "add", "hanoi.gov.vn")
	const pw = "mat-khau-rat-dai-123"
	n.admin(t, pw+"\n", "user", "add", "--password-stdin", "vanthu@hanoi.gov.vn")
	if out := n.admin(t, "", "checkconfig"); !strings.Contains(out, "clamd        "+cd.Addr+": ClamAV") || !strings.Contains(out, "rspamd       "+rs.Controller+": answered") {
		t.Errorf("checkconfig does not report both filters answering:\n%s", out)
	}
	n.start(t)
	defer n.stop(t)

	const to = "vanthu@hanoi.gov.vn"
	send := func(subject, body string, extra ...string) error {
		msg := strings.Join(extra, "") + "From: Sở Tư pháp <vanban@sotuphap.example.org>\nTo: " + to + "\nSubject: " + subject +
			"\nMessage-ID: <" + testenv.Name("m") + "@sotuphap.example.org>\nDate: " + time.Now().Format(time.RFC1123Z) +
			"\nMIME-Version: 1.0\n" + body
		return sendMX(t, mxAddr, to, msg)
	}
	plain := func(text string) string { return "Content-Type: text/plain; charset=utf-8\n\n" + text + "\n" }

	if err := send("Giay moi hop", plain("Kính gửi Văn thư, trân trọng kính mời dự họp giao ban sáng thứ Hai.")); err != nil {
		t.Fatalf("clean message: %v\n%s", err, n.logs)
	}
	err := send("Khuyen mai", plain("Nội dung "+testenv.GTUBE))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 554 || !strings.Contains(se.Message, "Gtube pattern") {
		t.Errorf("GTUBE: %v, want 554 with rspamd's message", err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("ho-so.com")
	f.Write([]byte(testenv.EICAR))
	zw.Close()
	err = send("Ho so dinh kem", "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\nHồ sơ đính kèm.\n"+
		"--b1\nContent-Type: application/zip; name=ho-so.zip\nContent-Transfer-Encoding: base64\n\n"+base64.StdEncoding.EncodeToString(zb.Bytes())+"\n--b1--\n")
	if !errors.As(err, &se) || se.Code != 554 || !strings.Contains(se.Message, testenv.EICARSignature) {
		t.Errorf("EICAR in a zip: %v, want 554 naming %s", err, testenv.EICARSignature)
	}
	err = send("Tep dinh kem", "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\nTệp đính kèm.\n"+
		"--b1\nContent-Type: application/octet-stream; name=tep.com\nContent-Transfer-Encoding: base64\n\n"+base64.StdEncoding.EncodeToString([]byte(testenv.EICAR))+"\n--b1--\n")
	if !errors.As(err, &se) || se.Code != 554 || !strings.Contains(se.Message, testenv.EICARSignature) {
		t.Errorf("EICAR attached: %v, want 554 naming %s", err, testenv.EICARSignature)
	}
	if err := send("Thong bao "+testenv.Spammy, plain("Nội dung quảng cáo."), "X-Spam-Status: No, score=-50\n"); err != nil {
		t.Fatalf("spammy message: %v", err)
	}

	dial := func() *imapclient.Client {
		t.Helper()
		c, err := imapclient.DialTLS(n.addr["imaps"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Login(to, pw).Wait(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := dial()
	headers := func(mailbox string) []string {
		t.Helper()
		if _, err := c.Select(mailbox, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		var all imap.SeqSet
		all.AddRange(1, 0) // 1:*
		msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			for _, b := range m.BodySection {
				out = append(out, string(b.Bytes))
			}
		}
		return out
	}
	inbox, junk := headers("INBOX"), headers("Junk")
	if len(inbox) != 1 || !strings.Contains(inbox[0], "Giay moi hop") || !strings.Contains(inbox[0], "X-Spam-Status: No, score=") {
		t.Errorf("INBOX headers: %q", inbox)
	}
	if len(junk) != 1 || !strings.Contains(junk[0], "X-Spam-Status: Yes, score=") || strings.Contains(junk[0], "score=-50") {
		t.Errorf("Junk headers: %q", junk)
	}

	// A move into Junk is learnt once.
	learner := &rspamd.Client{URL: rs.Controller, Password: rs.Password}
	ctx := context.Background()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.SeqSetNum(1), "Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if k, _ := learner.Learned(ctx); k == 1 {
			break
		}
		if time.Now().After(deadline) {
			k, err := learner.Learned(ctx)
			t.Fatalf("rspamd learnt %d (%v), want 1\n%s", k, err, n.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if k, _ := learner.Learned(ctx); k != 1 {
		t.Errorf("rspamd learnt %d, want the one move once", k)
	}

	// clamd down: 451 4.7.1, counted.
	cd.Stop()
	err = send("Khi clamd dung", plain("Nội dung."))
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 7, 1}) {
		t.Errorf("clamd down: %v, want 451 4.7.1", err)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `congthu_filter_failures_total{filter="clamd",server="mx"} 1`) {
		t.Errorf("/metrics without the clamd failure:\n%s", body)
	}
	// rspamd down (clamd back): 451 4.7.1 too.
	cd.Start(t)
	rs.Stop()
	err = send("Khi rspamd dung", plain("Nội dung."))
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 7, 1}) {
		t.Errorf("rspamd down: %v, want 451 4.7.1", err)
	}
	cd.Stop()
	n.stop(t)

	n.env = append(n.env, "CONGTHU_FILTER_FAILURE=accept")
	n.start(t)
	if err := send("Khi ca hai dung, accept", plain("Nội dung.")); err != nil {
		t.Fatalf("both down under accept: %v", err)
	}
	c = dial()
	inbox = headers("INBOX")
	if len(inbox) != 1 || !strings.Contains(inbox[0], "X-Congthu-Scan: not scanned by clamd (unavailable)") ||
		!strings.Contains(inbox[0], "X-Congthu-Scan: not scanned by rspamd (unavailable)") {
		t.Errorf("INBOX after a delivery under accept: %q", inbox)
	}
}
