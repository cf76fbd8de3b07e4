package dossier

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"congthu/templates"
)

// event returns a realistic "received" event.
func event(id string) map[string]any {
	return map[string]any{
		"event_id": id,
		"status":   "received",
		"applicant": map[string]any{
			"name": "Nguyễn Văn An", "email": "an.nguyen@Example.COM", "phone": "0912 345 678",
		},
		"procedure":      "Cấp giấy phép xây dựng nhà ở riêng lẻ",
		"agency":         "Ủy ban nhân dân quận Hoàn Kiếm",
		"agency_short":   "UBND Q.Hoàn Kiếm",
		"received_at":    "2026-03-15T09:00:00+07:00",
		"appointment_at": "2026-03-29T16:00:00+07:00",
		"handling_unit":  "motcua.hoankiem@hanoi.gov.vn",
		"reference":      "BO-2026-0001",
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEventNormalises(t *testing.T) {
	ev, errs, err := ParseEvent("000.00.12.H26-260315-0001", mustJSON(t, event("ev-1")), mailAndSMS)
	if err != nil || errs != nil {
		t.Fatalf("ParseEvent: %v %v", errs, err)
	}
	if ev.Applicant.Phone != "+84912345678" {
		t.Errorf("phone = %q, want E.164", ev.Applicant.Phone)
	}
	if ev.Applicant.Email != "an.nguyen@example.com" {
		t.Errorf("email = %q, want the domain in lower case", ev.Applicant.Email)
	}
	if want := []string{templates.Email, templates.SMS}; !slices.Equal(ev.Channels, want) {
		t.Errorf("channels = %v, want %v", ev.Channels, want)
	}
	d := ev.TemplateData("HS-1")
	if d["dossier_code"] != "HS-1" || d["agency_short"] != "UBND Q.Hoàn Kiếm" || d["handling_unit"] != "motcua.hoankiem@hanoi.gov.vn" {
		t.Errorf("template data = %v", d)
	}
	if app := d["applicant"].(map[string]any); app["name"] != "Nguyễn Văn An" || len(app) != 1 {
		t.Errorf("applicant data = %v: only the name reaches templates", app)
	}
	if _, ok := d["amount"]; ok {
		t.Error("amount in the data of an event without one")
	}
}

// The problems name the fields of the API contract, in the order found.
func TestParseEventProblems(t *testing.T) {
	ev := event("")
	ev["status"] = "lost"
	ev["applicant"] = map[string]any{"email": "a@@b", "name": "An\r\nBcc: x@y"}
	ev["reason"] = "line 1\nline 2" // multi-line is fine here
	ev["amount"] = -1
	ev["missing_documents"] = []string{"CMND", ""}
	ev["channels"] = []string{"sms", "fax"}
	_, errs, err := ParseEvent("HS 1", mustJSON(t, ev), mailAndSMS)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, e := range errs {
		if e.Message == "" {
			t.Errorf("%s: no message", e.Field)
		}
		fields = append(fields, e.Field)
	}
	want := []string{"code", "event_id", "status", "applicant.name", "amount", "missing_documents[1]", "applicant.email", "applicant.phone", "channels[1]"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %q\nwant     %q", fields, want)
	}
}

func TestParseEventShape(t *testing.T) {
	for _, tc := range []struct {
		body      string
		malformed bool
		field     string
	}{
		{body: `[`, malformed: true},
		{body: `[]`, malformed: true},
		{body: `{"event_id":"a"} {}`, malformed: true},
		{body: `{"amount":1.5}`, field: "amount"},
		{body: `{"colour":"red"}`, field: "colour"},
		{body: `{"applicant":{"phone":84}}`, field: "applicant.phone"},
	} {
		ev, errs, err := ParseEvent("HS-1", []byte(tc.body), mailAndSMS)
		if ev != nil {
			t.Errorf("%s: accepted", tc.body)
		}
		if tc.malformed {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err = %v, want ErrMalformed", tc.body, err)
			}
			continue
		}
		if err != nil || len(errs) != 1 || errs[0].Field != tc.field {
			t.Errorf("%s: %v %v, want one problem in %s", tc.body, errs, err, tc.field)
		}
	}
}

func TestTextProblem(t *testing.T) {
	for _, tc := range []struct {
		v       string
		k       TextKind
		problem bool
	}{
		{"Nguyễn Văn An", OneLine, false},
		{"a\nb", OneLine, true},
		{"a\nb\r\nc\td", MultiLine, false},
		{"a\rb", MultiLine, true},
		{"a\u202eb", MultiLine, true},
		{"a\u2028b", MultiLine, true},
		{"\xff", OneLine, true},
	} {
		if p := TextProblem(tc.v, tc.k); (p != "") != tc.problem {
			t.Errorf("TextProblem(%q, %d) = %q", tc.v, tc.k, p)
		}
	}
	errs := CheckPersonalisation(map[string]any{"subject": "a\nb", "body": "a\nb", "docs": []any{"x\ny"}})
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if want := []string{"personalisation.docs[0]", "personalisation.subject"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("personalisation problems in %q, want %q", fields, want)
	}
}

// channelList is a Channels: names in order with their contacts.
type channelList []struct {
	name    string
	contact Contact
}

func (l channelList) Names() []string {
	var out []string
	for _, c := range l {
		out = append(out, c.name)
	}
	return out
}

func (l channelList) Defaults() []string { return l.Names() }

func (l channelList) Contact(name string) (Contact, bool) {
	for _, c := range l {
		if c.name == name {
			return c.contact, true
		}
	}
	return 0, false
}

// mailAndSMS are the channels serve registers today.
var mailAndSMS = channelList{{templates.Email, ContactEmail}, {templates.SMS, ContactPhone}}

// TestParseEventChannels: the channels an event may name, the ones it gets
// when it names none, and the contact each requires all come from the
// Channels given, so a channel added there needs nothing here.
func TestParseEventChannels(t *testing.T) {
	three := channelList{{"email", ContactEmail}, {"zalo", ContactPhone}, {"sms", ContactPhone}}
	phoneOnly := event("ev-1")
	phoneOnly["applicant"] = map[string]any{"name": "An", "phone": "0912345678"}
	ev, errs, err := ParseEvent("HS-1", mustJSON(t, phoneOnly), three)
	if err != nil || len(errs) > 0 {
		t.Fatalf("ParseEvent: %v %v", errs, err)
	}
	if want := []string{"zalo", "sms"}; !slices.Equal(ev.Channels, want) {
		t.Errorf("default channels %v, want %v", ev.Channels, want)
	}
	bad := event("ev-2")
	bad["applicant"] = map[string]any{"name": "An", "email": "an@example.vn"}
	bad["channels"] = []string{"fax", "zalo"}
	_, errs, err = ParseEvent("HS-1", mustJSON(t, bad), three)
	if err != nil {
		t.Fatal(err)
	}
	want := []FieldError{
		{Field: "channels[0]", Message: `must be "email", "zalo" or "sms"`},
		{Field: "applicant.phone", Message: "required for the zalo channel"},
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("problems %+v, want %+v", errs, want)
	}
	if _, errs, _ := ParseEvent("HS-1", mustJSON(t, bad), mailAndSMS); len(errs) == 0 || errs[0].Message != `must be "email" or "sms"` {
		t.Errorf("with email and sms only: %+v", errs)
	}
}
