package notify_test

import (
	"strings"
	"testing"
	"time"

	"congthu/dossier"
	"congthu/notify"
	"congthu/sms/policy"
)

// TestBuildReminders: an event with an appointment gets a scheduled
// reminder per channel at the appointment less the lead, the phone one
// moved before quiet hours and carrying its SMS fallback; none when the
// time is too near; ReminderCancel says which events cancel.
func TestBuildReminders(t *testing.T) {
	b := newBuilder(t)
	quiet, _ := policy.ParseQuietHours("21:00-07:00")
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	b.Now = func() time.Time { return now }
	b.Reminders = &notify.Reminders{Lead: 24 * time.Hour, MinNotice: 2 * time.Hour, PhoneTime: quiet.Before}
	// The appointment at 06:30 on 29/03 (Vietnam): the reminder at 06:30
	// on 28/03 is in quiet hours for SMS, so 20:59 on 27/03.
	ev := parse(t, b.Channels, strings.Replace(strings.Replace(received, "2026-03-29T16:00:00+07:00", "2026-03-29T06:30:00+07:00", 1), "%s", "", 1))
	notes, fe, err := b.BuildEvent("motcua", false, "HS-1", ev)
	if err != nil || len(fe) > 0 {
		t.Fatal(fe, err)
	}
	if len(notes) != 4 {
		t.Fatalf("%d notifications, want 2 and 2 reminders", len(notes))
	}
	em, sm := notes[2], notes[3]
	vn := time.FixedZone("ICT", 7*3600)
	if em.TemplateID != "dossier-reminder-email" || !em.ScheduledFor.Equal(time.Date(2026, 3, 28, 6, 30, 0, 0, vn)) || em.MailFrom == "" {
		t.Errorf("email reminder %s at %s", em.TemplateID, em.ScheduledFor)
	}
	if sm.TemplateID != "dossier-reminder-sms" || !sm.ScheduledFor.Equal(time.Date(2026, 3, 27, 20, 59, 0, 0, vn)) {
		t.Errorf("sms reminder %s at %s", sm.TemplateID, sm.ScheduledFor.In(vn))
	}
	if !strings.Contains(sm.SMSText, "06:30 29/03/2026") || !strings.Contains(em.StatusDetail, "reminder of the appointment at 06:30 29/03/2026") {
		t.Errorf("reminder texts: %q / %q", sm.SMSText, em.StatusDetail)
	}
	for _, n := range notes[:2] {
		if !n.ScheduledFor.IsZero() {
			t.Errorf("the event's own %s is scheduled", n.Channel)
		}
	}
	// Email only, with a phone: the reminder email has the SMS reminder
	// as its fallback.
	only := parse(t, b.Channels, strings.Replace(received, "%s", `,"channels":["email"]`, 1))
	notes, _, _ = b.BuildEvent("motcua", false, "HS-1", only)
	if len(notes) != 2 || notes[1].Fallback == nil || notes[1].Fallback.TemplateID != "dossier-reminder-sms" {
		t.Errorf("email-only reminders %+v", notes)
	}
	// Too near: the appointment in 25 h is a reminder in 1 h, under the
	// 2 h notice.
	near := parse(t, b.Channels, strings.Replace(strings.Replace(received, "2026-03-29T16:00:00+07:00", now.Add(25*time.Hour).Format(time.RFC3339), 1), "%s", "", 1))
	if notes, _, _ := b.BuildEvent("motcua", false, "HS-1", near); len(notes) != 2 {
		t.Errorf("near appointment: %d notifications, want no reminder", len(notes))
	}
	for body, want := range map[string]string{
		`{"event_id":"x","status":"result_ready","applicant":{"phone":"0912345678"},"agency":"A"}`:                                                          "the result is ready",
		`{"event_id":"x","status":"refused","applicant":{"phone":"0912345678"},"agency":"A","reason":"R"}`:                                                  "refused",
		`{"event_id":"x","status":"processing","applicant":{"phone":"0912345678"},"agency":"A"}`:                                                            "",
		`{"event_id":"x","status":"delayed","applicant":{"phone":"0912345678"},"agency":"A","reason":"R","new_appointment_at":"2026-04-01T08:00:00+07:00"}`: "replaced",
	} {
		ev, errs, err := parseLoose(b, body)
		if err != nil || len(errs) > 0 {
			t.Fatalf("%s: %v %v", body, errs, err)
		}
		if got := notify.ReminderCancel(ev); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: ReminderCancel %q, want %q", body, got, want)
		}
	}
}

func parseLoose(b *notify.Builder, body string) (*dossier.Event, []dossier.FieldError, error) {
	return dossier.ParseEvent("HS-1", []byte(body), b.Channels)
}
