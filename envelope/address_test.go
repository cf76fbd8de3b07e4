package envelope

import (
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/mail"
)

func TestParseAddressList(t *testing.T) {
	a := func(name, mbox, host string) imap.Address { return imap.Address{Name: name, Mailbox: mbox, Host: host} }
	for _, tc := range []struct {
		in   string
		want []imap.Address
	}{
		{"a@b.vn", []imap.Address{a("", "a", "b.vn")}},
		{`"Nguyễn Văn A" <a@b.vn>, c@d.vn`, []imap.Address{a("Nguyễn Văn A", "a", "b.vn"), a("", "c", "d.vn")}},
		{"=?utf-8?q?Nguy=E1=BB=85n?= =?utf-8?q?_V=C4=83n?= <a@b.vn>", []imap.Address{a("Nguyễn Văn", "a", "b.vn")}},
		{"=?windows-1258?q?Nguy=D2n?= <a@b.vn>", []imap.Address{a("Nguy\u0309n", "a", "b.vn")}},
		{"John Q. Public <jq@x.vn>", []imap.Address{a("John Q. Public", "jq", "x.vn")}},
		{"a@b.vn (Phòng Tư pháp)", []imap.Address{a("Phòng Tư pháp", "a", "b.vn")}},
		{"user(phong ban)@hanoi(tp).gov.vn", []imap.Address{a("", "user", "hanoi.gov.vn")}},
		{"<@relay1.vn,@relay2.vn:user@hanoi.gov.vn>", []imap.Address{a("", "user", "hanoi.gov.vn")}},
		{"Tên <@relay.vn:user@hanoi.gov.vn>", []imap.Address{a("Tên", "user", "hanoi.gov.vn")}},
		{"Nhóm: a@x.vn, B <b@y.vn>;, c@z.vn", []imap.Address{a("", "Nhóm", ""), a("", "a", "x.vn"), a("B", "b", "y.vn"), {}, a("", "c", "z.vn")}},
		{"undisclosed-recipients:;", []imap.Address{a("", "undisclosed-recipients", ""), {}}},
		{"Nhóm: a@x.vn", []imap.Address{a("", "Nhóm", ""), a("", "a", "x.vn"), {}}},
		{"Nhóm: bad, a@x.vn;", []imap.Address{a("", "Nhóm", ""), a("", "bad", MissingHost), a("", "a", "x.vn"), {}}},
		{"Nhóm: <>, a@x.vn;", []imap.Address{a("", "Nhóm", ""), a("", "a", "x.vn"), {}}},
		{`"a b"@x.vn`, []imap.Address{a("", "a b", "x.vn")}},
		{"a.b@[10.0.0.1]", []imap.Address{a("", "a.b", "[10.0.0.1]")}},
		{"Bob, <>, ok@x.vn, , ", []imap.Address{a("", "Bob", MissingHost), a("", "ok", "x.vn")}},
		// imaptest's sort-display-to: a local part alone.
		{"d", []imap.Address{a("", "d", MissingHost)}},
		{"d.e (Tên), G: f;", []imap.Address{a("Tên", "d.e", MissingHost), a("", "G", ""), a("", "f", MissingHost), {}}},
		{"John Smith, a@b.vn", []imap.Address{a("", "a", "b.vn")}},
		{"d <", nil},
		{`"unclosed <a@b.vn>`, nil},
		{"(unclosed comment a@b.vn", nil},
		{"a@", nil},
		{"", nil},
	} {
		if got := ParseAddressList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAddressList(%q)\n got %#v\nwant %#v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseAddressList: any value, no panic and a well-formed list
// (balanced group markers, every address with a host); and where
// go-message reads the field and none of its addresses needs quoting,
// the same addresses and names, groups aside.
func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{"a@b.vn", "G: a@b.vn, c@d.vn;", "<@r:a@b>", "a(c)@b.vn (N)", `"q" <a@b>`, "=?utf-8?q?A?= <a@b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseAddressList(s)
		open := false
		for _, a := range got {
			switch {
			case a.Host != "":
			case a == imap.Address{}:
				if !open {
					t.Fatalf("%q: end marker outside a group: %#v", s, got)
				}
				open = false
			default:
				if open || a.Mailbox == "" {
					t.Fatalf("%q: bad group start: %#v", s, got)
				}
				open = true
			}
		}
		if open {
			t.Fatalf("%q: unclosed group: %#v", s, got)
		}
		lib, err := mail.ParseAddressList(s)
		if err != nil || strings.ContainsAny(s, "\"\\(") {
			return
		}
		var want []imap.Address
		for _, l := range lib {
			mbox, host, ok := strings.Cut(l.Address, "@")
			if !ok {
				return
			}
			want = append(want, imap.Address{Name: l.Name, Mailbox: mbox, Host: host})
		}
		if g := withoutMarkers(got); !reflect.DeepEqual(g, want) {
			t.Errorf("%q: got %#v, go-message reads %#v", s, g, want)
		}
	})
}

// TestMailboxes: addresses without a domain are left out of Mailboxes,
// and the field is then not complete.
func TestMailboxes(t *testing.T) {
	for _, tc := range []struct {
		in       string
		n        int
		complete bool
	}{
		{"a@b.vn, G: c@d.vn;", 2, true},
		{"d, a@b.vn", 1, false},
		{"x@.MISSING-HOST-NAME.", 0, false},
		{"<>, a@b.vn", 1, false},
	} {
		got, complete := Mailboxes(tc.in)
		if len(got) != tc.n || complete != tc.complete {
			t.Errorf("Mailboxes(%q) = %v, %v; want %d addresses, complete %v", tc.in, got, complete, tc.n, tc.complete)
		}
	}
}

// TestAddressRoutes: routes come apart from the addresses they precede,
// one per address, nil when there are none; group members keep none.
func TestAddressRoutes(t *testing.T) {
	for _, tc := range []struct {
		in     string
		routes []string
	}{
		{"<@route:user@domain>", []string{"@route"}},
		{"a@x.vn, Tên <@r1.vn,@r2.vn:b@x.vn>", []string{"", "@r1.vn,@r2.vn"}},
		{"a@x.vn, <b@x.vn>", nil},
		{"G: <@r:c@x.vn>;", nil},
	} {
		addrs, routes := AddressRoutes(tc.in)
		if !reflect.DeepEqual(routes, tc.routes) {
			t.Errorf("%q: routes %q, want %q", tc.in, routes, tc.routes)
		}
		if routes != nil && len(routes) != len(addrs) {
			t.Errorf("%q: %d routes for %d addresses", tc.in, len(routes), len(addrs))
		}
		if want := ParseAddressList(tc.in); !reflect.DeepEqual(addrs, want) {
			t.Errorf("%q: addresses %v, want ParseAddressList's %v", tc.in, addrs, want)
		}
	}
}
