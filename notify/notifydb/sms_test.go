package notifydb

import (
	"congthu/outbox"
	"congthu/store"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	timeZero time.Time
	timeFar  = time.Now().Add(time.Hour)
)

func TestSMSSendsAndReceipts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		n := newNote("s1", "sms", "+84912345678")
		n.Urgent = true
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: []NewNotification{n, newNote("s2", "sms", "+84912345679")}}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Notification(ctx, "s1")
		if err != nil || !got.Urgent {
			t.Fatalf("urgent not stored: %+v %v", got, err)
		}
		if _, err := s.SMSSend(ctx, "s1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SMSSend before any: got %v, want ErrNotFound", err)
		}
		if _, err := s.BeginSMSSend(ctx, "s1", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSMSSendState(ctx, "s1", SMSUnknown, "smpp", "no answer"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginSMSSend(ctx, "s1", true); err != nil {
			t.Fatal(err)
		}
		st, err := s.SMSSend(ctx, "s1")
		if err != nil || st.State != SMSSubmitting || st.Attempts != 2 || st.Resends != 1 {
			t.Errorf("SMSSend: got %+v, %v; want submitting, 2 attempts, 1 resend", st, err)
		}

		// A receipt before the ids are recorded is kept and applied.
		if id, _, err := s.RecordSMSReceipt(ctx, "smpp", []string{"1a2b3c01", "439041025"}, NotificationDelivered, "DELIVRD"); err != nil || id != "" {
			t.Fatalf("early receipt: got %q, %v", id, err)
		}
		out, err := s.RecordSMSAccepted(ctx, "s1", SMSAccepted, "smpp", []string{"1a2b3c01", "1a2b3c02"})
		if err != nil || out.Parts != 2 || out.Delivered != 1 || out.Status != "" {
			t.Fatalf("RecordSMSAccepted: got %+v, %v; want 2 parts, 1 delivered, pending", out, err)
		}
		// Accepted is never undone, nor submitted again.
		if err := s.SetSMSSendState(ctx, "s1", SMSUnknown, "smpp", "late"); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.SMSSend(ctx, "s1"); st.State != SMSAccepted {
			t.Errorf("accepted overwritten: %+v", st)
		}
		if _, err := s.BeginSMSSend(ctx, "s1", true); !errors.Is(err, ErrAccepted) {
			t.Errorf("BeginSMSSend after accepted: got %v, want ErrAccepted", err)
		}
		// The second part's receipt, spelled in decimal.
		id, out, err := s.RecordSMSReceipt(ctx, "smpp", []string{"439041026", "1a2b3c02"}, NotificationDelivered, "DELIVRD")
		if err != nil || id != "s1" || out.Status != NotificationDelivered {
			t.Fatalf("receipt: got %q %+v %v; want s1 delivered", id, out, err)
		}
		// A later failure does not undo a final part.
		if _, out, _ := s.RecordSMSReceipt(ctx, "smpp", []string{"1a2b3c02"}, NotificationPermanentFailure, "UNDELIV"); out.Status != NotificationDelivered {
			t.Errorf("final part changed: %+v", out)
		}
		// Same id from another provider is another message.
		if id, _, _ := s.RecordSMSReceipt(ctx, "http", []string{"1a2b3c02"}, NotificationDelivered, "DELIVERED"); id != "" {
			t.Errorf("provider ignored: got %q", id)
		}

		if _, err := s.RecordSMSAccepted(ctx, "s2", SMSAccepted, "smpp", []string{"77"}); err != nil {
			t.Fatal(err)
		}
		if _, out, _ := s.RecordSMSReceipt(ctx, "smpp", []string{"77"}, NotificationPermanentFailure, "UNDELIV err:001"); out.Status != NotificationPermanentFailure || out.Detail != "delivery receipt: UNDELIV err:001" {
			t.Errorf("undeliverable: got %+v", out)
		}
		// A final notification is not submitted.
		s.setNotificationStatus(ctx, "s2", NotificationPermanentFailure, "", timeZero)
		if _, err := s.BeginSMSSend(ctx, "s2", false); !errors.Is(err, ErrFinal) {
			t.Errorf("BeginSMSSend of a final notification: got %v, want ErrFinal", err)
		}
		s3 := newNote("s3", "sms", "+84912345670")
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: []NewNotification{s3}}}); err != nil {
			t.Fatal(err)
		}

		// Receipts for ids never recorded are kept, then purged: this
		// one, the http one above, and the decimal form of the early
		// receipt (its hex form was applied).
		s.RecordSMSReceipt(ctx, "smpp", []string{"dead"}, NotificationDelivered, "DELIVRD")
		if n, err := s.PurgeSMSEarlyReceipts(ctx, time.Now().Add(time.Second)); err != nil || n != 3 {
			t.Errorf("PurgeSMSEarlyReceipts: got %d, %v; want 3", n, err)
		}

		// Notes: shown as detail and in the timeline, once.
		for range 2 {
			if _, err := s.NoteNotification(ctx, "s3", "held for quiet hours until 07:00", timeZero); err != nil {
				t.Fatal(err)
			}
		}
		evs, _ := s.NotificationEvents(ctx, "s3")
		if len(evs) != 2 || evs[1].Status != NotificationCreated || evs[1].Detail != "held for quiet hours until 07:00" {
			t.Errorf("note events: got %+v", evs)
		}
	})
}

