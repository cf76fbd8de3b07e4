package notify

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"congthu/dossier"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// Resend builds a new notification with the content old was sent with
// (its template's rendering, as stored), to the same recipient, for the
// same service, dossier and reference: the console's "send again". The
// channel prepares it afresh, as Build does (a new ID, and for a live
// email a new envelope sender naming it); old is not changed. The
// template data are not stored, so the template is not rendered again:
// what the applicant gets is what they were sent. An SMS fallback the old
// email carried is not carried again.
func (b *Builder) Resend(old *notifydb.Notification) (notifydb.NewNotification, []dossier.FieldError, error) {
	var n notifydb.NewNotification
	k, ok := b.Channels.Kind(old.Channel)
	if !ok {
		return n, nil, fmt.Errorf("notify: resend %s: channel %q is not served", old.ID, old.Channel)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return n, nil, err
	}
	r := &templates.Rendered{ID: old.TemplateID, Version: old.TemplateVersion, Channel: old.Channel,
		Subject: old.Subject, HTML: old.HTML, Text: old.Text, SMSText: old.SMSText}
	m := &Message{Service: old.Service, Test: old.Test, Channel: k, To: old.Recipient, ToField: "recipient",
		ToName: old.ToName, ToNameField: "to_name", Agency: old.FromName, AgencyField: "from_name", ReplyTo: old.ReplyTo,
		Reference: old.Reference, DossierCode: old.DossierCode, EventID: old.EventID, DossierStatus: old.DossierStatus, Urgent: old.Urgent}
	n.Notification = notifydb.Notification{ID: id.String(), Service: old.Service, Test: old.Test, Channel: old.Channel,
		TemplateID: old.TemplateID, TemplateVersion: old.TemplateVersion, Recipient: old.Recipient, Reference: old.Reference,
		DossierCode: old.DossierCode, EventID: old.EventID, DossierStatus: old.DossierStatus, Subject: old.Subject, Text: old.Text,
		HTML: old.HTML, Urgent: old.Urgent, CreatedAt: b.now()}
	if err := k.Prepare(&n, r, m); err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return n, []dossier.FieldError{{Field: p.Field, Message: p.Message}}, nil
		}
		return n, nil, err
	}
	return n, nil, nil
}
