package imapd

import (
	"bytes"
	"crypto/tls"
	"mime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/internal/testenv"
)

// backends runs f on SQLite and on PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, eo envOptions)) {
	t.Run("sqlite", func(t *testing.T) { f(t, envOptions{}) })
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("short")
		}
		f(t, envOptions{url: testenv.Postgres(t)})
	})
}

var hoSoSubject = mime.QEncoding.Encode("utf-8", "Hồ sơ của ông/bà Nguyễn Văn An đã được tiếp nhận")

const multipartMsg = "From: =?utf-8?b?UGjDsm5nIE3hu5l0IGPhu61h?= <motcua@hanoi.gov.vn>\r\n" +
	"To: nva.stp@hanoi.gov.vn\r\n" +
	"Subject: Phieu hen tra ket qua\r\n" +
	"Date: Tue, 17 Mar 2026 08:00:00 +0700\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"xJDDoyB0aeG6v3Agbmjhuq1uIGjhu5Mgc8ahIDAwMC4xMi4zNA==\r\n" + // "Đã tiếp nhận hồ sơ 000.12.34"
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>\xc4\x90\xc3\xa3 ti\xe1\xba\xbfp nh\xe1\xba\xadn</p>\r\n" +
	"--b1--\r\n"

func TestProtocol(t *testing.T) {
	backends(t, testProtocol)
}

