package envelope

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// tricky are header sections whose envelopes are easy to get wrong.
var tricky = []struct{ name, header string }{
	{"plain", "Date: Mon, 02 Jan 2006 15:04:05 +0700\r\nFrom: Một cửa <motcua@hanoi.gov.vn>\r\nTo: nva@hanoi.gov.vn\r\nSubject: Hello\r\nMessage-ID: <abc@hanoi.gov.vn>\r\n\r\n"},
	{"rfc2047 Vietnamese subject", "Subject: =?UTF-8?B?VGjDtG5nIGLDoW8gc+G7kSAxIHbhu4Egdmnhu4djIHRp4bq/cCBuaOG6rW4gaOG7kyBzxqE=?=\r\nFrom: =?utf-8?q?S=E1=BB=9F_T=C6=B0_ph=C3=A1p?= <stp@hanoi.gov.vn>\r\n\r\n"},
	{"rfc2047 split words", "Subject: =?UTF-8?Q?H=E1=BB=93_s=C6=A1?= =?UTF-8?Q?_s=E1=BB=91_12?=\r\n\r\n"},
	{"raw UTF-8 subject", "Subject: Phiếu yêu cầu bổ sung hồ sơ\r\nFrom: \"Nguyễn Văn An\" <nva@example.vn>\r\n\r\n"},
	{"bad encoded word", "Subject: =?x-unknown?Q?abc?=\r\n\r\n"},
	{"group", "To: Phòng ban: a@hanoi.gov.vn, \"B\" <b@hanoi.gov.vn>;\r\nCc: undisclosed-recipients:;\r\nFrom: x@y.vn\r\n\r\n"},
	{"missing everything", "X-Nothing: here\r\n\r\n"},
	{"empty header", "\r\n"},
	{"no blank line", "Subject: cut"},
	{"sender reply-to bcc", "From: a@a.vn\r\nSender: s@a.vn\r\nReply-To: r1@a.vn, \"R Hai\" <r2@a.vn>\r\nBcc: hidden@a.vn\r\n\r\n"},
	{"in-reply-to several", "In-Reply-To: <one@x.vn> <two@x.vn>\r\nMessage-Id: <m@x.vn>\r\n\r\n"},
	{"in-reply-to junk", "In-Reply-To: not a msg id\r\n\r\n"},
	{"date without weekday, zone name", "Date: 2 Jan 2006 15:04:05 GMT\r\n\r\n"},
	{"date negative offset", "Date: Tue, 31 Dec 1968 23:59:59 -0930\r\n\r\n"},
	{"date garbage", "Date: tomorrow-ish\r\n\r\n"},
	{"address without host", "From: localonly\r\nTo: <>, ok@x.vn\r\n\r\n"},
	{"folded headers", "Subject: a very\r\n long\r\n\tsubject\r\nFrom: \"Tên\r\n dài\" <t@x.vn>\r\n\r\n"},
	{"LF only", "Subject: lf\nFrom: a@b.vn\nDate: Wed, 03 Jan 2024 08:00:00 +0000\n\n"},
	{"bad header line", "Subject ohne colon\r\nFrom: a@b.vn\r\n\r\n"},
}

// libraryEnvelope is the envelope imapserver builds, the way imapd built
// it before stored envelopes.
func libraryEnvelope(header []byte) *imap.Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(header)))
	if err != nil && h.Len() == 0 {
		return &imap.Envelope{}
	}
	return imapserver.ExtractEnvelope(h)
}

// same says whether two envelopes give the same FETCH ENVELOPE response
// (and are the same values besides the time zone's name).
func same(t testing.TB, got, want *imap.Envelope) {
	t.Helper()
	const layout = "Mon, 02 Jan 2006 15:04:05 -0700"
	if got.Date.IsZero() != want.Date.IsZero() || !got.Date.Equal(want.Date) || got.Date.Format(layout) != want.Date.Format(layout) {
		t.Errorf("Date: got %v, want %v", got.Date, want.Date)
	}
	g, w := *got, *want
	g.Date, w.Date = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %#v\nwant %#v", g, w)
	}
}

// likeLibrary checks e against the library's envelope of the same
// header: the same in every field, except that the address lists may
// hold group markers and, where the library read nothing (a field it
// could not parse whole), addresses it lost.
// sameRoutes is same with the routes compared too.
func sameRoutes(t testing.TB, got, want *Envelope) {
	t.Helper()
	same(t, &got.Envelope, &want.Envelope)
	if got.DateText != want.DateText {
		t.Errorf("date text: got %q, want %q", got.DateText, want.DateText)
	}
	if !reflect.DeepEqual(got.Routes, want.Routes) {
		t.Errorf("routes: got %q, want %q", got.Routes, want.Routes)
	}
}

