package store

import (
	"errors"
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
		s.SetNotificationStatus(ctx, "s2", NotificationPermanentFailure, "", timeZero)
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
		s.SetNotificationStatus(ctx, "e1", NotificationPermanentFailure, "550 no such user", timeZero)
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
		s.SetNotificationStatus(ctx, "e2", NotificationPermanentFailure, "550", timeZero)
		if n, _, err := s.CreateSMSFallback(ctx, "e2", "f3"); err != nil || n != nil {
			t.Errorf("fallback with an SMS of the event: got %+v, %v", n, err)
		}
	})
}