func TestSMSFallback(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		e := newNote("e1", "email", "an@example.com")
		e.EventID = "ev-1"
		e.Fallback = &SMSFallback{Phone: "+84912345678", TemplateID: "dossier-received-sms", TemplateVersion: 1, Text: "Hồ sơ", SMSText: "Ho so", SMSEncoding: "GSM-7", SMSParts: 1}
		e2 := newNote("e2", "email", "binh@example.com")
		e2.EventID = "ev-2"
		e2.Fallback = e.Fallback
		sms2 := newNote("s2", "sms", "+84912345678")
		sms2.EventID = "ev-2"
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: []NewNotification{e, e2, sms2}}}); err != nil {
			t.Fatal(err)
		}
		if n, _, err := s.CreateSMSFallback(ctx, "e1", "f1"); err != nil || n != nil {
			t.Fatalf("fallback before the email failed: got %+v, %v", n, err)
		}
		s.setNotificationStatus(ctx, "e1", NotificationPermanentFailure, "550 no such user", timeZero)
		n, created, err := s.CreateSMSFallback(ctx, "e1", "f1")
		if err != nil || !created || n.Channel != "sms" || n.Recipient != "+84912345678" || n.EventID != "ev-1" || n.SMSText != "Ho so" {
			t.Fatalf("fallback: got %+v %v %v", n, created, err)
		}
		n, created, err = s.CreateSMSFallback(ctx, "e1", "f2")
		if err != nil || created || n == nil || n.ID != "f1" {
			t.Errorf("fallback again: got %+v %v %v; want f1, not created", n, created, err)
		}
		if ids, _ := s.PendingNotifications(ctx, false, "sms", timeFar, "", 10); len(ids) != 2 {
			t.Errorf("pending sms: got %v, want s2 and f1", ids)
		}
		// An SMS of the event exists: no fallback.
		s.setNotificationStatus(ctx, "e2", NotificationPermanentFailure, "550", timeZero)
		if n, _, err := s.CreateSMSFallback(ctx, "e2", "f3"); err != nil || n != nil {
			t.Errorf("fallback with an SMS of the event: got %+v, %v", n, err)
		}
	})
}

