package notify_test

import (
	"strings"
	"testing"

	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/smschan"
	"congthu/templates"
)

func newBuilder(t *testing.T) *notify.Builder {
	t.Helper()
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	reg := notify.NewRegistry(notify.EmailChannel{SenderDomain: "Hanoi.gov.vn", Senders: map[string]string{"tuphap": "noreply@stp.hanoi.gov.vn"}}, smschan.Kind{})
	return &notify.Builder{Templates: set, Channels: reg}
}

func parse(t *testing.T, reg dossier.Channels, body string) *dossier.Event {
	t.Helper()
	ev, errs, err := dossier.ParseEvent("HS-1", []byte(body), reg)
	if err != nil || len(errs) > 0 {
		t.Fatalf("ParseEvent: %v %v", errs, err)
	}
	return ev
}

const received = `{"event_id":"e1","status":"received","applicant":{"name":"Nguyễn Văn An","email":"an@example.vn","phone":"0912 345 678"},
	"procedure":"Cấp giấy phép xây dựng","agency":"UBND quận Hoàn Kiếm","agency_short":"UBND Q.Hoàn Kiếm",
	"received_at":"2026-03-15T09:00:00+07:00","appointment_at":"2026-03-29T16:00:00+07:00"%s}`

// TestBuildEvent: one notification per channel, each prepared by its
// kind; the email carries the SMS variant as its fallback only when the
// event leaves SMS out.
func TestBuildEvent(t *testing.T) {
	b := newBuilder(t)
	both := parse(t, b.Channels, strings.Replace(received, "%s", "", 1))
	notes, fe, err := b.BuildEvent("motcua", false, "HS-1", both)
	if err != nil || len(fe) > 0 {
		t.Fatalf("BuildEvent: %v %v", fe, err)
	}
	if len(notes) != 2 || notes[0].Channel != "email" || notes[1].Channel != "sms" {
		t.Fatalf("notifications %+v", notes)
	}
	em, sm := notes[0], notes[1]
	if em.Recipient != "an@example.vn" || em.FromAddress != "noreply@hanoi.gov.vn" || em.FromName != "UBND quận Hoàn Kiếm" ||
		em.MailFrom != "bounce+"+em.ID+"@hanoi.gov.vn" || em.Fallback != nil || em.Subject == "" {
		t.Errorf("email %+v", em.Notification)
	}
	if sm.Recipient != "+84912345678" || sm.SMSText == "" || sm.SMSParts < 1 || sm.SMSEncoding == "" || sm.MailFrom != "" {
		t.Errorf("sms %+v", sm.Notification)
	}

	only := parse(t, b.Channels, strings.Replace(received, "%s", `,"channels":["email"],"urgent":true`, 1))
	notes, fe, err = b.BuildEvent("tuphap", true, "HS-1", only)
	if err != nil || len(fe) > 0 {
		t.Fatalf("BuildEvent: %v %v", fe, err)
	}
	if len(notes) != 1 || notes[0].Fallback == nil {
		t.Fatalf("email only: %+v", notes)
	}
	n := notes[0]
	if n.FromAddress != "noreply@stp.hanoi.gov.vn" || n.MailFrom != "" || !n.Test || n.Urgent {
		t.Errorf("test email of tuphap: %+v", n.Notification)
	}
	if f := n.Fallback; f.Phone != "+84912345678" || f.SMSText == "" || f.SMSParts < 1 || f.TemplateID != "dossier-received-sms" {
		t.Errorf("fallback %+v", f)
	}
}

// TestBuildProblems: content a channel cannot send is the request's
// problem, named by the field the channel's contact came from.
func TestBuildProblems(t *testing.T) {
	b := newBuilder(t)
	k, _ := b.Channels.Kind("sms")
	tmpl, ok := b.Templates.Get("generic-sms")
	if !ok {
		t.Fatal("no generic-sms template")
	}
	m := &notify.Message{Service: "motcua", Channel: k, Template: tmpl, To: "+84912345678", ToField: "phone_number",
		Data: map[string]any{"body": strings.Repeat("Thông báo hồ sơ. ", 200)}, FieldPrefix: "personalisation."}
	_, fe, err := b.Build(m)
	if err != nil || len(fe) != 1 || fe[0].Field != "phone_number" || !strings.Contains(fe[0].Message, "parts") {
		t.Errorf("long SMS: %+v %v", fe, err)
	}
	m.Data = map[string]any{}
	_, fe, err = b.Build(m)
	if err != nil || len(fe) != 1 || fe[0].Field != "personalisation.body" {
		t.Errorf("missing body: %+v %v", fe, err)
	}
	ek, _ := b.Channels.Kind("email")
	et, _ := b.Templates.Get("generic-email")
	m = &notify.Message{Service: "motcua", Channel: ek, Template: et, To: "an@example.vn", ToField: "email_address",
		Agency: "Sở\r\nBcc: x@y", AgencyField: "personalisation.agency", Data: map[string]any{"subject": "s", "body": "b"}}
	_, fe, err = b.Build(m)
	if err != nil || len(fe) != 1 || fe[0].Field != "personalisation.agency" {
		t.Errorf("agency with a line break: %+v %v", fe, err)
	}
}

func TestRegistry(t *testing.T) {
	reg := notify.NewRegistry(notify.EmailChannel{}, smschan.Kind{})
	if got := reg.Names(); len(got) != 2 || got[0] != "email" || got[1] != "sms" {
		t.Errorf("Names %v", got)
	}
	if c, ok := reg.Contact("sms"); !ok || c != dossier.ContactPhone {
		t.Errorf("Contact(sms) %v %v", c, ok)
	}
	if _, ok := reg.Kind("fax"); ok {
		t.Error("Kind(fax) found")
	}
	defer func() {
		if recover() == nil {
			t.Error("a channel registered twice did not panic")
		}
	}()
	notify.NewRegistry(smschan.Kind{}, smschan.Kind{})
}
