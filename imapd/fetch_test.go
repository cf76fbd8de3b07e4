package imapd

import (
	"crypto/tls"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestFetchStoredEnvelope: FETCH ENVELOPE answered from the envelope
// stored at delivery (no message bytes read) says the same as the
// envelope built from the header (the path taken when body sections are
// fetched too), for tricky headers, over implicit TLS and STARTTLS, with
// more output than one output buffer.
func TestFetchStoredEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tricky := []string{
		"Subject: =?UTF-8?B?VGjDtG5nIGLDoW8gc+G7kSAxIHbhu4Egdmnhu4djIHRp4bq/cCBuaOG6rW4gaOG7kyBzxqE=?=\r\nFrom: =?utf-8?q?S=E1=BB=9F_T=C6=B0_ph=C3=A1p?= <stp@hanoi.gov.vn>\r\nDate: Mon, 16 Mar 2026 09:30:00 +0700\r\n\r\nx\r\n",
		"To: Phòng ban: a@hanoi.gov.vn, \"B\" <b@hanoi.gov.vn>;\r\nCc: undisclosed-recipients:;\r\nFrom: x@y.vn\r\n\r\nx\r\n",
		"X-Nothing: here\r\n\r\nno envelope fields\r\n",
		"From: a@a.vn\r\nSender: s@a.vn\r\nReply-To: r1@a.vn, \"R Hai\" <r2@a.vn>\r\nBcc: hidden@a.vn\r\nIn-Reply-To: <one@x.vn> <two@x.vn>\r\nMessage-Id: <m@x.vn>\r\n\r\nx\r\n",
		"Date: 2 Jan 2006 15:04:05 GMT\r\nSubject: Phiếu yêu cầu bổ sung hồ sơ\r\n\r\nx\r\n",
		"Date: tomorrow-ish\r\nFrom: localonly\r\nSubject: a very\r\n long\r\n\tsubject\r\n\r\nx\r\n",
	}
	// Enough long subjects for well over writeBufSize bytes of responses.
	long := strings.Repeat("Thông báo tiếp nhận hồ sơ hành chính ", 10)
	raws := append([]string{}, tricky...)
	for i := range 250 {
		raws = append(raws, message(fmt.Sprintf("%s %d", long, i), "Một cửa <motcua@hanoi.gov.vn>", "x"))
	}
	var wg sync.WaitGroup
	for _, raw := range raws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.deliver("INBOX", raw)
		}()
	}
	wg.Wait()

	starttls, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer starttls.Close()
	if err := starttls.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*imapclient.Client{"implicit TLS": e.client(nil), "STARTTLS": starttls} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			all := imap.UIDSet{{Start: 1, Stop: 0}}
			stored, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			header := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
			built, err := c.Fetch(all, &imap.FetchOptions{UID: true, Envelope: true, BodySection: []*imap.FetchItemBodySection{header}}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != len(raws) || len(built) != len(raws) {
				t.Fatalf("got %d and %d messages, want %d", len(stored), len(built), len(raws))
			}
			for i := range stored {
				g, w := *stored[i].Envelope, *built[i].Envelope
				if !g.Date.Equal(w.Date) || g.Date.Format(envelopeLayout) != w.Date.Format(envelopeLayout) {
					t.Errorf("UID %d: Date got %v, want %v", stored[i].UID, g.Date, w.Date)
				}
				g.Date, w.Date = time.Time{}, time.Time{}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("UID %d:\ngot  %+v\nwant %+v", stored[i].UID, g, w)
				}
			}
			if got, want := stored[0].Envelope.Subject, "Thông báo số 1 về việc tiếp nhận hồ sơ"; !strings.Contains(strings.Join(subjects(stored), "|"), want) {
				t.Errorf("subjects: first %q; want one to be %q", got, want)
			}
			// The connection goes on after a FETCH of many buffers.
			if err := c.Noop().Wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

const envelopeLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

func subjects(msgs []*imapclient.FetchMessageBuffer) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Envelope.Subject)
	}
	return out
}
