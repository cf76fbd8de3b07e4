package dossier

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"congthu/templates"
)

// FuzzDossierEvent checks that event validation never panics, and that an
// accepted event keeps its promises: a valid code, a known status, known
// channels each with its address, an E.164 phone.
func FuzzDossierEvent(f *testing.F) {
	good, _ := json.Marshal(event("ev-1"))
	f.Add("000.00.12.H26-260315-0001", good)
	f.Add("x", []byte(`{"event_id":"a","status":"fee_due","applicant":{"phone":"0912345678"},"amount":1500000,"channels":["sms"]}`))
	f.Add("a_b", []byte(`{"event_id":"","status":"lost","applicant":{"email":"a@@b"},"amount":-1}`))
	f.Add("x", []byte(`{"event_id":"a","status":"received","applicant":{},"channels":[]}`))
	f.Add("x", []byte(`{"amount":1.5}`))
	f.Add("x", []byte(`[`))
	f.Add("x", []byte(`{"missing_documents":["", "\u0000"],"received_at":"2026-13-40T99:00:00Z"}`))
	f.Fuzz(func(t *testing.T, code string, body []byte) {
		ev, errs, err := ParseEvent(code, body, mailAndSMS)
		if err != nil {
			if ev != nil || errs != nil {
				t.Fatal("both an error and a result")
			}
			return
		}
		if len(errs) > 0 {
			if ev != nil {
				t.Fatal("problems and an event")
			}
			for _, e := range errs {
				if e.Message == "" {
					t.Fatalf("problem without a message: %+v", e)
				}
			}
			return
		}
		if !ValidCode(code) || !slices.Contains(templates.Statuses(), ev.Status) || ev.EventID == "" || len(ev.Channels) == 0 {
			t.Fatalf("accepted a bad event: %q %+v", code, ev)
		}
		for _, c := range ev.Channels {
			switch c {
			case "email":
				if ev.Applicant.Email == "" {
					t.Fatal("email channel without address")
				}
			case "sms":
				if !strings.HasPrefix(ev.Applicant.Phone, "+84") || len(ev.Applicant.Phone) != 12 {
					t.Fatalf("sms channel with phone %q", ev.Applicant.Phone)
				}
			default:
				t.Fatalf("channel %q", c)
			}
		}
		// Accepted events render or fail with a field error, never panic.
		set, _ := templates.Load()
		for _, c := range ev.Channels {
			tm, _ := set.ForStatus(ev.Status, c)
			if _, err := tm.Render(ev.TemplateData(code)); err != nil {
				var me *templates.MissingError
				var ve *templates.ValueError
				if !errors.As(err, &me) && !errors.As(err, &ve) {
					t.Fatalf("render error not a field error: %v", err)
				}
			}
		}
	})
}
