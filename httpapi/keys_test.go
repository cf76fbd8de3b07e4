package httpapi

import (
	"congthu/outbox"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// A service's test and live keys are kept apart: the same event_id or
// Idempotency-Key is a new request for the other kind of key, never a
// replay of its response; a test key reads no live notification (by id,
// in lists, in events); a live key lists only live ones and reads a test
// one by id, as GOV.UK Notify's keys do.
func TestTestAndLiveKeysKeptApart(t *testing.T) {
	backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const path = "/v1/dossiers/000.00.12.H26-260315-0001/events"
		post := func(key, id string) (createdView, resp) {
			t.Helper()
			r := e.do("POST", path, key, event(id))
			var v createdView
			if r.code == http.StatusCreated || r.code == http.StatusOK {
				r.json(t, &v)
			}
			return v, r
		}

		// Test first, then live: the live post is new, and its email is
		// queued for delivery.
		tv, r := post(e.test, "ev-1")
		if r.code != http.StatusCreated || !tv.Notifications[0].Test {
			t.Fatalf("test key: %d %s", r.code, r.body)
		}
		lv, r := post(e.live, "ev-1")
		if r.code != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "" || lv.Notifications[0].Test {
			t.Fatalf("live key after the test key, same event_id: %d %s (replayed %q); want 201, a live notification",
				r.code, r.body, r.header.Get("Idempotent-Replayed"))
		}
		if lv.Notifications[0].ID == tv.Notifications[0].ID {
			t.Fatal("the live response is the test one")
		}
		waitFor(t, "the live post's outbox job", func() bool {
			st, _ := e.q.Stats(ctx, outbox.JobQueue)
			return st.Ready == 1
		})
		// Each key replays its own response.
		if v, r := post(e.test, "ev-1"); r.code != http.StatusOK || v.Notifications[0].ID != tv.Notifications[0].ID {
			t.Errorf("test replay: %d %s", r.code, r.body)
		}
		if v, r := post(e.live, "ev-1"); r.code != http.StatusOK || v.Notifications[0].ID != lv.Notifications[0].ID {
			t.Errorf("live replay: %d %s", r.code, r.body)
		}

		// Live first, then test: the test key gets its own 201, never
		// the live body (the citizen's address and rendered content).
		lv2, r := post(e.live, "ev-2")
		if r.code != http.StatusCreated {
			t.Fatalf("live key: %d %s", r.code, r.body)
		}
		tv2, r := post(e.test, "ev-2")
		if r.code != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "" || !tv2.Notifications[0].Test ||
			strings.Contains(string(r.body), lv2.Notifications[0].ID) {
			t.Fatalf("test key after the live key, same event_id: %d %s; want its own 201", r.code, r.body)
		}
		// The Idempotency-Key header too.
		body := map[string]any{"template_id": "generic-sms", "phone_number": "0912345678", "personalisation": map[string]any{"body": "Lịch tiếp dân"}}
		r = e.do("POST", "/v1/notifications/sms", e.live, body, "Idempotency-Key", "k-1")
		if r.code != http.StatusCreated {
			t.Fatalf("live sms: %d %s", r.code, r.body)
		}
		if r2 := e.do("POST", "/v1/notifications/sms", e.test, body, "Idempotency-Key", "k-1"); r2.code != http.StatusCreated || string(r2.body) == string(r.body) {
			t.Errorf("test sms with the live Idempotency-Key: %d %s", r2.code, r2.body)
		}

		// Reads. A test key: no live notification by id, in lists or
		// in events.
		liveID, testID := lv.Notifications[0].ID, tv.Notifications[0].ID
		if r := e.do("GET", "/v1/notifications/"+liveID, e.test, nil); r.code != http.StatusNotFound || strings.Contains(string(r.body), "an.nguyen@example.com") {
			t.Errorf("test key reads a live notification: %d %s", r.code, r.body)
		}
		if r := e.do("GET", "/v1/notifications/"+testID, e.live, nil); r.code != http.StatusOK {
			t.Errorf("live key reads a test notification by id: %d %s", r.code, r.body)
		}
		for _, c := range []struct {
			key  string
			test bool
		}{{e.test, true}, {e.live, false}} {
			for _, p := range []string{"/v1/notifications", "/v1/notifications?dossier=000.00.12.H26-260315-0001", "/v1/dossiers/000.00.12.H26-260315-0001/notifications"} {
				var l listView
				r := e.do("GET", p, c.key, nil)
				r.json(t, &l)
				if r.code != 200 || len(l.Notifications) == 0 {
					t.Errorf("%s (test %v): %d %s", p, c.test, r.code, r.body)
				}
				for _, n := range l.Notifications {
					if n.Test != c.test {
						t.Errorf("%s with a key of test %v lists %s of test %v", p, c.test, n.ID, n.Test)
					}
				}
			}
			var ev eventsView
			r := e.do("GET", "/v1/events", c.key, nil)
			r.json(t, &ev)
			if r.code != 200 || len(ev.Events) == 0 {
				t.Errorf("events (test %v): %d %s", c.test, r.code, r.body)
			}
			for _, p := range ev.Events {
				if p.Test != c.test {
					t.Errorf("events with a key of test %v: %+v", c.test, p)
				}
			}
		}
	})
}