func testProtocol(t *testing.T, eo envOptions) {
	e := newEnv(t, eo)
	c := e.client(nil)

	t.Run("capabilities", func(t *testing.T) {
		caps, err := c.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []imap.Cap{imap.CapIMAP4rev1, imap.CapIMAP4rev2, imap.CapUIDPlus, imap.CapMove,
			imap.CapSpecialUse, imap.CapIdle, imap.CapNamespace, imap.CapListStatus, imap.CapESearch, "APPENDLIMIT=26214400"} {
			if !caps.Has(want) {
				t.Errorf("capability %s missing from %v", want, caps)
			}
		}
		// Plain connection before STARTTLS: no login.
		pc, err := imapclient.DialInsecure(e.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		pcaps, err := pc.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !pcaps.Has(imap.CapLoginDisabled) || !pcaps.Has(imap.CapStartTLS) {
			t.Errorf("plain caps = %v, want LOGINDISABLED and STARTTLS", pcaps)
		}
		if err := pc.Login(testUser, testPass).Wait(); err == nil {
			t.Error("LOGIN without TLS succeeded")
		}
		// STARTTLS then login works.
		sc, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		if err := sc.Login(testUser, testPass).Wait(); err != nil {
			t.Errorf("login after STARTTLS: %v", err)
		}
		// Wrong password.
		bc, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer bc.Close()
		if err := bc.Login(testUser, "wrong").Wait(); err == nil {
			t.Error("login with a wrong password succeeded")
		}
		logs := e.log.String()
		if strings.Contains(logs, testPass) || strings.Contains(logs, "wrong") && strings.Contains(logs, "password=") {
			t.Error("log contains a password")
		}
		if !strings.Contains(logs, "imap login") || !strings.Contains(logs, "ok=false") || !strings.Contains(logs, "ok=true") {
			t.Errorf("login log lines missing:\n%s", logs)
		}
	})

	t.Run("list", func(t *testing.T) {
		l, err := c.List("", "*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]imap.MailboxAttr{}
		for _, d := range l {
			got[d.Mailbox] = d.Attrs
			if d.Delim != '/' {
				t.Errorf("%s: delim %q", d.Mailbox, d.Delim)
			}
		}
		for name, attr := range map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
			"Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive} {
			if !slices.Contains(got[name], attr) {
				t.Errorf("LIST %s attrs = %v, want %s", name, got[name], attr)
			}
		}
		if _, ok := got["INBOX"]; !ok {
			t.Errorf("no INBOX in %v", got)
		}
		// LIST-EXTENDED: special-use only, with STATUS.
		l, err = c.List("", "*", &imap.ListOptions{SelectSpecialUse: true, ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 5 {
			t.Errorf("LIST (SPECIAL-USE) gave %d mailboxes, want 5", len(l))
		}
		for _, d := range l {
			if d.Status == nil || d.Status.NumMessages == nil {
				t.Errorf("%s: no STATUS", d.Mailbox)
			}
		}
		// LSUB / subscribed.
		if err := c.Subscribe("Archive").Wait(); err != nil {
			t.Fatal(err)
		}
		l, err = c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(l, func(d *imap.ListData) bool { return d.Mailbox == "Archive" }) {
			t.Errorf("subscribed list %v lacks Archive", l)
		}
		if err := c.Unsubscribe("Archive").Wait(); err != nil {
			t.Fatal(err)
		}
		ns, err := c.Namespace().Wait()
		if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
			t.Errorf("NAMESPACE = %+v, %v", ns, err)
		}
	})

	t.Run("create-rename-delete", func(t *testing.T) {
		if err := c.Create("Hồ sơ/2026", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Create("Hồ sơ/2026", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
			t.Errorf("second CREATE: %v, want ALREADYEXISTS", err)
		}
		if err := c.Create("INBOX", nil).Wait(); err == nil {
			t.Error("CREATE INBOX succeeded")
		}
		l, err := c.List("", "Hồ sơ*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		names := listNames(l)
		if !slices.Equal(names, []string{"Hồ sơ", "Hồ sơ/2026"}) {
			t.Errorf("LIST after CREATE = %v", names)
		}
		if !slices.Contains(l[0].Attrs, imap.MailboxAttrHasChildren) {
			t.Errorf("parent attrs %v lack \\HasChildren", l[0].Attrs)
		}
		if err := c.Rename("Hồ sơ", "Dossiers", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		l, _ = c.List("", "Dossiers*", nil).Collect()
		if names := listNames(l); !slices.Equal(names, []string{"Dossiers", "Dossiers/2026"}) {
			t.Errorf("LIST after RENAME = %v", names)
		}
		if err := c.Delete("Dossiers/2026").Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete("Dossiers/2026").Wait(); err == nil {
			t.Error("second DELETE succeeded")
		}
		if err := c.Delete("INBOX").Wait(); err == nil {
			t.Error("DELETE INBOX succeeded")
		}
		if err := c.Create("Lưu trữ", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrArchive}}).Wait(); err != nil {
			t.Errorf("CREATE with USE: %v", err)
		}
		if _, err := c.Select("Không có", nil).Wait(); err == nil {
			t.Error("SELECT of a missing mailbox succeeded")
		}
	})

	var uidValidity uint32
	var appendedUID imap.UID
	raw := message(hoSoSubject, "Một cửa <motcua@hanoi.gov.vn>", "Kính gửi Ông/Bà Nguyễn Văn An,\r\nHồ sơ 000.12.34 đã được tiếp nhận.")

	t.Run("append", func(t *testing.T) {
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft}, Time: time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)})
		cmd.Write([]byte(raw))
		cmd.Close()
		data, err := cmd.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if data.UID == 0 || data.UIDValidity == 0 {
			t.Fatalf("APPENDUID = %+v", data)
		}
		appendedUID, uidValidity = data.UID, data.UIDValidity
		// Missing mailbox: TRYCREATE.
		cmd = c.Append("Không có", int64(len(raw)), nil)
		cmd.Write([]byte(raw))
		cmd.Close()
		if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
			t.Errorf("APPEND to a missing mailbox: %v, want TRYCREATE", err)
		}
	})

	e.deliver("", multipartMsg)
	msg3 := message("Thông báo", "Sở Tư pháp <stp@hanoi.gov.vn>", "Nội dung")
	e.deliver("", msg3, `\Seen`)

	t.Run("select", func(t *testing.T) {
		d, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if d.NumMessages != 3 || d.UIDValidity != uidValidity || d.UIDNext <= appendedUID+2 {
			t.Errorf("SELECT = %+v, want 3 messages, uidvalidity %d, uidnext > %d", d, uidValidity, appendedUID+2)
		}
		if !slices.Contains(d.PermanentFlags, imap.FlagWildcard) {
			t.Errorf("PERMANENTFLAGS %v lack \\*", d.PermanentFlags)
		}
		st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true, Size: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != 3 || *st.NumUnseen != 2 || *st.Size <= 0 {
			t.Errorf("STATUS = messages %d unseen %d size %d", *st.NumMessages, *st.NumUnseen, *st.Size)
		}
	})

	t.Run("fetch", func(t *testing.T) {
		msgs, err := c.Fetch(imap.UIDSetNum(appendedUID), &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{
				{Peek: true},
				{Peek: true, Specifier: imap.PartSpecifierHeader},
				{Peek: true, Specifier: imap.PartSpecifierText},
				{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 10}},
				{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}},
			},
		}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("got %d messages", len(msgs))
		}
		m := msgs[0]
		if got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true}); !bytes.Equal(got, []byte(raw)) {
			t.Errorf("BODY[] differs from what was appended:\n%q\nwant\n%q", got, raw)
		}
		hdrEnd := strings.Index(raw, "\r\n\r\n") + 4
		if got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}); string(got) != raw[:hdrEnd] {
			t.Errorf("BODY[HEADER] = %q", got)
		}
		if got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierText}); string(got) != raw[hdrEnd:] {
			t.Errorf("BODY[TEXT] = %q", got)
		}
		if got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 10}}); string(got) != raw[6:16] {
			t.Errorf("BODY[]<6.10> = %q, want %q", got, raw[6:16])
		}
		if got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}}); !strings.HasPrefix(string(got), "Subject:") {
			t.Errorf("BODY[HEADER.FIELDS (Subject)] = %q", got)
		}
		if m.Envelope == nil || m.Envelope.Subject != "Hồ sơ của ông/bà Nguyễn Văn An đã được tiếp nhận" {
			t.Errorf("ENVELOPE subject = %+v", m.Envelope)
		}
		if m.RFC822Size != int64(len(raw)) {
			t.Errorf("RFC822.SIZE = %d, want %d", m.RFC822Size, len(raw))
		}
		if !m.InternalDate.Equal(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("INTERNALDATE = %v", m.InternalDate)
		}
		if m.BodyStructure == nil || m.BodyStructure.MediaType() != "text/plain" {
			t.Errorf("BODYSTRUCTURE = %#v", m.BodyStructure)
		}
		if slices.Contains(m.Flags, imap.FlagSeen) || !slices.Contains(m.Flags, imap.FlagDraft) {
			t.Errorf("FLAGS = %v after PEEK, want \\Draft and no \\Seen", m.Flags)
		}

		// The multipart message: parts, BINARY, then a non-PEEK fetch sets \Seen.
		msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{
			Flags:             true,
			BodyStructure:     &imap.FetchItemBodyStructure{},
			BodySection:       []*imap.FetchItemBodySection{{Part: []int{1}, Peek: true}, {Part: []int{2}, Specifier: imap.PartSpecifierMIME, Peek: true}},
			BinarySection:     []*imap.FetchItemBinarySection{{Part: []int{1}, Peek: true}},
			BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{1}}},
		}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		m = msgs[0]
		if mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart); !ok || len(mp.Children) != 2 {
			t.Errorf("BODYSTRUCTURE = %#v, want multipart with 2 parts", m.BodyStructure)
		}
		if got := string(m.FindBinarySection(&imap.FetchItemBinarySection{Part: []int{1}, Peek: true})); got != "Đã tiếp nhận hồ sơ 000.12.34" {
			t.Errorf("BINARY[1] = %q", got)
		}
		if got := m.FindBodySection(&imap.FetchItemBodySection{Part: []int{1}, Peek: true}); !strings.HasPrefix(string(got), "xJDDoyB0") {
			t.Errorf("BODY[1] = %q", got)
		}
		if n, ok := m.FindBinarySectionSize([]int{1}); !ok || n != uint32(len("Đã tiếp nhận hồ sơ 000.12.34")) {
			t.Errorf("BINARY.SIZE[1] = %d %v", n, ok)
		}
		msgs, err = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierText}}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
			t.Errorf("BODY[TEXT] did not report \\Seen: %v", msgs[0].Flags)
		}
		msgs, _ = c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{Flags: true}).Collect()
		if !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
			t.Errorf("BODY[] did not set \\Seen: %v", msgs[0].Flags)
		}
		// Every message, by sequence range.
		msgs, err = c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
		if err != nil || len(msgs) != 3 {
			t.Fatalf("FETCH 1:* = %d messages, %v", len(msgs), err)
		}
	})

	t.Run("store", func(t *testing.T) {
		msgs, err := c.Store(imap.UIDSetNum(appendedUID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Important", "DaXuLy"}}, nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || !slices.Contains(msgs[0].Flags, "$Important") || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) {
			t.Fatalf("STORE +FLAGS answered %+v", msgs)
		}
		msgs, err = c.Store(imap.UIDSetNum(appendedUID), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{"$Important"}}, nil).Collect()
		if err != nil || slices.Contains(msgs[0].Flags, "$Important") {
			t.Errorf("STORE -FLAGS: %+v %v", msgs, err)
		}
		if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: []imap.Flag{imap.FlagDraft, "DaXuLy"}}, nil).Collect(); err != nil {
			t.Fatal(err)
		}
		msgs, _ = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
		if !sameFlags(msgs[0].Flags, []imap.Flag{imap.FlagDraft, "DaXuLy"}) {
			t.Errorf("after STORE FLAGS: %v", msgs[0].Flags)
		}
		// The new keyword is announced in FLAGS on the next SELECT.
		d, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(d.Flags, "DaXuLy") {
			t.Errorf("FLAGS %v lack the keyword", d.Flags)
		}
	})

	t.Run("search", func(t *testing.T) {
		cases := []struct {
			name string
			c    imap.SearchCriteria
			want []uint32 // sequence numbers
		}{
			{"subject folded", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "ho so"}}}, []uint32{1}},
			{"subject diacritics", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "HỒ SƠ CỦA ÔNG/BÀ"}}}, []uint32{1}},
			{"from encoded", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "phong mot cua"}}}, []uint32{2}},
			{"from header present", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: ""}}}, []uint32{1, 3}},
			{"body base64", imap.SearchCriteria{Body: []string{"da tiep nhan ho so"}}, []uint32{2}},
			{"body plain", imap.SearchCriteria{Body: []string{"Ông/Bà nguyen van an"}}, []uint32{1}},
			{"text header or body", imap.SearchCriteria{Text: []string{"thong bao"}}, []uint32{3}},
			{"text nothing", imap.SearchCriteria{Text: []string{"không có gì"}}, nil},
			{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []uint32{2, 3}},
			{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{1}},
			{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"daxuly"}}, []uint32{1}},
			{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Body: []string{"noi dung"}}, {Flag: []imap.Flag{imap.FlagDraft}}}}}, []uint32{1, 3}},
			{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Flag: []imap.Flag{imap.FlagSeen}}}}, []uint32{1}},
			{"larger", imap.SearchCriteria{Larger: int64(len(msg3))}, larger(len(msg3), len(raw), len(multipartMsg), len(msg3))},
			{"smaller", imap.SearchCriteria{Smaller: int64(len(msg3) + 1)}, []uint32{3}},
			{"since", imap.SearchCriteria{Since: time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)}, []uint32{2, 3}},
			{"sent before", imap.SearchCriteria{SentBefore: time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)}, []uint32{1, 3}},
			{"seq", imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 2, Stop: 0}}}}, []uint32{2, 3}},
		}
		for _, tc := range cases {
			d, err := c.Search(&tc.c, nil).Wait()
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if got := d.AllSeqNums(); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
		d, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "ho so"}}}, nil).Wait()
		if err != nil || !slices.Equal(d.AllUIDs(), []imap.UID{appendedUID}) {
			t.Errorf("UID SEARCH = %v, %v", d, err)
		}
		d, err = c.Search(&imap.SearchCriteria{}, &imap.SearchOptions{ReturnCount: true, ReturnMin: true, ReturnMax: true}).Wait()
		if err != nil || d.Count != 3 || d.Min != 1 || d.Max != 3 {
			t.Errorf("ESEARCH = %+v, %v", d, err)
		}
	})

	t.Run("copy-move-expunge", func(t *testing.T) {
		cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
		if err != nil {
			t.Fatal(err)
		}
		if cd.UIDValidity == 0 || len(cd.DestUIDs) == 0 {
			t.Errorf("COPYUID = %+v", cd)
		}
		if _, err := c.Copy(imap.SeqSetNum(1), "Không có").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
			t.Errorf("COPY to a missing mailbox: %v", err)
		}
		md, err := c.Move(imap.SeqSetNum(3), "Trash").Wait()
		if err != nil {
			t.Fatal(err)
		}
		if md.UIDValidity == 0 {
			t.Errorf("MOVE COPYUID = %+v", md)
		}
		if n := c.Mailbox().NumMessages; n != 2 {
			t.Errorf("after MOVE the client counts %d messages, want 2", n)
		}
		if _, err := c.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
			t.Fatal(err)
		}
		// UID EXPUNGE removes only the named one.
		seqs, err := c.UIDExpunge(imap.UIDSetNum(appendedUID)).Collect()
		if err != nil || !slices.Equal(seqs, []uint32{1}) {
			t.Errorf("UID EXPUNGE = %v, %v", seqs, err)
		}
		seqs, err = c.Expunge().Collect()
		if err != nil || !slices.Equal(seqs, []uint32{1}) {
			t.Errorf("EXPUNGE = %v, %v", seqs, err)
		}
		st, _ := c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait()
		if *st.NumMessages != 2 {
			t.Errorf("Archive has %d messages, want 2", *st.NumMessages)
		}
		d, _ := c.Select("INBOX", nil).Wait()
		if d.NumMessages != 0 {
			t.Errorf("INBOX has %d messages, want 0", d.NumMessages)
		}
	})

	t.Run("examine", func(t *testing.T) {
		d, err := c.Select("Archive", &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil || d.NumMessages != 2 {
			t.Fatalf("EXAMINE = %+v, %v", d, err)
		}
		if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err == nil {
			t.Error("STORE in EXAMINE succeeded")
		}
		msgs, _ := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
		_ = msgs
		msgs, _ = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
		if slices.Contains(msgs[0].Flags, imap.FlagSeen) {
			t.Error("BODY[] in EXAMINE set \\Seen")
		}
		if err := c.Unselect().Wait(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("idle", func(t *testing.T) {
		exists := make(chan uint32, 16)
		ic := e.client(&imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		}})
		sd, err := ic.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		idle, err := ic.Idle()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		e.deliver("", message("Lịch họp", "vp@hanoi.gov.vn", "Họp lúc 14:00"))
		select {
		case n := <-exists:
			if n != sd.NumMessages+1 {
				t.Errorf("EXISTS %d, want %d", n, sd.NumMessages+1)
			}
			t.Logf("IDLE woke after %v", time.Since(start))
		case <-time.After(time.Second):
			t.Error("no EXISTS within a second of delivery")
		}
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
	})
}

// larger lists the sequence numbers of sizes above n.
func larger(n int, sizes ...int) []uint32 {
	var out []uint32
	for i, s := range sizes {
		if s > n {
			out = append(out, uint32(i+1))
		}
	}
	return out
}

func listNames(l []*imap.ListData) []string {
	var out []string
	for _, d := range l {
		out = append(out, d.Mailbox)
	}
	slices.Sort(out)
	return out
}

func sameFlags(a, b []imap.Flag) bool {
	notRecent := func(f imap.Flag) bool { return f == `\Recent` }
	x, y := slices.DeleteFunc(slices.Clone(a), notRecent), slices.DeleteFunc(slices.Clone(b), notRecent)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
