package notify

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"congthu/dossier"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// A Message is one notification to build: a template, its data, and what
// the request says of the recipient and the sender. The *Field members name
// the request fields the values came from, for the problems reported.
type Message struct {
	Service string
	Test    bool
	Channel Kind
	// Template is of Channel's channel.
	Template *templates.Template
	Data     map[string]any
	// FieldPrefix is put before a template field's name in a problem
	// ("personalisation.").
	FieldPrefix string
	// To is the recipient (an email address or an E.164 number, checked).
	To, ToField         string
	ToName, ToNameField string
	Agency, AgencyField string
	// ReplyTo is an email address (checked) or "".
	ReplyTo                                        string
	Reference, DossierCode, EventID, DossierStatus string
	// Urgent notifications on phone channels bypass quiet hours.
	Urgent bool
}

// Builder turns requests into notifications to store: it renders their
// templates and has their channels prepare the content. The API, the CLI
// and the console build notifications through it, so that none of them
// knows a channel.
type Builder struct {
	Templates *templates.Set
	Channels  *Registry
	// Reminders, if set, schedules appointment reminders with the events
	// that give an appointment (reminder.go).
	Reminders *Reminders
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

func (b *Builder) now() time.Time {
	if b.Now == nil {
		return time.Now()
	}
	return b.Now()
}

// Build renders m into a notification, or returns the problems found (the
// request's fault: 422), or an error of ours.
func (b *Builder) Build(m *Message) (notifydb.NewNotification, []dossier.FieldError, error) {
	var n notifydb.NewNotification
	r, err := m.Template.Render(m.Data)
	if err != nil {
		fe, err := RenderProblems(err, m.FieldPrefix)
		return n, fe, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return n, nil, err
	}
	n.Notification = notifydb.Notification{ID: id.String(), Service: m.Service, Test: m.Test, Channel: m.Channel.Name(),
		TemplateID: r.ID, TemplateVersion: r.Version, Recipient: m.To, Reference: m.Reference,
		DossierCode: m.DossierCode, EventID: m.EventID, DossierStatus: m.DossierStatus, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		Urgent: m.Urgent, CreatedAt: b.now()}
	if err := m.Channel.Prepare(&n, r, m); err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return n, []dossier.FieldError{{Field: p.Field, Message: p.Message}}, nil
		}
		return n, nil, err
	}
	return n, nil, nil
}

// RenderProblems maps a template error to problems (prefix is put before
// each field name), or returns it as an error of ours.
func RenderProblems(err error, prefix string) ([]dossier.FieldError, error) {
	var me *templates.MissingError
	var ve *templates.ValueError
	switch {
	case errors.As(err, &me):
		out := make([]dossier.FieldError, len(me.Fields))
		for i, f := range me.Fields {
			out[i] = dossier.FieldError{Field: prefix + f, Message: "required by the template"}
		}
		return out, nil
	case errors.As(err, &ve):
		return []dossier.FieldError{{Field: prefix + ve.Field, Message: ve.Err.Error()}}, nil
	}
	return nil, err
}

// BuildEvent renders a validated dossier event (dossier.ParseEvent with
// b.Channels) into its notifications, one per channel, each with the
// fallback FallbackFor gives it; or the problems found.
func (b *Builder) BuildEvent(service string, test bool, code string, ev *dossier.Event) ([]notifydb.NewNotification, []dossier.FieldError, error) {
	data := ev.TemplateData(code)
	var notes []notifydb.NewNotification
	var all []dossier.FieldError
	if p := FallbackProblem(ev.Channels); p != "" {
		return nil, []dossier.FieldError{{Field: "channels", Message: p}}, nil
	}
	// A fallback channel of a phone channel is sent only if that fails.
	from, held, fallback := FallbackFor(ev.Channels, ev.Applicant.Phone)
	seen := map[string]bool{}
	for _, ch := range ev.Channels {
		if fallback && from != ChannelEmail && ch == held {
			continue
		}
		m, ok := b.eventMessage(service, test, code, ev, data, ch)
		if !ok {
			all = append(all, dossier.FieldError{Field: "channels", Message: fmt.Sprintf("no %s template for status %s", ch, ev.Status)})
			continue
		}
		n, fe, err := b.Build(m)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range fe {
			if !seen[f.Field] {
				seen[f.Field] = true
				all = append(all, f)
			}
		}
		notes = append(notes, n)
	}
	if len(all) > 0 {
		return nil, all, nil
	}
	b.addFallback(service, test, code, ev, data, notes)
	sent := make([]string, 0, len(notes))
	for _, n := range notes {
		sent = append(sent, n.Channel)
	}
	notes = append(notes, b.buildReminders(service, test, code, ev, data, sent)...)
	return notes, nil, nil
}

// eventMessage is the Message of ev on channel ch; false when the channel
// is unknown or has no template for the event's status.
func (b *Builder) eventMessage(service string, test bool, code string, ev *dossier.Event, data map[string]any, ch string) (*Message, bool) {
	k, ok := b.Channels.Kind(ch)
	if !ok {
		return nil, false
	}
	t, ok := b.Templates.ForStatus(ev.Status, ch)
	if !ok {
		return nil, false
	}
	c := k.Contact()
	return &Message{Service: service, Test: test, Channel: k, Template: t, Data: data,
		To: ev.Applicant.Of(c), ToField: c.Field(), ToName: ev.Applicant.Name, ToNameField: "applicant.name",
		Agency: ev.Agency, AgencyField: "agency", ReplyTo: ev.HandlingUnit,
		Reference: ev.Reference, DossierCode: code, EventID: ev.EventID, DossierStatus: ev.Status, Urgent: ev.Urgent}, true
}

// addFallback attaches to the notification FallbackFor names the variant
// of the channel it may fall back to: if it fails permanently, the
// tracker sends that instead (fallback.go). A variant that does not render
// or fit is left out silently: the notification was asked for, and it
// stands alone.
func (b *Builder) addFallback(service string, test bool, code string, ev *dossier.Event, data map[string]any, notes []notifydb.NewNotification) {
	from, to, ok := FallbackFor(ev.Channels, ev.Applicant.Phone)
	if !ok {
		return
	}
	var first *notifydb.NewNotification
	for i := range notes {
		if notes[i].Channel == from {
			first = &notes[i]
		}
	}
	if first == nil {
		return
	}
	m, ok := b.eventMessage(service, test, code, ev, data, to)
	if !ok {
		return
	}
	f, fe, err := b.Build(m)
	if err != nil || len(fe) > 0 {
		return
	}
	first.Fallback = &notifydb.SMSFallback{Phone: f.Recipient, TemplateID: f.TemplateID, TemplateVersion: f.TemplateVersion,
		Text: f.Text, SMSText: f.SMSText, SMSEncoding: f.SMSEncoding, SMSParts: f.SMSParts}
}
