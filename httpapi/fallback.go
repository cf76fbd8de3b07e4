package httpapi

import (
	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/sms"
	"congthu/templates"
)

// addSMSFallback attaches the event's SMS variant to its email when
// notify.FallbackFor says the email may fall back to SMS: if the email
// fails permanently, package notify sends the SMS instead. A variant that
// does not render or fit is left out silently: the email was asked for,
// and it stands alone.
func (s *Server) addSMSFallback(notes []notifydb.NewNotification, ev *dossier.Event, data map[string]any) {
	from, to, ok := notify.FallbackFor(ev.Channels, ev.Applicant.Phone)
	if !ok || to != notify.ChannelSMS {
		return
	}
	var email *notifydb.NewNotification
	for i := range notes {
		if notes[i].Channel == from {
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
	email.Fallback = &notifydb.SMSFallback{Phone: ev.Applicant.Phone, TemplateID: r.ID, TemplateVersion: r.Version,
		Text: r.Text, SMSText: r.SMSText, SMSEncoding: enc, SMSParts: parts}
}
