package httpapi

import (
	"congthu/dossier"
	"congthu/sms"
	"congthu/store"
	"congthu/templates"
)

// addSMSFallback attaches the event's SMS variant to its email when the
// applicant gave a phone number but the event's channels leave SMS out:
// if the email fails permanently, package notify sends the SMS instead
// (issue 5, item 6). A variant that does not render or fit is left out
// silently: the email was asked for, and it stands alone.
func (s *Server) addSMSFallback(notes []store.NewNotification, ev *dossier.Event, data map[string]any) {
	if ev.Applicant.Phone == "" {
		return
	}
	var email *store.NewNotification
	for i := range notes {
		switch notes[i].Channel {
		case templates.SMS:
			return // an SMS of the event is sent anyway
		case templates.Email:
			email = &notes[i]
		}
	}
	if email == nil {
		return
	}
	t, ok := s.set.ForStatus(ev.Status, templates.SMS)
	if !ok {
		return
	}
	r, err := t.Render(data)
	if err != nil {
		return
	}
	enc, parts, err := sms.Count(r.SMSText, false)
	if err != nil {
		return
	}
	email.Fallback = &store.SMSFallback{Phone: ev.Applicant.Phone, TemplateID: r.ID, TemplateVersion: r.Version,
		Text: r.Text, SMSText: r.SMSText, SMSEncoding: enc, SMSParts: parts}
}
