package dossier

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"congthu/phone"
	"congthu/templates"
)

// Event is a dossier event: the body of POST /v1/dossiers/{code}/events.
// Field names are the contract with back-office integrators.
type Event struct {
	EventID             string    `json:"event_id"`
	Status              string    `json:"status"`
	Applicant           Applicant `json:"applicant"`
	Procedure           string    `json:"procedure,omitempty"`
	Agency              string    `json:"agency,omitempty"`
	AgencyShort         string    `json:"agency_short,omitempty"`
	ReceivedAt          string    `json:"received_at,omitempty"`
	AppointmentAt       string    `json:"appointment_at,omitempty"`
	NewAppointmentAt    string    `json:"new_appointment_at,omitempty"`
	Deadline            string    `json:"deadline,omitempty"`
	CollectAt           string    `json:"collect_at,omitempty"`
	Reason              string    `json:"reason,omitempty"`
	LegalBasis          string    `json:"legal_basis,omitempty"`
	MissingDocuments    []string  `json:"missing_documents,omitempty"`
	Amount              *int64    `json:"amount,omitempty"`
	FeeName             string    `json:"fee_name,omitempty"`
	PaymentInstructions string    `json:"payment_instructions,omitempty"`
	UnitName            string    `json:"unit_name,omitempty"`
	CollectPlace        string    `json:"collect_place,omitempty"`
	DeliveryNote        string    `json:"delivery_note,omitempty"`
	LookupURL           string    `json:"lookup_url,omitempty"`
	Channels            []string  `json:"channels,omitempty"`
	HandlingUnit        string    `json:"handling_unit,omitempty"`
	Reference           string    `json:"reference,omitempty"`
	// Urgent SMS bypass quiet hours (21:00-07:00 by default).
	Urgent bool `json:"urgent,omitempty"`
}

// Applicant is who the dossier belongs to.
type Applicant struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)

// ValidCode reports whether code is a dossier code: letters,
// digits, '.' and '-', at most 64 characters (DOMAIN.md).
func ValidCode(code string) bool { return codeRE.MatchString(code) }

// Contact is the applicant's address a channel sends to.
type Contact int

// Contacts.
const (
	ContactEmail Contact = iota + 1 // Applicant.Email
	ContactPhone                    // Applicant.Phone, E.164
)

// Field is the event's field that holds the contact ("applicant.email").
func (c Contact) Field() string {
	if c == ContactEmail {
		return "applicant.email"
	}
	return "applicant.phone"
}

// Of returns the applicant's address of contact c ("" when not given).
func (a Applicant) Of(c Contact) string {
	if c == ContactEmail {
		return a.Email
	}
	return a.Phone
}

// Channels is what ParseEvent knows of the notification channels (package
// notify's Registry): their names, the ones an event that names none gets
// (Defaults, in order), and the contact each sends to.
type Channels interface {
	Names() []string
	Defaults() []string
	Contact(channel string) (Contact, bool)
}

