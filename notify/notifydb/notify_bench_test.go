package notifydb

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// eventRequest is what the API stores for a dossier event with email and
// SMS: an idempotency record with a 2 KB response, an outbox entry (its
// email is composed when delivered), the email notification with its 4 KB
// of rendered content, the SMS notification, and their first events.
func eventRequest(i int) *NotificationRequest {
	html := strings.Repeat("<p>Kính gửi ông/bà Nguyễn Văn An, hồ sơ đã được tiếp nhận.</p>\n", 45)
	text := strings.Repeat("Kính gửi ông/bà Nguyễn Văn An, hồ sơ đã được tiếp nhận.\n", 15)
	code := fmt.Sprintf("HS-%d", rand.IntN(1000))
	email := newNote(fmt.Sprintf("%016x-e-%d", time.Now().UnixNano(), i), "email", "an.nguyen@example.com")
	email.DossierCode, email.Reference, email.Subject, email.HTML, email.Text = code, "BO-2026-0001", "Hồ sơ "+code+" đã được tiếp nhận", html, text
	email.FromAddress, email.FromName, email.ToName, email.ReplyTo = "noreply@hanoi.gov.vn", "Sở Tư pháp Hà Nội", "Nguyễn Văn An", "motcua@hanoi.gov.vn"
	email.MailFrom = fmt.Sprintf("bounce+%d@hanoi.gov.vn", i)
	sms := newNote(fmt.Sprintf("%016x-s-%d", time.Now().UnixNano(), i), "sms", "+84912345678")
	sms.DossierCode, sms.Reference, sms.Text, sms.SMSText, sms.SMSEncoding, sms.SMSParts = code, "BO-2026-0001", text[:122], text[:96], "gsm7", 1
	return &NotificationRequest{Service: "motcua", IdempotencyKey: fmt.Sprintf("ev-%x", rand.Uint64()), RequestHash: "h",
		Status: 201, Response: []byte(strings.Repeat("x", 2092)), Notifications: []NewNotification{email, sms}}
}

// BenchmarkCreateNotificationsBatch measures the writer's time for a
// batch of dossier events (the API's group commit) without the WAL sync,
// which runs outside the writer: µs of writer time per event at batch
// sizes 1, 4 and 16. One goroutine, so the figure is the store's own cost.
//
//	go test -run NONE -bench CreateNotificationsBatch -benchtime 2000x ./store
func BenchmarkCreateNotificationsBatch(b *testing.B) {
	for _, size := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("sqlite/batch=%d", size), func(b *testing.B) {
			s := newBackend(b, "sqlite").open(b)
			if _, err := s.AddAPIKey(ctx, "motcua", "hash-bench", "ct_live_bench", false); err != nil {
				b.Fatal(err)
			}
			reqs := make([]*NotificationRequest, b.N)
			for i := range reqs {
				reqs[i] = eventRequest(i)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += size {
				if _, err := s.createNotificationsNoSync(ctx, reqs[i:min(i+size, b.N)]); err != nil {
					b.Fatal(err)
				}
			}
			el := time.Since(start)
			b.ReportMetric(float64(el.Microseconds())/float64(b.N), "µs/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}