// Control characters in fields that reach headers, subjects or templates
// are a 422 naming the field, never a 500 (and never stored).
func TestControlCharactersRefused(t *testing.T) {
	e := newEnv(t, "sqlite")
	const path = "/v1/dossiers/000.00.12.H26-260315-0001/events"
	n := 0
	for _, c := range []struct {
		field string
		set   func(ev map[string]any, v string)
	}{
		{"applicant.name", func(ev map[string]any, v string) { ev["applicant"].(map[string]any)["name"] = v }},
		{"agency", func(ev map[string]any, v string) { ev["agency"] = v }},
		{"agency_short", func(ev map[string]any, v string) { ev["agency_short"] = v }},
		{"procedure", func(ev map[string]any, v string) { ev["procedure"] = v }},
		{"reference", func(ev map[string]any, v string) { ev["reference"] = v }},
		{"unit_name", func(ev map[string]any, v string) { ev["unit_name"] = v }},
		{"lookup_url", func(ev map[string]any, v string) { ev["lookup_url"] = v }},
		{"missing_documents[1]", func(ev map[string]any, v string) { ev["missing_documents"] = []string{"Bản vẽ", v} }},
		{"event_id", func(ev map[string]any, v string) { ev["event_id"] = v }},
	} {
		for _, bad := range []string{"\r", "\n", "\r\n", "\x00", "\t", "\x1b", "\x7f", "\u0085", "\u2028", "\u202e"} {
			n++
			ev := event("ev-cc-" + strings.Repeat("x", n))
			c.set(ev, "Nguyễn Văn An"+bad+"Bcc: victim@example.org")
			r := e.do("POST", path, e.live, ev)
			if r.code != http.StatusUnprocessableEntity || !slices.Contains(r.errFields(t), c.field) {
				t.Errorf("%s with %q: %d %s; want 422 naming %s", c.field, bad, r.code, r.body, c.field)
			}
		}
	}
	// Multi-line fields keep line breaks and tabs, not other controls.
	ev := event("ev-ml-1")
	ev["status"] = "refused"
	ev["reason"] = "Hồ sơ thiếu:\r\n- bản vẽ\n\t- giấy phép"
	ev["legal_basis"] = "Điều 41,\nLuật Xây dựng"
	if r := e.do("POST", path, e.live, ev); r.code != http.StatusCreated {
		t.Errorf("reason with line breaks: %d %s", r.code, r.body)
	}
	for _, bad := range []string{"\x00", "\r", "\x0b", "\u2029"} {
		ev := event("ev-ml-" + bad)
		ev["status"] = "refused"
		ev["reason"] = "Hồ sơ" + bad + "thiếu"
		if r := e.do("POST", path, e.live, ev); r.code != 422 || !slices.Contains(r.errFields(t), "reason") {
			t.Errorf("reason with %q: %d %s", bad, r.code, r.body)
		}
	}
	// Personalisation of /v1/notifications/email: values that become
	// header fields or the subject are one line; the body may span lines.
	for _, c := range []struct {
		field string
		p     map[string]any
	}{
		{"personalisation.agency", map[string]any{"agency": "Sở\r\nBcc: x@y"}},
		{"personalisation.applicant.name", map[string]any{"applicant": map[string]any{"name": "An\nBcc: x@y"}}},
		{"personalisation.subject", map[string]any{"subject": "Thông báo\x00"}},
		{"personalisation.body", map[string]any{"body": "a\x00b"}},
		{"personalisation.items[0]", map[string]any{"items": []any{"a\nb"}}},
		{"personalisation", map[string]any{"k\ney": "v"}},
	} {
		p := map[string]any{"subject": "Thông báo", "body": "Nội dung\nhai dòng"}
		for k, v := range c.p {
			p[k] = v
		}
		r := e.do("POST", "/v1/notifications/email", e.live, map[string]any{"template_id": "generic-email", "email_address": "a@example.com", "personalisation": p})
		if r.code != http.StatusUnprocessableEntity || !slices.Contains(r.errFields(t), c.field) {
			t.Errorf("%s: %d %s; want 422 naming it", c.field, r.code, r.body)
		}
	}
	r := e.do("POST", "/v1/notifications/email", e.live, map[string]any{"template_id": "generic-email", "email_address": "a@example.com",
		"personalisation": map[string]any{"subject": "Thông báo", "body": "Nội dung\r\nhai dòng\tvà tab", "agency": "Sở Tư pháp"}})
	if r.code != http.StatusCreated {
		t.Errorf("body with line breaks: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/metrics", "", nil); strings.Contains(string(r.body), `code="500"`) {
		t.Errorf("a 500 was answered:\n%s", r.body)
	}
}

// A long applicant name and agency compose a message whose header lines
// are short and read back as given.
func TestLongDisplayNamesCompose(t *testing.T) {
	e := newEnv(t, "sqlite")
	ev := event("ev-long")
	name := strings.Repeat("A", 1999)
	agency := strings.Repeat("Ủy ban nhân dân quận Hoàn Kiếm ", 60)
	ev["applicant"].(map[string]any)["name"] = name
	ev["agency"] = agency
	ev["channels"] = []string{"email"}
	r := e.do("POST", "/v1/dossiers/HS-LONG-1/events", e.live, ev)
	if r.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	var v createdView
	r.json(t, &v)
	raw := composeStored(t, e, v.Notifications[0].ID)
	m := headerLines(t, raw, 998)
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != name {
		t.Errorf("To: %v %v", to, err)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 || strings.Join(strings.Fields(from[0].Name), " ") != strings.TrimSpace(agency) {
		t.Errorf("From: %v %v", from, err)
	}
}
