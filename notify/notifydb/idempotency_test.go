package notifydb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"congthu/internal/sqldb"
)

// A service's test and live keys have separate idempotency scopes: the same
// key in the other scope is a new request, never a replay, and each scope
// replays only its own first response.
func TestIdempotencyScopes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddAPIKey(ctx, "motcua", "h", "ct", false); err != nil {
			t.Fatal(err)
		}
		note := func(id string, test bool) NewNotification {
			n := newNote(id, "sms", "+84912345678")
			n.Test = test
			return n
		}
		req := func(id string, test bool, hash, body string) *NotificationRequest {
			return &NotificationRequest{Service: "motcua", Test: test, IdempotencyKey: "event:ev-1", RequestHash: hash, Status: 201,
				Response: []byte(body), Notifications: []NewNotification{note(id, test)}}
		}
		create := func(r *NotificationRequest) NotificationResult {
			t.Helper()
			res, err := s.CreateNotifications(ctx, []*NotificationRequest{r})
			if err != nil {
				t.Fatal(err)
			}
			return res[0]
		}
		// Test first, then live: the live request is new.
		if res := create(req("t1", true, "h", `{"test":true}`)); res.Replayed || res.Err != nil {
			t.Fatalf("test request: %+v", res)
		}
		if res := create(req("l1", false, "h", `{"test":false}`)); res.Replayed || res.Err != nil || len(res.Events) != 1 {
			t.Fatalf("live request after a test one with the same key: got %+v, want a new request", res)
		}
		if _, err := s.Notification(ctx, "l1"); err != nil {
			t.Fatalf("live notification not created: %v", err)
		}
		// Each scope replays its own response.
		if res := create(req("t2", true, "h", `{}`)); !res.Replayed || string(res.Response) != `{"test":true}` {
			t.Errorf("test replay: got %+v (%s), want the test response", res, res.Response)
		}
		if res := create(req("l2", false, "h", `{}`)); !res.Replayed || string(res.Response) != `{"test":false}` {
			t.Errorf("live replay: got %+v (%s), want the live response", res, res.Response)
		}
		for _, c := range []struct {
			test bool
			want string
		}{{true, `{"test":true}`}, {false, `{"test":false}`}} {
			if _, _, body, err := s.Idempotency(ctx, "motcua", c.test, "event:ev-1"); err != nil || string(body) != c.want {
				t.Errorf("Idempotency(test=%v): %s, %v; want %s", c.test, body, err, c.want)
			}
		}
		if _, _, _, err := s.Idempotency(ctx, "motcua", true, "event:ev-2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown key: %v", err)
		}
		// Mixed requests are refused: a test key's notification in a
		// live request would escape its scope.
		mixed := req("m1", false, "h", `{}`)
		mixed.IdempotencyKey = "event:ev-3"
		mixed.Notifications = append(mixed.Notifications, note("m2", true))
		if res := create(mixed); !errors.Is(res.Err, ErrInvalid) {
			t.Errorf("mixed request: got %+v, want ErrInvalid", res)
		}
		// Both scopes are purged.
		if n, err := s.PurgeIdempotency(ctx, time.Now().Add(time.Minute), 10); err != nil || n != 2 {
			t.Errorf("purge: %d, %v; want 2", n, err)
		}
	})
}

// Migration 10 puts the records kept from before in the scope of the key
// that made them, read from the stored response.
func TestMigrationIdempotencyScopes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		var m10 *sqldb.Migration
		ms := sqldb.Migrations()
		for i := range ms {
			if ms[i].Version == 10 {
				m10 = &ms[i]
			}
		}
		if m10 == nil {
			t.Fatal("no migration 10")
		}
		// The table as migrations 2 and 6 left it, with records of both kinds.
		for _, q := range []string{
			"DROP TABLE idempotency_keys",
			`CREATE TABLE idempotency_keys (service TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL,
				status_code INTEGER NOT NULL, response ` + s.dialect.Blob + ` NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (service, idem_key))`,
			"CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at)",
		} {
			if _, err := s.w().Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		old := []struct {
			key, body string
			test      bool
		}{
			{"event:live", `{"dossier_code":"HS-1","notifications":[{"id":"a","reference":"","channel":"email","status":"created","test":false,"body":"\"test\":true in a value"}]}`, false},
			{"event:test", `{"dossier_code":"HS-1","notifications":[{"id":"b","channel":"email","status":"created","test":true}]}`, true},
			{"header:k", `{"id":"c","channel":"sms","status":"created","test":true,"body":"x"}`, true},
			{"header:l", `{"id":"d","channel":"sms","status":"created","test":false,"body":"x"}`, false},
		}
		for i, o := range old {
			if _, err := s.w().Exec(ctx, "INSERT INTO idempotency_keys (service, idem_key, request_hash, status_code, response, created_at) VALUES (?, ?, ?, 201, ?, ?)",
				"motcua", o.key, "h"+strconv.Itoa(i), []byte(o.body), i+1); err != nil {
				t.Fatal(err)
			}
		}
		// Applied as migrate does: every statement in one transaction.
		text := strings.NewReplacer("{{ID}}", s.dialect.ID, "{{BLOB}}", s.dialect.Blob).Replace(m10.SQL)
		err := s.db.WriteTx(ctx, func(tx dbtx) error {
			for _, stmt := range sqldb.SplitSQL(text) {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration 10: %v in %q", err, stmt)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range old {
			h, _, body, err := s.Idempotency(ctx, "motcua", o.test, o.key)
			if err != nil || h != "h"+strconv.Itoa(i) || string(body) != o.body {
				t.Errorf("%s: in scope test=%v got %q %q %v", o.key, o.test, h, body, err)
			}
			if _, _, _, err := s.Idempotency(ctx, "motcua", !o.test, o.key); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: also found in scope test=%v: %v", o.key, !o.test, err)
			}
		}
		// The index on created_at is back: purge works, oldest first.
		if n, err := s.PurgeIdempotency(ctx, time.UnixMicro(3), 10); err != nil || n != 2 {
			t.Errorf("purge after migration: %d, %v; want 2", n, err)
		}
	})
}
