package smschan

import (
	"errors"
	"fmt"

	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/sms"
	"congthu/templates"
)

// Kind is the SMS channel as the accepting side sees it (a notify.Kind):
// it sends to the applicant's phone, and a rendered SMS body is counted
// into its encoding and parts; over sms.DefaultMaxParts, or not encodable,
// it is a problem of the request.
type Kind struct{}

// Name is notify.ChannelSMS.
func (Kind) Name() string { return notify.ChannelSMS }

// Contact is the applicant's phone.
func (Kind) Contact() dossier.Contact { return dossier.ContactPhone }

// Prepare records r's SMS text with its encoding and parts.
func (Kind) Prepare(n *notifydb.NewNotification, r *templates.Rendered, m *notify.Message) error {
	enc, parts, err := sms.Count(r.SMSText, false)
	n.SMSText, n.SMSEncoding, n.SMSParts = r.SMSText, enc, parts
	switch {
	case errors.Is(err, sms.ErrTooManyParts):
		return &notify.Problem{Field: m.ToField, TooLong: true,
			Message: fmt.Sprintf("the SMS would need %d parts (%s); at most %d are sent", parts, enc, sms.DefaultMaxParts)}
	case err != nil:
		return &notify.Problem{Field: m.ToField, Message: "the SMS text cannot be encoded: " + err.Error()}
	}
	return nil
}