func likeLibrary(t testing.TB, e *imap.Envelope, header []byte) {
	t.Helper()
	lib := libraryEnvelope(header)
	g := *e
	for _, l := range []*[]imap.Address{&g.From, &g.Sender, &g.ReplyTo, &g.To, &g.Cc, &g.Bcc} {
		*l = withoutMarkers(*l)
	}
	for _, pair := range []struct{ got, lib *[]imap.Address }{{&g.From, &lib.From}, {&g.Sender, &lib.Sender},
		{&g.ReplyTo, &lib.ReplyTo}, {&g.To, &lib.To}, {&g.Cc, &lib.Cc}, {&g.Bcc, &lib.Bcc}} {
		if len(*pair.lib) == 0 {
			*pair.got = nil
		}
	}
	same(t, &g, lib)
}

// withoutMarkers drops group start and end markers; nil when nothing is
// left.
func withoutMarkers(l []imap.Address) []imap.Address {
	var out []imap.Address
	for _, a := range l {
		if a.Host != "" {
			out = append(out, a)
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range tricky {
		t.Run(tc.name, func(t *testing.T) {
			h := []byte(tc.header)
			b := FromHeader(h)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			sameRoutes(t, got, Extract(h))
			likeLibrary(t, &got.Envelope, h)
		})
	}
}

func TestGroupsAndRoutes(t *testing.T) {
	e := Extract([]byte(tricky[5].header))
	want := []imap.Address{{Mailbox: "Phòng ban"}, {Mailbox: "a", Host: "hanoi.gov.vn"}, {Name: "B", Mailbox: "b", Host: "hanoi.gov.vn"}, {}}
	if !reflect.DeepEqual(e.To, want) {
		t.Errorf("To: got %#v, want %#v", e.To, want)
	}
	if want := []imap.Address{{Mailbox: "undisclosed-recipients"}, {}}; !reflect.DeepEqual(e.Cc, want) {
		t.Errorf("Cc: got %#v, want %#v", e.Cc, want)
	}
}

// TestKnown pins a few decoded values, so that a change in the library's
// parsing shows up here and not only as a difference between two paths.
func TestKnown(t *testing.T) {
	e, err := Decode(FromHeader([]byte(tricky[1].header)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Thông báo số 1 về việc tiếp nhận hồ sơ"; e.Subject != want {
		t.Errorf("Subject: got %q, want %q", e.Subject, want)
	}
	if want := []imap.Address{{Name: "Sở Tư pháp", Mailbox: "stp", Host: "hanoi.gov.vn"}}; !reflect.DeepEqual(e.From, want) {
		t.Errorf("From: got %v, want %v", e.From, want)
	}
	if e.Sender != nil || e.ReplyTo != nil {
		t.Errorf("Sender, Reply-To: got %v, %v, want nil (the writer substitutes From)", e.Sender, e.ReplyTo)
	}
	e, err = Decode(FromHeader([]byte(tricky[10].header)))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"one@x.vn", "two@x.vn"}; !reflect.DeepEqual(e.InReplyTo, want) || e.MessageID != "m@x.vn" {
		t.Errorf("In-Reply-To, Message-ID: got %q, %q, want %q, m@x.vn", e.InReplyTo, e.MessageID, want)
	}
}

// TestDateText: ENVELOPE's date is the Date field as written (imaptest's
// fetch-envelope expects it verbatim), here with a wrong weekday (1
// February 2007 was a Thursday) and folded; the time is parsed apart.
func TestDateText(t *testing.T) {
	for _, tc := range []struct {
		header, text string
		when         time.Time
	}{
		{"Date: Sat, 01 Feb 2007 01:02:03 +0200\r\n\r\n", "Sat, 01 Feb 2007 01:02:03 +0200", time.Date(2007, 2, 1, 1, 2, 3, 0, time.FixedZone("", 7200))},
		{"Date:  Thu, 15 Feb 2007\r\n  01:02:03 +0200 (EET) \r\n\r\n", "Thu, 15 Feb 2007 01:02:03 +0200 (EET)", time.Date(2007, 2, 15, 1, 2, 3, 0, time.FixedZone("", 7200))},
		{"Date: 2 Jan 2006 15:04:05 GMT\r\n\r\n", "2 Jan 2006 15:04:05 GMT", time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"Date: tomorrow-ish\r\n\r\n", "tomorrow-ish", time.Time{}},
		{"Date: to\x00mor\rrow\r\n\r\n", "tomorrow", time.Time{}},
		{"Subject: no date\r\n\r\n", "", time.Time{}},
	} {
		e, err := Decode(FromHeader([]byte(tc.header)))
		if err != nil {
			t.Fatal(err)
		}
		if e.DateText != tc.text || !e.Date.Equal(tc.when) || e.Date.IsZero() != tc.when.IsZero() {
			t.Errorf("%q: got %q, %v; want %q, %v", tc.header, e.DateText, e.Date, tc.text, tc.when)
		}
		if got := ParseDate(tc.text); !got.Equal(e.Date) {
			t.Errorf("%q: ParseDate gives %v, the envelope %v", tc.header, got, e.Date)
		}
	}
}

// TestDecodeVersion3: an envelope stored before the date text was kept
// still decodes, its date text the time formatted, and is not Current.
func TestDecodeVersion3(t *testing.T) {
	e := Extract([]byte(tricky[0].header))
	v4 := Encode(nil, e)
	// Version 3 is version 4 without the date text after the date.
	_, off := e.Date.Zone()
	dateEnd := len(binary.AppendVarint(binary.AppendUvarint(binary.AppendVarint([]byte{Version, 1}, e.Date.Unix()), 0), int64(off)))
	v3 := append([]byte{3}, v4[1:dateEnd]...)
	v3 = append(v3, v4[dateEnd+1+len(e.DateText):]...)
	if Current(v3) {
		t.Error("version 3 is Current")
	}
	got, err := Decode(v3)
	if err != nil {
		t.Fatalf("Decode(version 3): %v", err)
	}
	if want := "Mon, 02 Jan 2006 15:04:05 +0700"; got.DateText != want || !got.Date.Equal(e.Date) {
		t.Errorf("version 3 date: got %q, %v; want %q", got.DateText, got.Date, want)
	}
	got.DateText = e.DateText
	sameRoutes(t, got, e)
}

func TestDecodeInvalid(t *testing.T) {
	good := FromHeader([]byte(tricky[0].header))
	for _, b := range [][]byte{nil, {}, {2}, {Version}, {Version, 2}, good[:len(good)-1], append(append([]byte{}, good...), 0)} {
		if _, err := Decode(b); err == nil {
			t.Errorf("Decode(%q): got no error, want ErrInvalid", b)
		}
	}
}

// FuzzRoundTrip: for any header, the stored envelope decodes to what
// Extract builds.
func FuzzRoundTrip(f *testing.F) {
	for _, tc := range tricky {
		f.Add([]byte(tc.header))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		b := FromHeader(h)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		sameRoutes(t, got, Extract(h))
		if d, err := DecodeDate(b); err != nil || !d.Equal(got.Date) {
			t.Fatalf("DecodeDate %v %v, Decode's date %v", d, err, got.Date)
		}
	})
}

// FuzzDecode: arbitrary bytes never crash Decode.
func FuzzDecode(f *testing.F) {
	for _, tc := range tricky {
		f.Add(FromHeader([]byte(tc.header)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err == nil && e == nil {
			t.Fatal("nil envelope without error")
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	enc := FromHeader([]byte(strings.ReplaceAll(tricky[1].header, "\r\n\r\n", "\r\nTo: a@b.vn\r\nDate: Mon, 02 Jan 2006 15:04:05 +0700\r\n\r\n")))
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeDate: DecodeDate reads the date Decode reads, of this
// version and of version 3, zero for none, and refuses what Decode
// refuses at the start.
func TestDecodeDate(t *testing.T) {
	for _, hdr := range []string{
		"Date: Thu, 15 Feb 2007 01:02:03 +0200\r\nSubject: x\r\n\r\n",
		"Date: Sat, 01 Feb 2007 01:02:03 -0330 (wrong weekday)\r\n\r\n",
		"Subject: no date\r\n\r\n",
		"Date: not a date\r\n\r\n",
	} {
		b := FromHeader([]byte(hdr))
		e, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeDate(b)
		if err != nil || !got.Equal(e.Date) || got.Location().String() != e.Date.Location().String() {
			t.Errorf("%q: DecodeDate %v %v, Decode %v", hdr, got, err, e.Date)
		}
	}
	// Version 3 starts with the same date.
	b := FromHeader([]byte("Date: Thu, 15 Feb 2007 01:02:03 +0200\r\n\r\n"))
	v3 := append([]byte{version3}, b[1:]...)
	if got, err := DecodeDate(v3); err != nil || got.Unix() != 1171494123 {
		t.Errorf("version 3: %v %v", got, err)
	}
	for _, bad := range [][]byte{nil, {Version}, {Version, 2}, {Version + 1, 0}, {Version, 1, 0x80}} {
		if _, err := DecodeDate(bad); err == nil {
			t.Errorf("DecodeDate(%v) accepted", bad)
		}
	}
}