// TestRecordAttemptsNotification: the outcome of an attempt and the
// status of the notification it carries are recorded in one transaction:
// sending as of the attempt's start, the final status, and for a permanent
// failure the SMS fallback; a record made twice changes nothing.
func TestRecordAttemptsNotification(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCallback(ctx, "motcua", "http://cb.test/", "k"); err != nil {
			t.Fatal(err)
		}
		ok := newNote("ok", "email", "an@example.com")
		ok.MailFrom = "bounce+ok@hanoi.gov.vn"
		bad := newNote("bad", "email", "binh@example.com")
		bad.MailFrom, bad.EventID = "bounce+bad@hanoi.gov.vn", "ev-bad"
		bad.Fallback = &SMSFallback{Phone: "+84912345678", TemplateID: "dossier-received-sms", TemplateVersion: 1, Text: "Hồ sơ", SMSText: "Ho so", SMSEncoding: "GSM-7", SMSParts: 1}
		slow := newNote("slow", "email", "chi@example.com")
		slow.MailFrom = "bounce+slow@hanoi.gov.vn"
		res, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: []NewNotification{ok, bad, slow}}})
		if err != nil || res[0].Err != nil || len(res[0].OutboxIDs) != 3 {
			t.Fatalf("CreateNotifications: %+v %v", res, err)
		}
		ids := res[0].OutboxIDs
		record := hookRecorder(s)
		started := time.Now().Add(-time.Second).Truncate(time.Microsecond)
		attempts := []outbox.Attempt{
			{OutboxID: ids[0], Address: "an@example.com", Status: outbox.Delivered, Started: started},
			{OutboxID: ids[1], Address: "binh@example.com", Status: outbox.Failed, LastError: "550 5.1.1 no such user", Started: started},
			{OutboxID: ids[2], Address: "chi@example.com", Status: outbox.Queued, LastError: "451 try later",
				NextAttempt: time.Now().Add(time.Minute), Started: started},
		}
		rec, err := record(attempts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range rec.Events {
			got = append(got, ev.NotificationID+":"+ev.Status)
			if !ev.Callback {
				t.Errorf("event %+v without its callback", ev)
			}
		}
		want := "ok:sending ok:delivered bad:sending bad:permanent-failure slow:sending"
		if strings.Join(got, " ") != want {
			t.Errorf("events: got %q, want %q", got, want)
		}
		if len(rec.Fallbacks) != 1 || rec.Fallbacks[0].Email != "bad" || rec.Fallbacks[0].SMS.Recipient != "+84912345678" ||
			rec.Fallbacks[0].SMS.Status != NotificationCreated {
			t.Fatalf("fallbacks: %+v", rec.Fallbacks)
		}
		if _, smsID, err := s.SMSFallbackOf(ctx, "bad"); err != nil || smsID != rec.Fallbacks[0].SMS.ID {
			t.Errorf("fallback of bad: %q %v, want %s", smsID, err, rec.Fallbacks[0].SMS.ID)
		}
		for id, status := range map[string]string{"ok": NotificationDelivered, "bad": NotificationPermanentFailure, "slow": NotificationSending} {
			n, err := s.Notification(ctx, id)
			if err != nil || n.Status != status {
				t.Errorf("%s: got %+v %v, want %s", id, n, err, status)
			}
		}
		evs, _ := s.NotificationEvents(ctx, "ok")
		if len(evs) != 3 || !evs[1].At.Equal(started) || evs[2].Status != NotificationDelivered {
			t.Errorf("timeline of ok: %+v, want sending at %v", evs, started)
		}
		if _, err := s.outbox.State(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("delivered entry kept: %v", err)
		}
		// The same outcomes again (a job that ran twice): nothing changes.
		rec, err = record(attempts[:2])
		if err != nil || len(rec.Events) != 0 || len(rec.Fallbacks) != 0 {
			t.Errorf("recorded twice: %+v %v", rec, err)
		}
		// Ordinary mail recorded with them tells the hook nothing.
		plain, err := s.mail.Deliver(ctx, &store.Delivery{Raw: []byte("Subject: x\r\n\r\nx\r\n"), MailFrom: "plain@hanoi.gov.vn", Remote: []string{"x@other.vn"}})
		if err != nil {
			t.Fatal(err)
		}
		rec, err = record([]outbox.Attempt{{OutboxID: plain.OutboxID, Address: "x@other.vn", Status: outbox.Delivered, Started: started}})
		if err != nil || len(rec.Events) != 0 {
			t.Errorf("ordinary mail: %+v %v", rec, err)
		}
	})
}

