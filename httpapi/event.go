package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"congthu/sms"
	"congthu/templates"
)

// DossierEvent is the body of POST /v1/dossiers/{code}/events. Field names
// are the contract with back-office integrators.
type DossierEvent struct {
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

var dossierCode = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)

// ValidDossierCode reports whether code is a dossier code: letters,
// digits, '.' and '-', at most 64 characters (DOMAIN.md).
func ValidDossierCode(code string) bool { return dossierCode.MatchString(code) }

// errMalformed is a body that is not JSON of the right shape: 400.
var errMalformed = errors.New("malformed JSON")

// decodeStrict decodes one JSON object into v, refusing unknown fields and
// trailing data. A syntax error is errMalformed (400); a value of the wrong
// type or an unknown field is a fieldError (422).
func decodeStrict(body []byte, v any) (*fieldError, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the JSON object", errMalformed)
		}
		return nil, nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return nil, fmt.Errorf("%w: want a JSON object", errMalformed)
		}
		return &fieldError{Field: te.Field, Message: "must be " + jsonKind(te.Type.Kind().String())}, nil
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &fieldError{Field: strings.Trim(f, `"`), Message: "unknown field"}, nil
	}
	return nil, fmt.Errorf("%w: %v", errMalformed, err)
}

func jsonKind(k string) string {
	switch k {
	case "int64", "int":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// ParseDossierEvent decodes and validates an event for dossier code. It
// returns the event with the applicant's phone in E.164 and the channels
// filled in, or the problems found (422), or errMalformed (400).
func ParseDossierEvent(code string, body []byte) (*DossierEvent, []fieldError, error) {
	var ev DossierEvent
	fe, err := decodeStrict(body, &ev)
	if err != nil {
		return nil, nil, err
	}
	if fe != nil {
		return nil, []fieldError{*fe}, nil
	}
	var errs []fieldError
	bad := func(field, msg string) { errs = append(errs, fieldError{Field: field, Message: msg}) }
	if !ValidDossierCode(code) {
		bad("code", "dossier code must be 1 to 64 letters, digits, '.' or '-'")
	}
	switch {
	case strings.TrimSpace(ev.EventID) == "":
		bad("event_id", "required")
	case len(ev.EventID) > 128 || !printable(ev.EventID) || textProblem(ev.EventID, oneLine) != "":
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
		kind := oneLine
		if multiLineFields[f.name] {
			kind = multiLine
		}
		if p := textProblem(f.v, kind); p != "" {
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
		if p := textProblem(d, oneLine); p != "" {
			bad(fmt.Sprintf("missing_documents[%d]", i), p)
		} else if strings.TrimSpace(d) == "" || utf8.RuneCountInString(d) > 500 {
			bad(fmt.Sprintf("missing_documents[%d]", i), "must be a non-empty text of at most 500 characters")
		}
	}
	if ev.Applicant.Email != "" {
		if a, ok := parseEmail(ev.Applicant.Email); ok {
			ev.Applicant.Email = a
		} else {
			bad("applicant.email", "not a valid email address")
		}
	}
	if ev.HandlingUnit != "" {
		if a, ok := parseEmail(ev.HandlingUnit); ok {
			ev.HandlingUnit = a
		} else {
			bad("handling_unit", "not a valid email address")
		}
	}
	if ev.Applicant.Phone != "" {
		if p, err := sms.ParsePhone(ev.Applicant.Phone); err == nil {
			ev.Applicant.Phone = p
		} else {
			bad("applicant.phone", err.Error())
		}
	}
	if ev.Channels == nil {
		if ev.Applicant.Email != "" {
			ev.Channels = append(ev.Channels, templates.Email)
		}
		if ev.Applicant.Phone != "" {
			ev.Channels = append(ev.Channels, templates.SMS)
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
			switch {
			case c != templates.Email && c != templates.SMS:
				bad(fmt.Sprintf("channels[%d]", i), `must be "email" or "sms"`)
			case seen[c]:
				bad(fmt.Sprintf("channels[%d]", i), "duplicate channel")
			case c == templates.Email && ev.Applicant.Email == "" && !hasField(errs, "applicant.email"):
				bad("applicant.email", "required for the email channel")
			case c == templates.SMS && ev.Applicant.Phone == "" && !hasField(errs, "applicant.phone"):
				bad("applicant.phone", "required for the sms channel")
			}
			seen[c] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	return &ev, nil, nil
}

func hasField(errs []fieldError, f string) bool {
	for _, e := range errs {
		if e.Field == f {
			return true
		}
	}
	return false
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// parseEmail accepts a bare address (no display name, no comments) of at
// most 254 characters and returns it with the domain in lower case.
func parseEmail(s string) (string, bool) {
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

// templateData is the event as template data (DossierFields names).
func (ev *DossierEvent) templateData(code string) map[string]any {
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
