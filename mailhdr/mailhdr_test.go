package mailhdr_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"congthu/envelope"
	"congthu/mailhdr"
)

// The spellings of a sender that readers of mail disagree on: each must be
// refused with the error naming it.
func TestParseRefuses(t *testing.T) {
	const tail = "From: x@attacker.example\r\nSubject: hi\r\n\r\nbody\r\n"
	tests := []struct {
		name, msg string
		want      error
	}{
		{"space before colon", "From : Giam doc <giamdoc@demo.gov.vn>\r\n" + tail, mailhdr.ErrSpaceBeforeColon},
		{"tab before colon", "From\t: giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrSpaceBeforeColon},
		{"lower case, space", "from : giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrSpaceBeforeColon},
		{"Sender, space", "Sender : giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrSpaceBeforeColon},
		{"several spaces", "Subject   :  x\r\n" + tail, mailhdr.ErrSpaceBeforeColon},
		{"folded before colon", "From\r\n : giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrSpaceBeforeColon},
		{"folded name", "Fr\r\n om: giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrFieldName},
		{"space inside name", "Fr om: giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrFieldName},
		{"8-bit name", "Fr\xc3\xb4m: giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrFieldName},
		{"control in name", "From\x00: giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrFieldName},
		{"empty name", ": giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrFieldName},
		{"no colon", "From giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrMalformed},
		{"leading whitespace", " From: giamdoc@demo.gov.vn\r\n" + tail, mailhdr.ErrMalformed},
		{"empty header", "\r\nbody\r\n", mailhdr.ErrMalformed},
		{"empty message", "", mailhdr.ErrMalformed},
		{"body without blank line", "From: a@b.example\r\nthis is the body\r\n", mailhdr.ErrMalformed},
		{"too large", "X-A: " + strings.Repeat("a", mailhdr.MaxSize) + "\r\n" + tail, mailhdr.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mailhdr.Parse([]byte(tt.msg))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSendersRefuses(t *testing.T) {
	tests := []struct {
		name, msg string
		want      error
	}{
		{"two From", "From: Giam doc <giamdoc@demo.gov.vn>\r\nFrom: x@attacker.example\r\n\r\n", mailhdr.ErrManyFrom},
		{"two From, other case", "FROM: giamdoc@demo.gov.vn\r\nfrom: x@attacker.example\r\n\r\n", mailhdr.ErrManyFrom},
		{"two From apart", "From: a@b.example\r\nSubject: x\r\nFrom: c@d.example\r\n\r\n", mailhdr.ErrManyFrom},
		{"no From", "Subject: x\r\n\r\n", mailhdr.ErrNoFrom},
		{"From empty", "From: \r\n\r\n", mailhdr.ErrFromAddress},
		{"From name only", "From: Giam doc\r\n\r\n", mailhdr.ErrFromAddress},
		{"From group only", "From: undisclosed:;\r\n\r\n", mailhdr.ErrFromAddress},
		{"From without @", "From: <giamdoc>\r\n\r\n", mailhdr.ErrFromAddress},
		{"From quoted @", "From: \"giamdoc@demo.gov.vn\"@attacker.example\r\n\r\n", mailhdr.ErrFromAddress},
		{"From with a non-address", "From: Giam doc, a@b.example\r\n\r\n", mailhdr.ErrFromAddress},
		{"From bad group member", "From: Ban: Giam doc, a@b.example;\r\n\r\n", mailhdr.ErrFromAddress},
		{"two Sender", "From: a@b.example\r\nSender: a@b.example\r\nsender: giamdoc@demo.gov.vn\r\n\r\n", mailhdr.ErrManySender},
		{"Sender list", "From: a@b.example\r\nSender: a@b.example, giamdoc@demo.gov.vn\r\n\r\n", mailhdr.ErrSenderAddress},
		{"Sender empty", "From: a@b.example\r\nSender:\r\n\r\n", mailhdr.ErrSenderAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := mailhdr.Parse([]byte(tt.msg))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			s, err := h.Senders()
			if !errors.Is(err, tt.want) {
				t.Errorf("Senders: got %+v, %v; want %v", s, err, tt.want)
			}
		})
	}
}

func TestSenders(t *testing.T) {
	tests := []struct {
		name, msg string
		from      []string
		sender    string
	}{
		{"plain", "From: a@b.example\r\n\r\nbody", []string{"a@b.example"}, ""},
		{"lower case name", "from: Giam doc <giamdoc@demo.gov.vn>\r\nSENDER: vanthu@demo.gov.vn\r\n\r\n", []string{"giamdoc@demo.gov.vn"}, "vanthu@demo.gov.vn"},
		{"folded value", "From: =?UTF-8?B?R2nDoW0gxJHhu5Fj?=\r\n <giamdoc@demo.gov.vn>,\r\n\tb@c.example\r\n\r\n", []string{"giamdoc@demo.gov.vn", "b@c.example"}, ""},
		{"no body", "Subject: x\r\nFrom: a@b.example", []string{"a@b.example"}, ""},
		{"LF only", "From: a@b.example\nSubject: x\n\nbody\n", []string{"a@b.example"}, ""},
		{"From in body", "From: a@b.example\r\n\r\nFrom: c@d.example\r\nFrom : e@f.example\r\n", []string{"a@b.example"}, ""},
		{"unknown charset", "From: =?windows-1258?Q?Gi=E1m_=D0=F4c?= <giamdoc@demo.gov.vn>\r\n\r\n", []string{"giamdoc@demo.gov.vn"}, ""},
		{"group", "From: Ban: a@b.example, c@d.example;\r\n\r\n", []string{"a@b.example", "c@d.example"}, ""},
		{"comment in addr-spec", "From: giamdoc(Giam doc)@demo.gov.vn\r\n\r\n", []string{"giamdoc@demo.gov.vn"}, ""},
		{"obsolete route", "From: <@relay.example:giamdoc@demo.gov.vn>\r\n\r\n", []string{"giamdoc@demo.gov.vn"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := mailhdr.Parse([]byte(tt.msg))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			s, err := h.Senders()
			if err != nil {
				t.Fatalf("Senders: %v", err)
			}
			if !slices.Equal(s.From, tt.from) || s.Sender != tt.sender {
				t.Errorf("got %+v, want From %v Sender %q", s, tt.from, tt.sender)
			}
			checkAgrees(t, []byte(tt.msg), s)
		})
	}
}

func TestHeaderLookups(t *testing.T) {
	msg := "Received: a\r\nreceived: b\r\nDKIM-Signature: v=1;\r\n\td=x\r\nFrom: a@b.example\r\nDate:  \r\n\r\nReceived: body\r\n"
	h, err := mailhdr.Parse([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Count("Received"); n != 2 {
		t.Errorf("Count(Received) = %d, want 2", n)
	}
	if !h.Has("Dkim-Signature") || h.Has("Message-Id") {
		t.Errorf("Has(Dkim-Signature) %v, Has(Message-Id) %v; want true, false", h.Has("Dkim-Signature"), h.Has("Message-Id"))
	}
	if v, ok := h.Value("dkim-signature"); v != "v=1; d=x" || !ok {
		t.Errorf("Value(dkim-signature) = %q, %v; want %q", v, ok, "v=1; d=x")
	}
	if v, ok := h.Value("Date"); v != "" || !ok {
		t.Errorf("Value(Date) = %q, %v; want empty, true", v, ok)
	}
	if vs := h.Values("RECEIVED"); !slices.Equal(vs, []string{"a", "b"}) {
		t.Errorf("Values(RECEIVED) = %q", vs)
	}
	if want := strings.Index(msg, "Received: body"); h.Len() != want {
		t.Errorf("Len = %d, want %d", h.Len(), want)
	}
}

func TestAuthservID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{" mx.test; spf=pass", "mx.test", true},
		{"mx.test 1; spf=pass", "mx.test", true},
		{" (x) mx.test; spf=pass", "mx.test", true},
		{"\r\n (a (b) \\) c)\r\n\tMX.TEST.;", "MX.TEST.", true},
		{` "mx.test"; none`, "mx.test", true},
		{` "mx\"test"; none`, `mx"test`, true},
		{" mx.test(c); none", "mx.test", true},
		{" (unclosed mx.test; none", "", false},
		{` "unclosed; none`, "", false},
		{"", "", true},
	}
	for _, tt := range tests {
		id, ok := mailhdr.AuthservID([]byte(tt.in))
		if id != tt.want || ok != tt.ok {
			t.Errorf("AuthservID(%q) = %q, %v; want %q, %v", tt.in, id, ok, tt.want, tt.ok)
		}
	}
}

func TestTrustField(t *testing.T) {
	tf := mailhdr.NewTrustField("MX.Demo.gov.vn.")
	tests := []struct {
		name, value string
		drop        bool
	}{
		{"Authentication-Results", " mx.demo.gov.vn; dmarc=pass", true},
		{"authentication-results", " MX.DEMO.GOV.VN.; dmarc=pass", true},
		{"AUTHENTICATION-RESULTS", " (forged) mx.demo.gov.vn;\r\n dmarc=pass", true},
		{"Authentication-Results", "\r\n mx.demo.gov.vn\r\n ; dmarc=pass", true},
		{"Authentication-Results", " (unclosed mx.demo.gov.vn; dmarc=pass", true},
		{"Authentication-Results", " mx.demo.gov.vn.evil.example; dmarc=pass", false},
		{"Authentication-Results", " mx.google.com; dmarc=pass header.from=demo.gov.vn", false},
		{"ARC-Authentication-Results", " i=1; mx.demo.gov.vn; dmarc=pass", false},
		{"X-Congthu-Quarantine", " no", true},
		{"x-congthu-anything", " 1", true},
		{"X-CONGTHU", " 1", true},
		{"X-Congthuy", " 1", false},
		{"X-Other-Congthu-Quarantine", " 1", false},
		{"X-Spam-Status", " No, score=-100", true},
		{"x-spam-flag", " NO", true},
		{"X-Spam-Score", " 0", true},
		{"X-Spam-Level", " *", false},
	}
	for _, tt := range tests {
		if got := tf.Drop([]byte(tt.name), []byte(tt.value)); got != tt.drop {
			t.Errorf("Drop(%q, %q) = %v, want %v", tt.name, tt.value, got, tt.drop)
		}
	}
	// IDNA: our name written in Unicode is ours too.
	idn := mailhdr.NewTrustField("mx.xn--hni-9ka0849a.vn")
	if !idn.Drop([]byte("Authentication-Results"), []byte(" mx.hànội.vn; none")) {
		t.Error("Unicode spelling of our authserv-id not dropped")
	}
}

func TestRemove(t *testing.T) {
	tf := mailhdr.NewTrustField("mx.test")
	in := "Authentication-Results: mx.test; spf=pass\r\nFrom: a@b.example\r\nX-Congthu-Quarantine: x\r\n\tfolded\r\nSubject: s\r\n\r\nX-Congthu-Quarantine: body\r\n"
	want := "From: a@b.example\r\nSubject: s\r\n\r\nX-Congthu-Quarantine: body\r\n"
	got, changed := mailhdr.Remove([]byte(in), tf.Drop)
	if string(got) != want || !changed {
		t.Errorf("Remove = %q, %v; want %q, true", got, changed, want)
	}
	clean := []byte("From: a@b.example\r\n\r\nbody")
	got, changed = mailhdr.Remove(clean, tf.Drop)
	if changed || &got[0] != &clean[0] {
		t.Errorf("Remove of a clean message: changed %v, copied %v", changed, &got[0] != &clean[0])
	}
}

// checkAgrees fails the test when IMAP's ENVELOPE of msg does not show the
// senders s that the checks saw.
func checkAgrees(t *testing.T, msg []byte, s mailhdr.Senders) {
	t.Helper()
	env := envelope.Extract(msg)
	var from []string
	for _, a := range env.From {
		if a.Host != "" { // not a group marker
			from = append(from, a.Mailbox+"@"+a.Host)
		}
	}
	var sender []string
	for _, a := range env.Sender {
		sender = append(sender, a.Mailbox+"@"+a.Host)
	}
	var wantSender []string
	if s.Sender != "" {
		wantSender = []string{s.Sender}
	}
	if !slices.Equal(from, s.From) || !slices.Equal(sender, wantSender) {
		t.Fatalf("message %q: ENVELOPE From %v Sender %v, checks saw From %v Sender %q", msg, from, sender, s.From, s.Sender)
	}
}

// FuzzSenders: for any message the header model accepts, IMAP's ENVELOPE
// (envelope, go-message) shows the From and Sender addresses that
// the checks saw.
func FuzzSenders(f *testing.F) {
	for _, seed := range []string{
		"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n",
		"From : Giam doc <giamdoc@demo.gov.vn>\r\nFrom: x@attacker.example\r\n\r\n",
		"From\t: giamdoc@demo.gov.vn\r\nFrom: x@attacker.example\r\n\r\n",
		"from : giamdoc@demo.gov.vn\r\nFrom: x@attacker.example\r\n\r\n",
		"Sender : giamdoc@demo.gov.vn\r\nFrom: x@attacker.example\r\n\r\n",
		"From: x@attacker.example\r\nSender: giamdoc@demo.gov.vn\r\n\r\n",
		"From\r\n : giamdoc@demo.gov.vn\r\nFrom: x@attacker.example\r\n\r\n",
		"From: =?UTF-8?B?R2nDoW0gxJHhu5Fj?=\r\n <giamdoc@demo.gov.vn>,\r\n\tb@c.example\r\n\r\n",
		"From: =?windows-1258?Q?Gi=E1m?= <giamdoc@demo.gov.vn>\r\n\r\n",
		"From: \"giamdoc@demo.gov.vn\"@attacker.example\r\n\r\n",
		"From: (comment) giamdoc@demo.gov.vn (Giam doc)\r\n\r\n",
		"From: group: a@b.example, c@d.example;\r\n\r\n",
		"From: a@b.example\nFrom: c@d.example\n\n",
		"From: a@b.example\r\n\r",
		"Authentication-Results: mx.test; dmarc=pass\r\nFrom: a@b.example\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := mailhdr.Parse(msg)
		if err != nil {
			return
		}
		s, err := h.Senders()
		if err != nil {
			return
		}
		checkAgrees(t, msg, s)
		// Removing trust fields never changes who sent it.
		out, _ := mailhdr.Remove(msg, mailhdr.NewTrustField("mx.test").Drop)
		h2, err := mailhdr.Parse(out)
		if err != nil {
			t.Fatalf("message %q: after Remove: %v", out, err)
		}
		s2, err := h2.Senders()
		if err != nil || !slices.Equal(s2.All(), s.All()) {
			t.Fatalf("message %q: senders %v, after Remove %v, %v", msg, s.All(), s2.All(), err)
		}
	})
}

func TestSectionLen(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want int
	}{
		{"A: b\r\n\r\nbody", 8},
		{"A: b\n\nbody", 6},
		{"A: b\n\r\nbody", 7},
		{"A: b\r\n c\r\n\r\n", 12},
		{"\r\nbody", 2},
		{"\nbody", 1},
		{"A: b\r\nno blank line", 19},
		{"", 0},
	} {
		if got := mailhdr.SectionLen([]byte(tc.msg)); got != tc.want {
			t.Errorf("SectionLen(%q) = %d, want %d", tc.msg, got, tc.want)
		}
		if h, err := mailhdr.Parse([]byte(tc.msg)); err == nil && h.Len() != mailhdr.SectionLen([]byte(tc.msg)) {
			t.Errorf("Parse(%q).Len() = %d, SectionLen %d", tc.msg, h.Len(), mailhdr.SectionLen([]byte(tc.msg)))
		}
	}
}