// TestRecordAttemptsAtomic: when the outbox part of a record fails,
// the notification part rolls back with it; and an attempt whose recipient
// is no longer queued (an operator cancelled it meanwhile) leaves the
// notification alone.
func TestRecordAttemptsAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		bad := newNote("bad", "email", "binh@example.com")
		bad.MailFrom, bad.EventID = "bounce+bad@hanoi.gov.vn", "ev-bad"
		bad.Fallback = &SMSFallback{Phone: "+84912345678", TemplateID: "dossier-received-sms", TemplateVersion: 1, Text: "t", SMSText: "t", SMSEncoding: "GSM-7", SMSParts: 1}
		cancelled := newNote("cancelled", "email", "an@example.com")
		cancelled.MailFrom = "bounce+cancelled@hanoi.gov.vn"
		res, err := s.CreateNotifications(ctx, []*NotificationRequest{{Service: "motcua", Notifications: []NewNotification{bad, cancelled}}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
		ids := res[0].OutboxIDs
		record := hookRecorder(s)

		// Cancel's first transaction; its status change comes after.
		if _, err := s.w().Exec(ctx, `UPDATE outbox_recipients SET status = 'failed', last_error = 'cancelled by operator' WHERE outbox_id = ?`, ids[1]); err != nil {
			t.Fatal(err)
		}
		rec, err := record([]outbox.Attempt{{OutboxID: ids[1], Address: "an@example.com",
			Status: outbox.Delivered, Started: time.Now()}})
		if err != nil || len(rec.Events) != 0 {
			t.Errorf("record after cancel: %+v %v", rec, err)
		}
		if n, _ := s.Notification(ctx, "cancelled"); n.Status != NotificationCreated {
			t.Errorf("the cancelled recipient's notification became %s", n.Status)
		}

		if b.name == "sqlite" {
			_, err = s.w().Exec(ctx, `CREATE TRIGGER boom BEFORE DELETE ON outbox BEGIN SELECT RAISE(ABORT, 'boom'); END`)
		} else {
			_, err = s.w().Exec(ctx, `CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql;
				CREATE TRIGGER boom BEFORE DELETE ON outbox FOR EACH ROW EXECUTE FUNCTION boom()`)
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := record([]outbox.Attempt{{OutboxID: ids[0], Address: "binh@example.com",
			Status: outbox.Failed, LastError: "550", Started: time.Now()}}); err == nil || len(rec.Events) != 0 {
			t.Fatalf("record did not fail, or told the hook: %+v %v", rec, err)
		}
		n, _ := s.Notification(ctx, "bad")
		_, sms, _ := s.SMSFallbackOf(ctx, "bad")
		if n.Status != NotificationCreated || sms != "" {
			t.Errorf("the outbox part failed, but the notification is %s, fallback %q", n.Status, sms)
		}
		if st, err := s.outbox.State(ctx, ids[0]); err != nil || st.Recipients[0].Status != outbox.Queued {
			t.Errorf("outbox after the failed record: %+v %v", st, err)
		}
	})
}

// hookRecorder subscribes the notification hook to s and returns a
// function that records attempts (removing finished entries) and returns
// what the hook reported once they were durable (empty when nothing, or
// when the record failed).
func hookRecorder(s *Store) func([]outbox.Attempt) (*NotificationRecord, error) {
	var got *NotificationRecord
	s.outbox.AddHook(s.NotificationHook(func(_ context.Context, rec *NotificationRecord) { got = rec }))
	return func(attempts []outbox.Attempt) (*NotificationRecord, error) {
		got = nil
		err := s.outbox.RecordAttempts(ctx, attempts, true)
		if got == nil {
			return &NotificationRecord{}, err
		}
		return got, err
	}
}
