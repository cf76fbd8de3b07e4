package httpapi

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"strings"
	"testing"
	"time"

	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// composeStored composes the stored notification id as the delivery
// workers do.
func composeStored(t testing.TB, e *env, id string) []byte {
	t.Helper()
	n, err := e.nst.Notification(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := notify.Compose(notify.NotificationEmail(n))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// headerLines checks that every line of raw's header section has at most
// max octets and no CR or LF but its CR LF end, and returns it parsed.
func headerLines(t testing.TB, raw []byte, max int) *mail.Message {
	t.Helper()
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		t.Fatalf("no end of the header section in %.200q", raw)
	}
	for _, line := range strings.Split(string(raw[:end]), "\r\n") {
		if len(line) > max {
			t.Fatalf("header line of %d octets: %.100q…", len(line), line)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("bare CR or LF in the header line %q", line)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%.500q", err, raw)
	}
	return m
}

// fuzzServer is a Server able to validate and render (no store, no Redis).
func fuzzServer(t testing.TB) *Server {
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	ch := testChannels()
	return &Server{opts: Options{Now: time.Now}, set: set, channels: ch, build: &notify.Builder{Templates: set, Channels: ch}}
}

// checkComposed composes the email notifications of an accepted request
// and checks their header sections.
func checkComposed(t *testing.T, notes []notifydb.NewNotification, toName, agency string) {
	t.Helper()
	for _, n := range notes {
		if n.Channel != templates.Email {
			continue
		}
		raw, _, err := notify.Compose(notify.NotificationEmail(&n.Notification))
		if err != nil {
			t.Fatalf("an accepted notification does not compose: %v", err)
		}
		m := headerLines(t, raw, 998)
		to, err := m.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != n.Recipient || strings.Join(strings.Fields(to[0].Name), " ") != strings.Join(strings.Fields(toName), " ") {
			t.Fatalf("To %q reads %+v (%v), want %q <%s>", m.Header.Get("To"), to, err, toName, n.Recipient)
		}
		from, err := m.Header.AddressList("From")
		if err != nil || len(from) != 1 || (agency != "" && strings.Join(strings.Fields(from[0].Name), " ") != strings.Join(strings.Fields(agency), " ")) {
			t.Fatalf("From %q reads %+v (%v), want %q", m.Header.Get("From"), from, err, agency)
		}
		if len(m.Header["From"]) != 1 || len(m.Header["To"]) != 1 || len(m.Header["Bcc"]) != 0 || len(m.Header["Cc"]) != 0 {
			t.Fatalf("header fields injected: %v", m.Header)
		}
	}
}

// FuzzEventHeaders: any dossier event the API accepts (201) composes
// messages whose header lines are all at most 998 octets (RFC 5322
// §2.1.1) with no bare CR or LF, one From and one To reading back the
// agency and the applicant's name, and no injected field.
func FuzzEventHeaders(f *testing.F) {
	good, _ := json.Marshal(event("ev-1"))
	f.Add(good)
	long := event("ev-2")
	long["applicant"].(map[string]any)["name"] = strings.Repeat("A", 1999)
	long["agency"] = strings.Repeat("Ủy ban nhân dân ", 120)
	b, _ := json.Marshal(long)
	f.Add(b)
	f.Add([]byte(`{"event_id":"e","status":"received","applicant":{"name":"An\r\nBcc: x@y","email":"a@b.vn"},"procedure":"p","agency":"A\nB",
		"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"}`))
	f.Add([]byte(`{"event_id":"e","status":"refused","applicant":{"name":"=?utf-8?q?x?= <evil@x>, \"q\"","email":"a@b.vn"},"procedure":"p","agency":"(c) <a@b>, c",
		"reason":"l1\nl2"}`))
	s := fuzzServer(f)
	c := &caller{service: "motcua"}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, errs, err := dossier.ParseEvent("HS-1", body, s.channels)
		if err != nil || len(errs) > 0 {
			return
		}
		notes, fe, err := s.build.BuildEvent(c.service, c.test, "HS-1", ev)
		if err != nil {
			t.Fatalf("an accepted event fails to render (a 500): %v", err)
		}
		if len(fe) > 0 {
			return
		}
		checkComposed(t, notes, ev.Applicant.Name, ev.Agency)
	})
}

// FuzzTemplateEmailHeaders is FuzzEventHeaders for POST
// /v1/notifications/email and its personalisation.
func FuzzTemplateEmailHeaders(f *testing.F) {
	f.Add([]byte(`{"template_id":"generic-email","email_address":"a@example.com","personalisation":{"subject":"Thông báo","body":"x\ny","agency":"Sở Tư pháp","applicant":{"name":"An"}}}`))
	f.Add([]byte(`{"template_id":"generic-email","email_address":"a@example.com","personalisation":{"subject":"` + strings.Repeat("S", 3000) + `","body":"b","agency":"` + strings.Repeat("A", 3000) + `"}}`))
	f.Add([]byte(`{"template_id":"dossier-received-email","email_address":"a@example.com","personalisation":{"dossier_code":"HS-1","applicant":{"name":"x\r\ny"},"procedure":"p","agency":"a","received_at":"2026-03-15","appointment_at":"2026-03-16"}}`))
	s := fuzzServer(f)
	c := &caller{service: "motcua"}
	f.Fuzz(func(t *testing.T, body []byte) {
		k, _ := s.channels.Kind(notify.ChannelEmail)
		_, m, errs, err := s.parseTemplateRequest(c, k, body, "")
		if err != nil || len(errs) > 0 {
			return
		}
		n, fe, err := s.build.Build(m)
		if err != nil {
			t.Fatalf("an accepted request fails to render (a 500): %v", err)
		}
		if len(fe) > 0 {
			return
		}
		checkComposed(t, []notifydb.NewNotification{n}, m.ToName, m.Agency)
	})
}

// FuzzEventFieldHeaders is FuzzEventHeaders with the text of the fields
// that reach headers and the subject fuzzed inside a valid event: the event
// is refused with a 422, or it composes within the limits.
func FuzzEventFieldHeaders(f *testing.F) {
	f.Add("Nguyễn Văn An", "Ủy ban nhân dân quận Hoàn Kiếm", "Cấp giấy phép xây dựng", "lý do")
	f.Add(strings.Repeat("A", 1999), strings.Repeat("=?utf-8?b?", 150), "p\r\nq", "a\nb")
	f.Add("An\u202e", `"x" <a@b>, (c)`, "\x00", "\t")
	s := fuzzServer(f)
	c := &caller{service: "motcua", test: true}
	f.Fuzz(func(t *testing.T, name, agency, procedure, reason string) {
		ev := event("ev-f")
		ev["status"] = "refused"
		ev["applicant"].(map[string]any)["name"] = name
		ev["agency"], ev["procedure"], ev["reason"] = agency, procedure, reason
		body, err := json.Marshal(ev)
		if err != nil {
			return
		}
		pe, errs, err := dossier.ParseEvent("HS-1", body, s.channels)
		if err != nil {
			t.Fatalf("a JSON object is malformed: %v", err)
		}
		if len(errs) > 0 {
			return
		}
		notes, fe, err := s.build.BuildEvent(c.service, c.test, "HS-1", pe)
		if err != nil {
			t.Fatalf("an accepted event fails to render (a 500): %v", err)
		}
		if len(fe) > 0 {
			return
		}
		checkComposed(t, notes, pe.Applicant.Name, pe.Agency)
	})
}
