package notify

import (
	"context"
	"fmt"
	"maps"
	"time"

	"congthu/dossier"
	"congthu/internal/vntime"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// Appointment reminders. A dossier event that gives the applicant an
// appointment to collect the result (received with appointment_at, delayed
// with new_appointment_at) schedules a reminder on each of its channels
// (templates.ReminderID; a phone channel's fallback attached as for the
// event) at the appointment less Reminders.Lead, none when that is less
// than Reminders.MinNotice away. A later event of the dossier cancels the
// scheduled ones (ReminderCancel): a new appointment replaces them, and
// refused or result_ready leaves nothing to remind of. The reminders are
// notifications with status scheduled; Tracker.RunReminders releases them
// at their time.

// Reminders configure appointment reminders.
type Reminders struct {
	// Lead is how long before the appointment the reminder is sent;
	// default 24h.
	Lead time.Duration
	// MinNotice: no reminder when its time is less than this away (the
	// configuration's default is 2h; 0 here is none).
	MinNotice time.Duration
	// PhoneTime moves a phone channel's reminder out of its quiet hours
	// (earlier, so it still comes before the appointment); nil: as is.
	PhoneTime func(time.Time) time.Time
}

func (r *Reminders) lead() time.Duration {
	if r.Lead <= 0 {
		return 24 * time.Hour
	}
	return r.Lead
}

func (r *Reminders) minNotice() time.Duration { return max(r.MinNotice, 0) }

// Appointment is the appointment ev gives the applicant, zero for none.
func Appointment(ev *dossier.Event) time.Time {
	var s string
	switch ev.Status {
	case templates.StatusReceived:
		s = ev.AppointmentAt
	case templates.StatusDelayed:
		s = ev.NewAppointmentAt
	}
	t, _ := time.Parse(time.RFC3339, s) // validated by dossier.ParseEvent
	return t
}

// ReminderCancel says whether ev cancels the dossier's scheduled reminders,
// and why (the cancelled reminders' status detail); "" when it leaves
// them.
func ReminderCancel(ev *dossier.Event) string {
	switch {
	case ev.Status == templates.StatusRefused:
		return "cancelled: the dossier was refused (event " + ev.EventID + ")"
	case ev.Status == templates.StatusResultReady:
		return "cancelled: the result is ready (event " + ev.EventID + ")"
	case !Appointment(ev).IsZero():
		return "cancelled: replaced by the appointment of event " + ev.EventID
	}
	return ""
}

func localTime(t time.Time) string { return vntime.In(t).Format("15:04 02/01/2006") }

// buildReminders renders the reminders of ev for its channels (sent is
// the channels the event itself sends on, its phone fallback held back),
// or none. A channel without a reminder template, or whose reminder does
// not render, gets none: the event was accepted, and its own
// notifications stand.
func (b *Builder) buildReminders(service string, test bool, code string, ev *dossier.Event, data map[string]any, sent []string) []notifydb.NewNotification {
	appt := Appointment(ev)
	if b.Reminders == nil || appt.IsZero() {
		return nil
	}
	now := b.now()
	due := appt.Add(-b.Reminders.lead())
	if due.Sub(now) < b.Reminders.minNotice() {
		return nil
	}
	rd := maps.Clone(data)
	rd["appointment_at"] = appt.Format(time.RFC3339)
	var out []notifydb.NewNotification
	for _, ch := range sent {
		m, ok := b.reminderMessage(service, test, code, ev, rd, ch)
		if !ok {
			continue
		}
		n, fe, err := b.Build(m)
		if err != nil || len(fe) > 0 {
			continue
		}
		n.ScheduledFor = due
		if c, _ := b.Channels.Contact(ch); c == dossier.ContactPhone && b.Reminders.PhoneTime != nil {
			if t := b.Reminders.PhoneTime(due); t.Sub(now) >= b.Reminders.minNotice() {
				n.ScheduledFor = t
			}
		}
		note := fmt.Sprintf("reminder of the appointment at %s, due %s (Asia/Ho_Chi_Minh)", localTime(appt), localTime(n.ScheduledFor))
		if n.StatusDetail != "" {
			note += "; " + n.StatusDetail
		}
		n.StatusDetail = note
		out = append(out, n)
	}
	from, to, ok := FallbackFor(ev.Channels, ev.Applicant.Phone)
	if ok {
		for i := range out {
			if out[i].Channel != from {
				continue
			}
			if m, ok := b.reminderMessage(service, test, code, ev, rd, to); ok {
				if f, fe, err := b.Build(m); err == nil && len(fe) == 0 {
					out[i].Fallback = &notifydb.SMSFallback{Phone: f.Recipient, TemplateID: f.TemplateID, TemplateVersion: f.TemplateVersion,
						Text: f.Text, SMSText: f.SMSText, SMSEncoding: f.SMSEncoding, SMSParts: f.SMSParts}
				}
			}
		}
	}
	return out
}

// reminderMessage is eventMessage with channel ch's reminder template.
func (b *Builder) reminderMessage(service string, test bool, code string, ev *dossier.Event, data map[string]any, ch string) (*Message, bool) {
	t, ok := b.Templates.Get(templates.ReminderID(ch))
	if !ok {
		return nil, false
	}
	m, ok := b.eventMessage(service, test, code, ev, data, ch)
	if !ok {
		return nil, false
	}
	m.Template = t
	m.Urgent = false
	return m, true
}

// RunReminders releases due reminders every interval until ctx ends: each
// becomes created (a live email's outbox entry with it) and its job is
// queued. A lost enqueue is restored by the sweeper.
func (t *Tracker) RunReminders(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		for {
			ns, err := t.st.ReleaseDue(ctx, t.Now(), 100, reminderMailFrom)
			if err != nil {
				t.log.Warn("notify: releasing reminders failed; will retry", "err", err)
			}
			for _, n := range ns {
				if j, ok := JobOf(n.ID, n.Channel, n.Test); ok {
					if _, err := t.q.Enqueue(ctx, j); err != nil {
						t.log.Warn("notify: enqueue reminder failed; the sweeper will retry", "notification", n.ID, "err", err)
					}
				}
			}
			if len(ns) < 100 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// reminderMailFrom is a released live email's envelope sender, as the
// email channel gives one when it is created.
func reminderMailFrom(n *notifydb.Notification) (string, error) {
	domain, err := NotificationEmail(n).Check()
	if err != nil {
		return "", err
	}
	return EnvelopeSender(n.ID, domain), nil
}
