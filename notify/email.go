package notify

import (
	"strings"

	"congthu/dossier"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// EmailChannel is the email channel as the accepting side sees it (a
// Kind). The notification records the sender fields; the delivery workers
// compose the message from them (Tracker.ComposeOutbox) and sign it, so
// accepting a request is validation, rendering and the commit, as GOV.UK
// Notify's API leaves building and sending the message to its workers.
//
// From is the service's sender (Senders, else noreply@SenderDomain) with
// the agency, else SenderName, as display name; Reply-To is the handling
// unit; a live notification's envelope sender names it (EnvelopeSender), a
// test one has none.
type EmailChannel struct {
	// SenderDomain is the domain of the default From and of the envelope
	// sender; "" is "localhost".
	SenderDomain string
	// Senders maps a service name to its From address, overriding
	// noreply@SenderDomain.
	Senders map[string]string
	// SenderName is the From display name when the request names no
	// agency.
	SenderName string
}

// Name is ChannelEmail.
func (EmailChannel) Name() string { return ChannelEmail }

// Contact is the applicant's email.
func (EmailChannel) Contact() dossier.Contact { return dossier.ContactEmail }

// Sender returns the From address of service's email.
func (e EmailChannel) Sender(service string) string {
	if a := e.Senders[service]; a != "" {
		return a
	}
	d := e.SenderDomain
	if d == "" {
		d = "localhost"
	}
	return "noreply@" + strings.ToLower(d)
}

// Prepare records the sender fields and checks that the message can be
// composed: the display names become header fields, so one that slipped
// past the request's validation is a Problem too.
func (e EmailChannel) Prepare(n *notifydb.NewNotification, _ *templates.Rendered, m *Message) error {
	for _, f := range []struct{ name, v string }{{m.AgencyField, m.Agency}, {m.ToNameField, m.ToName}} {
		if p := dossier.TextProblem(f.v, dossier.OneLine); p != "" {
			return &Problem{Field: f.name, Message: p}
		}
	}
	name := m.Agency
	if name == "" {
		name = e.SenderName
	}
	n.FromAddress, n.FromName, n.ToName, n.ReplyTo = e.Sender(m.Service), name, m.ToName, m.ReplyTo
	n.Urgent = false // quiet hours are the phone channels'
	domain, err := NotificationEmail(&n.Notification).Check()
	if err != nil {
		return err
	}
	if !m.Test {
		n.MailFrom = EnvelopeSender(n.ID, domain)
	}
	return nil
}