// ParseEvent decodes and validates an event for dossier code. It returns
// the event with the applicant's phone in E.164, the email domains in lower
// case and the channels filled in (when the event names none: every channel
// of chans, in its order, whose contact the applicant gave); or the problems
// found, each naming its field (the API answers them 422); or an error
// wrapping ErrMalformed when the body is not a JSON object (400).
func ParseEvent(code string, body []byte, chans Channels) (*Event, []FieldError, error) {
	var ev Event
	fe, err := DecodeStrict(body, &ev)
	if err != nil {
		return nil, nil, err
	}
	if fe != nil {
		return nil, []FieldError{*fe}, nil
	}
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if !ValidCode(code) {
		bad("code", "dossier code must be 1 to 64 letters, digits, '.' or '-'")
	}
	switch {
	case strings.TrimSpace(ev.EventID) == "":
		bad("event_id", "required")
	case len(ev.EventID) > 128 || !Printable(ev.EventID) || TextProblem(ev.EventID, OneLine) != "":
		bad("event_id", "at most 128 printable characters")
	}
	if !slices.Contains(templates.Statuses(), ev.Status) {
		bad("status", "must be one of "+strings.Join(templates.Statuses(), ", "))
	}
	for _, f := range []struct{ name, v string }{
		{"applicant.name", ev.Applicant.Name}, {"procedure", ev.Procedure}, {"agency", ev.Agency}, {"agency_short", ev.AgencyShort},
		{"reason", ev.Reason}, {"legal_basis", ev.LegalBasis}, {"fee_name", ev.FeeName}, {"payment_instructions", ev.PaymentInstructions},
		{"unit_name", ev.UnitName}, {"collect_place", ev.CollectPlace}, {"delivery_note", ev.DeliveryNote}, {"reference", ev.Reference},
		{"lookup_url", ev.LookupURL},
	} {
		kind := OneLine
		if multiLineFields[f.name] {
			kind = MultiLine
		}
		if p := TextProblem(f.v, kind); p != "" {
			bad(f.name, p)
		} else if utf8.RuneCountInString(f.v) > 2000 {
			bad(f.name, "at most 2000 characters")
		}
	}
	for _, f := range []struct{ name, v string }{
		{"received_at", ev.ReceivedAt}, {"appointment_at", ev.AppointmentAt}, {"new_appointment_at", ev.NewAppointmentAt},
		{"deadline", ev.Deadline}, {"collect_at", ev.CollectAt},
	} {
		if f.v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, f.v); err != nil {
			bad(f.name, "must be an RFC 3339 time such as 2026-03-15T09:00:00+07:00")
		}
	}
	if ev.Amount != nil && *ev.Amount < 0 {
		bad("amount", "must not be negative")
	}
	if len(ev.MissingDocuments) > 100 {
		bad("missing_documents", "at most 100 items")
	}
	for i, d := range ev.MissingDocuments {
		if p := TextProblem(d, OneLine); p != "" {
			bad(fmt.Sprintf("missing_documents[%d]", i), p)
		} else if strings.TrimSpace(d) == "" || utf8.RuneCountInString(d) > 500 {
			bad(fmt.Sprintf("missing_documents[%d]", i), "must be a non-empty text of at most 500 characters")
		}
	}
	if ev.Applicant.Email != "" {
		if a, ok := ParseEmail(ev.Applicant.Email); ok {
			ev.Applicant.Email = a
		} else {
			bad("applicant.email", "not a valid email address")
		}
	}
	if ev.HandlingUnit != "" {
		if a, ok := ParseEmail(ev.HandlingUnit); ok {
			ev.HandlingUnit = a
		} else {
			bad("handling_unit", "not a valid email address")
		}
	}
	if ev.Applicant.Phone != "" {
		if p, err := phone.Parse(ev.Applicant.Phone); err == nil {
			ev.Applicant.Phone = p
		} else {
			bad("applicant.phone", err.Error())
		}
	}
	if ev.Channels == nil {
		for _, c := range chans.Defaults() {
			if k, _ := chans.Contact(c); ev.Applicant.Of(k) != "" {
				ev.Channels = append(ev.Channels, c)
			}
		}
		if len(ev.Channels) == 0 && !hasField(errs, "applicant.email") && !hasField(errs, "applicant.phone") {
			bad("applicant", "needs an email or a phone number")
		}
	} else {
		if len(ev.Channels) == 0 {
			bad("channels", "must not be empty")
		}
		seen := map[string]bool{}
		for i, c := range ev.Channels {
			k, ok := chans.Contact(c)
			switch {
			case !ok:
				bad(fmt.Sprintf("channels[%d]", i), "must be "+oneOf(chans.Names()))
			case seen[c]:
				bad(fmt.Sprintf("channels[%d]", i), "duplicate channel")
			case ev.Applicant.Of(k) == "" && !hasField(errs, k.Field()):
				bad(k.Field(), "required for the "+c+" channel")
			}
			seen[c] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	return &ev, nil, nil
}

// oneOf lists names for a message: "a", "a" or "b", "a", "b" or "c".
func oneOf(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func hasField(errs []FieldError, f string) bool {
	for _, e := range errs {
		if e.Field == f {
			return true
		}
	}
	return false
}

// Printable reports whether s is valid UTF-8 without C0 controls or DEL.
func Printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// ParseEmail accepts a bare address (no display name, no comments) of at
// most 254 characters and returns it with the domain in lower case.
func ParseEmail(s string) (string, bool) {
	if len(s) > 254 || strings.ContainsAny(s, "<>\r\n\t ,;") {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") && s[at+1:] != "localhost" {
		return "", false
	}
	return s[:at+1] + strings.ToLower(s[at+1:]), true
}

// TemplateData is the event of dossier code as template data, under the
// names of templates.DossierFields.
func (ev *Event) TemplateData(code string) map[string]any {
	d := map[string]any{"dossier_code": code}
	app := map[string]any{}
	if ev.Applicant.Name != "" {
		app["name"] = ev.Applicant.Name
	}
	d["applicant"] = app
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("procedure", ev.Procedure)
	set("agency", ev.Agency)
	set("agency_short", ev.AgencyShort)
	set("received_at", ev.ReceivedAt)
	set("appointment_at", ev.AppointmentAt)
	set("new_appointment_at", ev.NewAppointmentAt)
	set("deadline", ev.Deadline)
	set("collect_at", ev.CollectAt)
	set("reason", ev.Reason)
	set("legal_basis", ev.LegalBasis)
	set("fee_name", ev.FeeName)
	set("payment_instructions", ev.PaymentInstructions)
	set("unit_name", ev.UnitName)
	set("collect_place", ev.CollectPlace)
	set("delivery_note", ev.DeliveryNote)
	set("lookup_url", ev.LookupURL)
	set("handling_unit", ev.HandlingUnit)
	if len(ev.MissingDocuments) > 0 {
		d["missing_documents"] = ev.MissingDocuments
	}
	if ev.Amount != nil {
		d["amount"] = *ev.Amount
	}
	return d
}

// ParseContact checks and normalises an address of contact c: an email
// address with its domain in lower case, or a Vietnamese mobile number in
// E.164. The error says what is wrong, for the request's field.
func ParseContact(c Contact, s string) (string, error) {
	if c == ContactEmail {
		if a, ok := ParseEmail(s); ok {
			return a, nil
		}
		return "", errors.New("not a valid email address")
	}
	return phone.Parse(s)
}
