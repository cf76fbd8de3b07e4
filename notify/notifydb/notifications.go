package notifydb

// Notifications: API services and keys, notifications with their
// rendered content, status events with a monotonic cursor, callbacks still
// to deliver and idempotency records. The HTTP API (package httpapi) writes
// them; the dispatcher reports delivery results with SetNotificationStatusEvent.
//
// Cursor order. Every status event is a row of notification_events whose
// id is the cursor of GET /v1/events and of callbacks. A reader that has
// seen cursor N must never later find a new event with a cursor <= N. On
// SQLite that holds by itself: there is one writer, and ids are assigned in
// commit order. On PostgreSQL an identity value is taken at INSERT time, and
// two transactions may commit in the other order, so every transaction that
// inserts events first takes a transaction-scoped advisory lock
// (eventsLockKey) and holds it to its commit: events are then inserted and
// committed in one order across all nodes. The cost is that status writes
// are serialized on PostgreSQL; they are short (a few rows), and
// CreateNotifications takes the lock once per batch.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"congthu/internal/sqldb"
)

// Notification statuses, as in GOV.UK Notify. created → sending →
// delivered | permanent-failure | temporary-failure | technical-failure;
// the last four are final and never change, except that a bounce arriving
// after the remote server's 250 turns delivered into permanent-failure
// (RecordBounce).
const (
	NotificationCreated          = "created"
	NotificationSending          = "sending"
	NotificationDelivered        = "delivered"
	NotificationPermanentFailure = "permanent-failure"
	NotificationTemporaryFailure = "temporary-failure"
	NotificationTechnicalFailure = "technical-failure"
	// A reminder waits scheduled until its time (ScheduledFor), when it
	// becomes created and is sent like any other; cancelled is final:
	// it was never sent (a later event or DELETE cancelled it).
	NotificationScheduled = "scheduled"
	NotificationCancelled = "cancelled"
)

// NotificationStatusFinal reports whether status is final (never changes).
func NotificationStatusFinal(status string) bool {
	switch status {
	case NotificationDelivered, NotificationPermanentFailure, NotificationTemporaryFailure, NotificationTechnicalFailure, NotificationCancelled:
		return true
	}
	return false
}

// validNotificationStatus reports whether status is one of the eight.
func validNotificationStatus(status string) bool {
	return status == NotificationCreated || status == NotificationSending || status == NotificationScheduled || NotificationStatusFinal(status)
}

// Callback delivery states.
const (
	CallbackPending = "pending"
	CallbackDone    = "done"
	CallbackFailed  = "failed" // gave up (24 h of retries)
)

// eventsLockKey is the PostgreSQL advisory lock held by every transaction
// that inserts notification events (see the cursor order note above).
const eventsLockKey = 0x636f6e6774687545 // "congthuE"

// APIService is a calling service (a back office) with its callback.
type APIService struct {
	Name           string
	CallbackURL    string // "" when no callback is registered
	CallbackSecret string // HMAC-SHA256 key for callback signatures
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// APIKey is one API key of a service. The key itself is never stored: only
// its SHA-256 (KeyHash, hex).
type APIKey struct {
	ID        int64
	Service   string
	KeyHash   string
	Hint      string // the first characters of the key, for listings
	Test      bool   // a test key: nothing leaves the gateway
	Admin     bool   // reads every service's usage, not only its own
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key is valid
}

// Notification is one message to one recipient on one channel.
type Notification struct {
	ID              string // UUIDv7: ordering by ID is ordering by creation
	Service         string
	Test            bool
	Channel         string // "email", "sms" or "zalo"
	TemplateID      string
	TemplateVersion int
	Recipient       string // email address, or E.164 phone number
	Reference       string // the caller's reference
	DossierCode     string // for dossier events
	EventID         string // the dossier event's event_id
	DossierStatus   string // the dossier event's status
	Subject         string // email
	Text            string // email text/plain; SMS text before folding
	HTML            string // email
	SMSText         string // SMS text as sent
	SMSEncoding     string // "GSM-7" or "UCS-2"
	SMSParts        int
	Urgent          bool // SMS: bypasses quiet hours
	Status          string
	StatusDetail    string
	OutboxID        int64 // live email: the outbox entry carrying it
	// Email: what the message is composed from besides the rendered
	// template, when it is delivered (see NewNotification).
	FromAddress string // the sender, on one of our domains
	FromName    string // the sender's display name (the agency)
	ToName      string // the recipient's display name
	ReplyTo     string // the handling unit's mailbox ("" for none)
	// Zalo: the ZNS template and its parameters as sent (a JSON object of
	// strings).
	ZNSTemplateID string
	ZNSData       string
	// PriceVND is what sending it cost in đồng, recorded when it was
	// sent (0 before, and for email).
	PriceVND int64
	// ScheduledFor is when a scheduled notification (a reminder) is due;
	// zero for the others.
	ScheduledFor time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	SentAt       time.Time // when it became sending (zero before)
	CompletedAt  time.Time // when it reached a final status
}

// NotificationEvent is one status a notification took. ID is the monotonic
// cursor. Channel, Reference, DossierCode and Test are copied from the
// notification when read.
type NotificationEvent struct {
	ID             int64
	NotificationID string
	Service        string
	Status         string
	Detail         string
	At             time.Time // when the status happened
	CreatedAt      time.Time // when it was recorded

	Channel     string
	Reference   string
	DossierCode string
	Test        bool
	// NotificationCreatedAt is when the notification was created (set by
	// the methods that create events, for delivery latency metrics).
	NotificationCreatedAt time.Time
	// Callback is set on events returned by the methods that create
	// them when a callback was queued for the event (the service has a
	// callback URL): the caller should enqueue its job.
	Callback bool
}

// NewNotification is a notification to create. For a live (not test)
// email, Raw is the composed message and MailFrom its envelope sender: an
// outbox entry is created for it in the same transaction.
//
// A live email (not Test) with a MailFrom gets an outbox entry, whose
// message is composed when the dispatcher delivers it (from the rendered
// content and the From/To/Reply-To fields; see dispatcher.Tracker), as
// GOV.UK Notify's workers do: the request stores the content once, and
// every attempt is composed and DKIM-signed afresh. MailFrom is the
// envelope sender, per notification so that a bounce maps back to it.
type NewNotification struct {
	Notification
	MailFrom string
	// Fallback, on a dossier event's email, is the event's SMS variant,
	// sent if the email fails permanently (see sms.go).
	Fallback *SMSFallback
}

// NotificationRequest is one API request that creates notifications: all
// of them, their first status events and the idempotency record commit
// together or not at all.
type NotificationRequest struct {
	Service string
	// Test: the request was made with a test key. Its notifications must
	// all be Test, and its idempotency key is in the service's test
	// scope: test and live keys of a service never see each other's
	// records (a live request is never a replay of a test one, nor the
	// other way round).
	Test bool
	// IdempotencyKey, when set, makes the request idempotent per service
	// and scope (test or live): RequestHash identifies the request body,
	// Status and Response are the response to replay.
	IdempotencyKey string
	RequestHash    string
	Status         int
	Response       []byte
	Notifications  []NewNotification
	// CancelScheduled, when set, cancels the service's scheduled
	// notifications of that dossier (its reminders) in the same
	// transaction, before the new ones are made, with CancelReason as
	// their status detail.
	CancelScheduled, CancelReason string
}

// NotificationResult is the outcome of one NotificationRequest.
type NotificationResult struct {
	// Replayed: the idempotency key was already used; nothing was
	// created, and RequestHash, Status and Response are the stored ones.
	Replayed    bool
	RequestHash string
	Status      int
	Response    []byte
	// Events are the "created" events of the new notifications.
	Events []NotificationEvent
	// OutboxIDs are the outbox entries created (live emails).
	OutboxIDs []int64
	// Err is this request's own failure (nothing of it was written).
	Err error
}

// AddAPIKey stores a new key (its SHA-256 hash) for service, creating the
// service if it does not exist. ErrExists if the hash is already stored.
func (s *Store) AddAPIKey(ctx context.Context, service, keyHash, hint string, test bool) (*APIKey, error) {
	return s.AddAPIKeyAs(ctx, service, keyHash, hint, test, false)
}

// AddAPIKeyAs is AddAPIKey for an admin key too: one that reads every
// service's usage.
func (s *Store) AddAPIKeyAs(ctx context.Context, service, keyHash, hint string, test, admin bool) (*APIKey, error) {
	service = strings.TrimSpace(service)
	if service == "" || len(service) > 100 || keyHash == "" {
		return nil, fmt.Errorf("notifydb: api key: empty service or hash: %w", ErrInvalid)
	}
	k := &APIKey{Service: service, KeyHash: keyHash, Hint: hint, Test: test, Admin: admin, CreatedAt: time.Now()}
	err := s.writeTx(ctx, func(tx dbtx) error {
		if err := ensureService(ctx, tx, service, k.CreatedAt); err != nil {
			return err
		}
		err := tx.Row(ctx, "INSERT INTO api_keys (service, key_hash, hint, test, admin, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
			service, keyHash, hint, boolInt(test), boolInt(admin), sqldb.Micro(k.CreatedAt)).Scan(&k.ID)
		if sqldb.IsUniqueViolation(err) {
			return fmt.Errorf("notifydb: api key: %w", ErrExists)
		}
		if err != nil {
			return fmt.Errorf("notifydb: add api key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func ensureService(ctx context.Context, tx dbtx, name string, now time.Time) error {
	if _, err := tx.Exec(ctx, "INSERT INTO api_services (name, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
		name, sqldb.Micro(now), sqldb.Micro(now)); err != nil {
		return fmt.Errorf("notifydb: add service %s: %w", name, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const apiKeyColumns = "id, service, key_hash, hint, test, admin, created_at, revoked_at"

func scanAPIKey(sc interface{ Scan(...any) error }) (*APIKey, error) {
	var k APIKey
	var test, admin int
	var created, revoked int64
	if err := sc.Scan(&k.ID, &k.Service, &k.KeyHash, &k.Hint, &test, &admin, &created, &revoked); err != nil {
		return nil, err
	}
	k.Test, k.Admin, k.CreatedAt, k.RevokedAt = test != 0, admin != 0, sqldb.FromMicro(created), sqldb.FromMicro(revoked)
	return &k, nil
}

// APIKeyByHash finds a key by its SHA-256 hash (revoked keys included:
// the caller tells 401 from 403). ErrNotFound.
func (s *Store) APIKeyByHash(ctx context.Context, keyHash string) (*APIKey, error) {
	k, err := scanAPIKey(s.r().Row(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE key_hash = ?", keyHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: api key: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("notifydb: api key: %w", err)
	}
	return k, nil
}

// APIKeys lists the keys of service ("" for every service) by ID.
func (s *Store) APIKeys(ctx context.Context, service string) ([]APIKey, error) {
	rows, err := s.r().Query(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE ? = '' OR service = ? ORDER BY id", service, service)
	if err != nil {
		return nil, fmt.Errorf("notifydb: api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("notifydb: api keys: %w", err)
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes a key for good. Revoking a revoked key is a no-op.
// ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) error {
	res, err := s.w().Exec(ctx, "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?",
		sqldb.Micro(time.Now()), id)
	if err != nil {
		return fmt.Errorf("notifydb: revoke api key %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("notifydb: api key %d: %w", id, ErrNotFound)
	}
	return nil
}

// SetServiceCallback registers (or, with an empty url, removes) the
// callback of a service, creating the service if needed.
func (s *Store) SetServiceCallback(ctx context.Context, name, url, secret string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("notifydb: service: empty name: %w", ErrInvalid)
	}
	if url == "" {
		secret = ""
	}
	return s.writeTx(ctx, func(tx dbtx) error {
		now := time.Now()
		if err := ensureService(ctx, tx, name, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE api_services SET callback_url = ?, callback_secret = ?, updated_at = ? WHERE name = ?",
			url, secret, sqldb.Micro(now), name); err != nil {
			return fmt.Errorf("notifydb: set callback of %s: %w", name, err)
		}
		return nil
	})
}

const serviceColumns = "name, callback_url, callback_secret, created_at, updated_at"

func scanService(sc interface{ Scan(...any) error }) (*APIService, error) {
	var v APIService
	var c, u int64
	if err := sc.Scan(&v.Name, &v.CallbackURL, &v.CallbackSecret, &c, &u); err != nil {
		return nil, err
	}
	v.CreatedAt, v.UpdatedAt = sqldb.FromMicro(c), sqldb.FromMicro(u)
	return &v, nil
}

// APIService returns a service. ErrNotFound.
func (s *Store) APIService(ctx context.Context, name string) (*APIService, error) {
	v, err := scanService(s.r().Row(ctx, "SELECT "+serviceColumns+" FROM api_services WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: service %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("notifydb: service %s: %w", name, err)
	}
	return v, nil
}

// APIServices lists the services by name.
func (s *Store) APIServices(ctx context.Context) ([]APIService, error) {
	rows, err := s.r().Query(ctx, "SELECT "+serviceColumns+" FROM api_services ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("notifydb: services: %w", err)
	}
	defer rows.Close()
	var out []APIService
	for rows.Next() {
		v, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("notifydb: services: %w", err)
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// Idempotency returns the stored response for (service, key) in the
// service's test or live scope. ErrNotFound.
func (s *Store) Idempotency(ctx context.Context, service string, test bool, key string) (requestHash string, status int, response []byte, err error) {
	err = s.r().Row(ctx, "SELECT request_hash, status_code, response FROM idempotency_keys WHERE service = ? AND test = ? AND idem_key = ?",
		service, boolInt(test), key).Scan(&requestHash, &status, &response)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil, fmt.Errorf("notifydb: idempotency key: %w", ErrNotFound)
	}
	if err != nil {
		return "", 0, nil, fmt.Errorf("notifydb: idempotency key: %w", err)
	}
	return requestHash, status, response, nil
}

// PurgeIdempotency deletes up to limit of the oldest idempotency records
// created before t (their keys may then be used again for a new request)
// and returns how many it deleted. Callers repeat it while it deletes
// limit: each call is one short transaction, so API requests are not held
// up behind a large purge.
func (s *Store) PurgeIdempotency(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("notifydb: purge idempotency keys: limit %d: %w", limit, ErrInvalid)
	}
	res, err := s.w().Exec(ctx, `DELETE FROM idempotency_keys WHERE (service, test, idem_key) IN
		(SELECT service, test, idem_key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`, sqldb.Micro(before), limit)
	if err != nil {
		return 0, fmt.Errorf("notifydb: purge idempotency keys: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// CreateNotifications records the notifications of several independent
// requests in one transaction (one commit, one fsync: the caller batches
// concurrent API requests). For each request (in a savepoint of its own
// when one of them fails):
// the idempotency record (a key already used makes the result Replayed and
// writes nothing), the notifications with status created, their first
// status event, and for live emails a blob and an outbox entry linked to
// the notification. A request that fails alone gets Err and writes
// nothing; an error of the transaction as a whole is returned. After the
// commit the outbox's Added is called for each new outbox entry.
func (s *Store) CreateNotifications(ctx context.Context, reqs []*NotificationRequest) ([]NotificationResult, error) {
	results, err := s.createNotificationsNoSync(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if err := s.db.Durable(); err != nil {
		return nil, err
	}
	for _, r := range results {
		for _, id := range r.OutboxIDs {
			s.outbox.Added(id)
		}
	}
	return results, nil
}

// createNotificationsNoSync is CreateNotifications up to the commit: it
// neither waits for the WAL sync nor calls the outbox's Added.
func (s *Store) createNotificationsNoSync(ctx context.Context, reqs []*NotificationRequest) ([]NotificationResult, error) {
	var results []NotificationResult
	// Requests almost never fail alone, and a savepoint per request costs
	// two statements and a copy of every page it touches: the batch runs
	// without them first, and only if a request fails alone is the
	// transaction rolled back and run again with a savepoint per request.
	savepoints := false
	create := func(tx dbtx) error {
		results = make([]NotificationResult, len(reqs))
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		now := time.Now()
		services := map[string]bool{} // name -> has callback
		for i, r := range reqs {
			if savepoints {
				if _, err := tx.Exec(ctx, "SAVEPOINT n"); err != nil {
					return fmt.Errorf("notifydb: savepoint: %w", err)
				}
			}
			res, err := s.createOne(ctx, tx, r, now, services)
			if err != nil {
				failsAlone := !sqldb.IsTransient(err) && ctx.Err() == nil && (sqldb.IsUniqueViolation(err) || sqldb.IsForeignKeyViolation(err) || errors.Is(err, ErrInvalid))
				if !savepoints {
					if failsAlone {
						return errWithSavepoints
					}
					return err
				}
				if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT n"); rerr != nil {
					return fmt.Errorf("notifydb: rollback to savepoint: %w (after %w)", rerr, err)
				}
				if failsAlone {
					res = NotificationResult{Err: err}
					// A concurrent request with the same key
					// committed first: replay it.
					if r.IdempotencyKey != "" && sqldb.IsUniqueViolation(err) {
						var h string
						var st int
						var body []byte
						if e := tx.Row(ctx, "SELECT request_hash, status_code, response FROM idempotency_keys WHERE service = ? AND test = ? AND idem_key = ?",
							r.Service, boolInt(r.Test), r.IdempotencyKey).Scan(&h, &st, &body); e == nil {
							res = NotificationResult{Replayed: true, RequestHash: h, Status: st, Response: body}
						}
					}
				} else {
					return err
				}
			}
			if savepoints {
				if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT n"); err != nil {
					return fmt.Errorf("notifydb: release savepoint: %w", err)
				}
			}
			results[i] = res
		}
		return nil
	}
	err := s.writeTxNoSync(ctx, create)
	if errors.Is(err, errWithSavepoints) {
		savepoints = true
		err = s.writeTxNoSync(ctx, create)
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// errWithSavepoints aborts CreateNotifications's first, savepoint-free
// run of a batch in which a request fails alone.
var errWithSavepoints = errors.New("notifydb: a request failed alone: run the batch again with savepoints")

func (s *Store) lockEvents(ctx context.Context, tx dbtx) error {
	if !s.dialect.Dollar {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(?)", int64(eventsLockKey)); err != nil {
		return fmt.Errorf("notifydb: events lock: %w", err)
	}
	return nil
}

func (s *Store) createOne(ctx context.Context, tx dbtx, r *NotificationRequest, now time.Time, services map[string]bool) (NotificationResult, error) {
	var res NotificationResult
	if r.Service == "" {
		return res, fmt.Errorf("notifydb: notification without service: %w", ErrInvalid)
	}
	for i := range r.Notifications {
		if r.Notifications[i].Test != r.Test {
			return res, fmt.Errorf("notifydb: notification %q: test %v in a request with test %v: %w", r.Notifications[i].ID, r.Notifications[i].Test, r.Test, ErrInvalid)
		}
	}
	if r.IdempotencyKey != "" {
		ins, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (service, test, idem_key, request_hash, status_code, response, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (service, test, idem_key) DO NOTHING`,
			r.Service, boolInt(r.Test), r.IdempotencyKey, r.RequestHash, r.Status, r.Response, sqldb.Micro(now))
		if err != nil {
			return res, fmt.Errorf("notifydb: idempotency key: %w", err)
		}
		if n, _ := ins.RowsAffected(); n == 0 {
			var h string
			var st int
			var body []byte
			if err := tx.Row(ctx, "SELECT request_hash, status_code, response FROM idempotency_keys WHERE service = ? AND test = ? AND idem_key = ?",
				r.Service, boolInt(r.Test), r.IdempotencyKey).Scan(&h, &st, &body); err != nil {
				return res, fmt.Errorf("notifydb: idempotency key: %w", err)
			}
			return NotificationResult{Replayed: true, RequestHash: h, Status: st, Response: body}, nil
		}
	}
	hasCallback, ok := services[r.Service]
	if !ok {
		var url string
		err := tx.Row(ctx, "SELECT callback_url FROM api_services WHERE name = ?", r.Service).Scan(&url)
		if errors.Is(err, sql.ErrNoRows) {
			return res, fmt.Errorf("notifydb: service %s: %w", r.Service, ErrInvalid)
		} else if err != nil {
			return res, fmt.Errorf("notifydb: service %s: %w", r.Service, err)
		}
		hasCallback = url != ""
		services[r.Service] = hasCallback
	}
	_ = hasCallback // "created" events get no callback: the API response said it
	if r.CancelScheduled != "" {
		if err := s.cancelScheduled(ctx, tx, r.Service, r.CancelScheduled, r.CancelReason, now, &res); err != nil {
			return res, err
		}
	}
	for i := range r.Notifications {
		n := &r.Notifications[i]
		if n.ID == "" || (n.Channel != "email" && n.Channel != "sms" && n.Channel != "zalo") || n.Recipient == "" {
			return res, fmt.Errorf("notifydb: notification %q: missing id, channel or recipient: %w", n.ID, ErrInvalid)
		}
		at := n.CreatedAt
		if at.IsZero() {
			at = now
		}
		status := NotificationCreated
		if !n.ScheduledFor.IsZero() {
			status = NotificationScheduled // no outbox entry before its time: ReleaseDue makes it
		}
		var outboxID sql.NullInt64
		if n.Channel == "email" && n.MailFrom != "" && !n.Test && status == NotificationCreated {
			// The message is composed when delivered.
			var err error
			outboxID.Valid = true
			if outboxID.Int64, err = s.outbox.AddTx(ctx, tx, n.MailFrom, n.Recipient, now); err != nil {
				return res, err
			}
			res.OutboxIDs = append(res.OutboxIDs, outboxID.Int64)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notifications (id, service, test, channel, template_id, template_version, recipient,
			reference, dossier_code, event_id, dossier_status, subject, body_text, body_html, sms_text, sms_encoding, sms_parts,
			urgent, status, status_detail, outbox_id, created_at, updated_at, email_from, email_from_name, to_name, reply_to,
			zns_template_id, zns_data, scheduled_for)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.ID, r.Service, boolInt(n.Test), n.Channel, n.TemplateID, n.TemplateVersion, n.Recipient,
			n.Reference, n.DossierCode, n.EventID, n.DossierStatus, n.Subject, n.Text, n.HTML, n.SMSText, n.SMSEncoding, n.SMSParts,
			boolInt(n.Urgent), status, n.StatusDetail, outboxID, sqldb.Micro(at), sqldb.Micro(at), n.FromAddress, n.FromName, n.ToName, n.ReplyTo,
			n.ZNSTemplateID, n.ZNSData, sqldb.Micro(n.ScheduledFor)); err != nil {
			return res, fmt.Errorf("notifydb: insert notification: %w", err)
		}
		if n.Fallback != nil {
			if err := insertFallback(ctx, tx, n.ID, n.Fallback, now); err != nil {
				return res, err
			}
		}
		ev := NotificationEvent{NotificationID: n.ID, Service: r.Service, Status: status, Detail: n.StatusDetail, At: at, CreatedAt: now,
			Channel: n.Channel, Reference: n.Reference, DossierCode: n.DossierCode, Test: n.Test, NotificationCreatedAt: at}
		var err error
		if ev.ID, err = tx.InsertID(ctx, "INSERT INTO notification_events (notification_id, service, status, detail, at, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
			n.ID, r.Service, status, n.StatusDetail, sqldb.Micro(at), sqldb.Micro(now)); err != nil {
			return res, fmt.Errorf("notifydb: insert notification event: %w", err)
		}
		res.Events = append(res.Events, ev)
	}
	res.RequestHash, res.Status, res.Response = r.RequestHash, r.Status, r.Response
	return res, nil
}

// SetNotificationStatusEvent records a status change: the notification's
// status, its timestamps, and a new status event (with a callback to
// deliver when the service has a callback URL), which it returns so the
// caller can enqueue its callback when ev.Callback is set. It is
// idempotent: the same status again, a change out of a final status, or
// back from sending to created changes nothing and returns a nil event. at
// is when the status happened (zero: now). ErrNotFound; ErrInvalid for an
// unknown status.
func (s *Store) SetNotificationStatusEvent(ctx context.Context, id, status, detail string, at time.Time) (*NotificationEvent, error) {
	if !validNotificationStatus(status) {
		return nil, fmt.Errorf("notifydb: notification status %q: %w", status, ErrInvalid)
	}
	detail = statusDetail(detail)
	// Concurrent changes (every worker of the dispatcher and the SMS
	// channel reports sending and a final status) share transactions.
	return s.statusBatch.Do(ctx, statusReq{id, status, detail, at})
}

// statusDetail is detail as a status event stores it: at most 1,000 bytes,
// valid UTF-8.
func statusDetail(detail string) string {
	if len(detail) > 1000 {
		detail = detail[:1000]
	}
	return strings.ToValidUTF8(detail, "?")
}

type statusReq struct {
	id, status, detail string
	at                 time.Time
}

// setStatuses is the statusBatch's transaction: each change in turn, as
// SetNotificationStatusEvent alone would make it. A missing notification
// fails alone (setStatus has written nothing when it says so).
func (s *Store) setStatuses(ctx context.Context, reqs []statusReq) ([]*NotificationEvent, []error, error) {
	var evs []*NotificationEvent
	var errs []error
	err := s.writeTxNoSync(ctx, func(tx dbtx) error {
		if err := s.lockEvents(ctx, tx); err != nil {
			return err
		}
		evs = make([]*NotificationEvent, len(reqs))
		errs = make([]error, len(reqs))
		for i, r := range reqs {
			ev, err := s.setStatus(ctx, tx, r.id, r.status, r.detail, r.at)
			if errors.Is(err, ErrNotFound) {
				errs[i] = err
				continue
			}
			if err != nil {
				return err
			}
			evs[i] = ev
		}
		return nil
	})
	return evs, errs, err
}

// CreateNotification is CreateNotifications for one request, group
// committed with the concurrent calls of other goroutines (the API's
// requests): one transaction and one WAL sync for all of them.
func (s *Store) CreateNotification(ctx context.Context, req *NotificationRequest) (NotificationResult, error) {
	return s.createBatch.Do(ctx, req)
}

// CreateNotificationCommitted is CreateNotification returning at the
// commit, with a function that returns once the commit is durable (and
// the outbox's Added was called): the caller may queue jobs for the committed
// rows meanwhile, but acknowledges nothing before durable returned nil.
func (s *Store) CreateNotificationCommitted(ctx context.Context, req *NotificationRequest) (res NotificationResult, durable func() error, err error) {
	return s.createBatch.DoCommitted(ctx, req)
}

// CreateBatches returns how many group commits CreateNotification made
// and how many requests they stored (for metrics).
func (s *Store) CreateBatches() (batches, requests int64) {
	return s.createBatch.Stats()
}

// SMSBatches reports the SMS channel's group commit: transactions and the
// writes they carried, for benchmarks and diagnostics.
func (s *Store) SMSBatches() (batches, writes int64) {
	return s.smsBatch.Stats()
}

// createNotifications is the createBatch's transaction (the batcher waits
// for durability and calls the outbox's Added).
func (s *Store) createNotifications(ctx context.Context, reqs []*NotificationRequest) ([]NotificationResult, []error, error) {
	res, err := s.createNotificationsNoSync(ctx, reqs)
	if err != nil {
		return nil, nil, err
	}
	return res, make([]error, len(reqs)), nil
}

func (s *Store) setStatus(ctx context.Context, tx dbtx, id, status, detail string, at time.Time) (*NotificationEvent, error) {
	return s.setStatusAfter(ctx, tx, id, status, detail, at, false)
}

// setStatusAfter is setStatus; afterDelivery also lets a delivered
// notification become permanent-failure (a bounce after the remote 250,
// bounce.go).
func (s *Store) setStatusAfter(ctx context.Context, tx dbtx, id, status, detail string, at time.Time, afterDelivery bool) (*NotificationEvent, error) {
	now := time.Now()
	if at.IsZero() {
		at = now
	}
	var ev NotificationEvent
	var cur, url string
	var test int
	var created int64
	err := tx.Row(ctx, `SELECT n.status, n.service, n.channel, n.reference, n.dossier_code, n.test, n.created_at, s.callback_url
		FROM notifications n JOIN api_services s ON s.name = n.service WHERE n.id = ?`+s.dialect.ForUpdateOf("n"), id).
		Scan(&cur, &ev.Service, &ev.Channel, &ev.Reference, &ev.DossierCode, &test, &created, &url)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: notification %s: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("notifydb: notification %s: %w", id, err)
	}
	bounced := afterDelivery && cur == NotificationDelivered && status == NotificationPermanentFailure
	if cur == status || (NotificationStatusFinal(cur) && !bounced) || status == NotificationCreated {
		return nil, nil
	}
	set := "status = ?, status_detail = ?, updated_at = ?"
	args := []any{status, detail, sqldb.Micro(now)}
	switch status {
	case NotificationSending:
		set += ", sent_at = ?"
		args = append(args, sqldb.Micro(at))
	case NotificationCancelled:
		set += ", completed_at = ?"
		args = append(args, sqldb.Micro(at))
	default:
		set += ", completed_at = ?, sent_at = CASE WHEN sent_at = 0 THEN ? ELSE sent_at END"
		args = append(args, sqldb.Micro(at), sqldb.Micro(at))
	}
	if _, err := tx.Exec(ctx, "UPDATE notifications SET "+set+" WHERE id = ?", append(args, id)...); err != nil {
		return nil, fmt.Errorf("notifydb: update notification %s: %w", id, err)
	}
	ev.NotificationID, ev.Status, ev.Detail, ev.At, ev.CreatedAt, ev.Test = id, status, detail, at, now, test != 0
	ev.NotificationCreatedAt = sqldb.FromMicro(created)
	if ev.ID, err = tx.InsertID(ctx, "INSERT INTO notification_events (notification_id, service, status, detail, at, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		id, ev.Service, status, detail, sqldb.Micro(at), sqldb.Micro(now)); err != nil {
		return nil, fmt.Errorf("notifydb: insert notification event: %w", err)
	}
	if url != "" {
		if _, err := tx.Exec(ctx, "INSERT INTO notification_callbacks (event_id, next_attempt_at, updated_at) VALUES (?, ?, ?)",
			ev.ID, sqldb.Micro(now), sqldb.Micro(now)); err != nil {
			return nil, fmt.Errorf("notifydb: insert callback: %w", err)
		}
		ev.Callback = true
	}
	return &ev, nil
}

// ExpireNotifications gives up on notifications still created or sending
// maxAge after their creation (72 h in production): each becomes
// temporary-failure at now. It handles up to limit of them (0: 1000) and
// returns their new events.
func (s *Store) ExpireNotifications(ctx context.Context, now time.Time, maxAge time.Duration, limit int) ([]NotificationEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	// A reminder counts from its time, not from the event that made it.
	rows, err := s.r().Query(ctx, "SELECT id FROM notifications WHERE status IN ('created', 'sending') AND created_at <= ? AND scheduled_for <= ? ORDER BY created_at LIMIT ?",
		sqldb.Micro(now.Add(-maxAge)), sqldb.Micro(now.Add(-maxAge)), limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: expire notifications: %w", err)
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: expire notifications: %w", err)
	}
	var out []NotificationEvent
	for _, id := range ids {
		ev, err := s.SetNotificationStatusEvent(ctx, id, NotificationTemporaryFailure, "still not delivered "+maxAge.String()+" after creation", now)
		if err != nil {
			return out, err
		}
		if ev != nil {
			out = append(out, *ev)
		}
	}
	return out, nil
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const notificationColumns = `id, service, test, channel, template_id, template_version, recipient, reference, dossier_code,
	event_id, dossier_status, subject, body_text, body_html, sms_text, sms_encoding, sms_parts, urgent, status, status_detail,
	outbox_id, created_at, updated_at, sent_at, completed_at, email_from, email_from_name, to_name, reply_to,
	zns_template_id, zns_data, price_vnd, scheduled_for`

func scanNotification(sc interface{ Scan(...any) error }) (*Notification, error) {
	var n Notification
	var test, urgent int
	var outbox sql.NullInt64
	var c, u, sent, done, sched int64
	if err := sc.Scan(&n.ID, &n.Service, &test, &n.Channel, &n.TemplateID, &n.TemplateVersion, &n.Recipient, &n.Reference,
		&n.DossierCode, &n.EventID, &n.DossierStatus, &n.Subject, &n.Text, &n.HTML, &n.SMSText, &n.SMSEncoding, &n.SMSParts,
		&urgent, &n.Status, &n.StatusDetail, &outbox, &c, &u, &sent, &done, &n.FromAddress, &n.FromName, &n.ToName, &n.ReplyTo,
		&n.ZNSTemplateID, &n.ZNSData, &n.PriceVND, &sched); err != nil {
		return nil, err
	}
	n.ScheduledFor = sqldb.FromMicro(sched)
	n.Test, n.Urgent, n.OutboxID = test != 0, urgent != 0, outbox.Int64
	n.CreatedAt, n.UpdatedAt, n.SentAt, n.CompletedAt = sqldb.FromMicro(c), sqldb.FromMicro(u), sqldb.FromMicro(sent), sqldb.FromMicro(done)
	return &n, nil
}

// Notification returns a notification. ErrNotFound.
func (s *Store) Notification(ctx context.Context, id string) (*Notification, error) {
	n, err := scanNotification(s.r().Row(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: notification %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("notifydb: notification %s: %w", id, err)
	}
	return n, nil
}

// NotificationByOutbox returns the notification that owns an outbox entry
// (an email notification's). ErrNotFound for ordinary mail.
func (s *Store) NotificationByOutbox(ctx context.Context, outboxID int64) (*Notification, error) {
	n, err := scanNotification(s.r().Row(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE outbox_id = ?", outboxID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: notification of outbox %d: %w", outboxID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("notifydb: notification of outbox %d: %w", outboxID, err)
	}
	return n, nil
}

// notificationIDByOutbox returns the ID of the notification an outbox
// entry carries; ErrNotFound for ordinary mail.
func (s *Store) notificationIDByOutbox(ctx context.Context, outboxID int64) (string, error) {
	var id string
	err := s.r().Row(ctx, "SELECT id FROM notifications WHERE outbox_id = ?", outboxID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("notifydb: notification of outbox %d: %w", outboxID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("notifydb: notification of outbox %d: %w", outboxID, err)
	}
	return id, nil
}

// NotificationFilter selects notifications of one service.
type NotificationFilter struct {
	Service     string // required
	Reference   string
	Status      string
	DossierCode string
	OlderThan   string // a notification ID: only older ones (the page cursor)
	TestOnly    bool   // only notifications made with test keys
	LiveOnly    bool   // only notifications made with live keys
	Limit       int    // default 50, at most 250
}

// Notifications lists a service's notifications, newest first.
func (s *Store) Notifications(ctx context.Context, f NotificationFilter) ([]Notification, error) {
	if f.Limit <= 0 || f.Limit > 250 {
		f.Limit = 50
	}
	q := "SELECT " + notificationColumns + " FROM notifications WHERE service = ?"
	args := []any{f.Service}
	if f.Reference != "" {
		q += " AND reference = ?"
		args = append(args, f.Reference)
	}
	if f.Status != "" {
		q += " AND status = ?"
		args = append(args, f.Status)
	}
	if f.DossierCode != "" {
		q += " AND dossier_code = ?"
		args = append(args, f.DossierCode)
	}
	if f.TestOnly {
		q += " AND test = 1"
	}
	if f.LiveOnly {
		q += " AND test = 0"
	}
	if f.OlderThan != "" {
		q += " AND id < ?"
		args = append(args, f.OlderThan)
	}
	q += " ORDER BY id DESC LIMIT ?"
	rows, err := s.r().Query(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("notifydb: notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("notifydb: notifications: %w", err)
		}
		out = append(out, *n)
	}
	return out, rows.Err()
}

const eventColumns = `e.id, e.notification_id, e.service, e.status, e.detail, e.at, e.created_at, n.channel, n.reference, n.dossier_code, n.test`

func scanEvents(rows *sql.Rows) ([]NotificationEvent, error) {
	defer rows.Close()
	var out []NotificationEvent
	for rows.Next() {
		var e NotificationEvent
		var at, c int64
		var test int
		if err := rows.Scan(&e.ID, &e.NotificationID, &e.Service, &e.Status, &e.Detail, &at, &c, &e.Channel, &e.Reference, &e.DossierCode, &test); err != nil {
			return nil, err
		}
		e.At, e.CreatedAt, e.Test = sqldb.FromMicro(at), sqldb.FromMicro(c), test != 0
		out = append(out, e)
	}
	return out, rows.Err()
}

// NotificationEvents returns a notification's status events, oldest first.
func (s *Store) NotificationEvents(ctx context.Context, id string) ([]NotificationEvent, error) {
	rows, err := s.r().Query(ctx, "SELECT "+eventColumns+" FROM notification_events e JOIN notifications n ON n.id = e.notification_id WHERE e.notification_id = ? ORDER BY e.id", id)
	if err != nil {
		return nil, fmt.Errorf("notifydb: notification events: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: notification events: %w", err)
	}
	return evs, nil
}

// EventsAfterFor returns up to limit (default 100, at most 1000) status
// events of the notifications of a service's test keys (test true) or live
// keys with a cursor above after, in cursor order.
func (s *Store) EventsAfterFor(ctx context.Context, service string, test bool, after int64, limit int) ([]NotificationEvent, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.r().Query(ctx, "SELECT "+eventColumns+" FROM notification_events e JOIN notifications n ON n.id = e.notification_id WHERE e.service = ? AND e.id > ? AND n.test = ? ORDER BY e.id LIMIT ?",
		service, after, boolInt(test), limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: events: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: events: %w", err)
	}
	return evs, nil
}

// NotificationEvent returns one status event. ErrNotFound.
func (s *Store) NotificationEvent(ctx context.Context, id int64) (*NotificationEvent, error) {
	rows, err := s.r().Query(ctx, "SELECT "+eventColumns+" FROM notification_events e JOIN notifications n ON n.id = e.notification_id WHERE e.id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("notifydb: event %d: %w", id, err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: event %d: %w", id, err)
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("notifydb: event %d: %w", id, ErrNotFound)
	}
	return &evs[0], nil
}

// PendingNotifications lists IDs of notifications still created or
// sending, created at or before before, with the given test flag and
// channel ("" for both), in ID order after the ID after (for the queue
// sweeper).
func (s *Store) PendingNotifications(ctx context.Context, test bool, channel string, before time.Time, after string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.r().Query(ctx, `SELECT id FROM notifications WHERE status IN ('created', 'sending') AND test = ?
		AND (? = '' OR channel = ?) AND created_at <= ? AND id > ? ORDER BY id LIMIT ?`,
		boolInt(test), channel, channel, sqldb.Micro(before), after, limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: pending notifications: %w", err)
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("notifydb: pending notifications: %w", err)
	}
	return ids, nil
}

// Callback is the delivery state of one event's callback.
type Callback struct {
	EventID     int64
	State       string
	Attempts    int
	NextAttempt time.Time
	LastError   string
}

// Callback returns the callback state of an event. ErrNotFound.
func (s *Store) Callback(ctx context.Context, eventID int64) (*Callback, error) {
	c := Callback{EventID: eventID}
	var next int64
	err := s.r().Row(ctx, "SELECT state, attempts, next_attempt_at, last_error FROM notification_callbacks WHERE event_id = ?", eventID).
		Scan(&c.State, &c.Attempts, &next, &c.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notifydb: callback %d: %w", eventID, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("notifydb: callback %d: %w", eventID, err)
	}
	c.NextAttempt = sqldb.FromMicro(next)
	return &c, nil
}

// UpdateCallback records one delivery attempt of a callback: its new
// state (CallbackPending to try again at next) and the error text.
// ErrNotFound.
func (s *Store) UpdateCallback(ctx context.Context, eventID int64, state string, next time.Time, lastError string) error {
	switch state {
	case CallbackPending, CallbackDone, CallbackFailed:
	default:
		return fmt.Errorf("notifydb: callback state %q: %w", state, ErrInvalid)
	}
	if len(lastError) > 1000 {
		lastError = lastError[:1000]
	}
	res, err := s.w().Exec(ctx, `UPDATE notification_callbacks SET state = ?, next_attempt_at = ?, last_error = ?,
		attempts = attempts + 1, updated_at = ? WHERE event_id = ?`, state, sqldb.Micro(next), strings.ToValidUTF8(lastError, "?"), sqldb.Micro(time.Now()), eventID)
	if err != nil {
		return fmt.Errorf("notifydb: update callback %d: %w", eventID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("notifydb: callback %d: %w", eventID, ErrNotFound)
	}
	return nil
}

// CallbacksDue lists event IDs of pending callbacks due at or before
// before, in event ID order after the ID after (for the queue sweeper).
func (s *Store) CallbacksDue(ctx context.Context, before time.Time, after int64, limit int) ([]int64, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.r().Query(ctx, "SELECT event_id FROM notification_callbacks WHERE state = 'pending' AND next_attempt_at <= ? AND event_id > ? ORDER BY event_id LIMIT ?",
		sqldb.Micro(before), after, limit)
	if err != nil {
		return nil, fmt.Errorf("notifydb: callbacks due: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("notifydb: callbacks due: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// NotificationCount is the number of notifications on one channel in one
// status.
type NotificationCount struct {
	Channel, Status string
	Count           int64
}

// PendingNotificationCounts counts the notifications not yet in a final
// status (created, sending) by channel and status, for metrics. It reads
// only the notifications_pending index's rows, however large the table.
func (s *Store) PendingNotificationCounts(ctx context.Context) ([]NotificationCount, error) {
	return s.notificationCounts(ctx, "SELECT channel, status, COUNT(*) FROM notifications WHERE status IN ('created', 'sending') GROUP BY channel, status ORDER BY channel, status")
}

// NotificationCounts counts all notifications by channel and status. It
// reads the whole table: for tests and tools, not for every scrape.
func (s *Store) NotificationCounts(ctx context.Context) ([]NotificationCount, error) {
	return s.notificationCounts(ctx, "SELECT channel, status, COUNT(*) FROM notifications GROUP BY channel, status ORDER BY channel, status")
}

func (s *Store) notificationCounts(ctx context.Context, query string) ([]NotificationCount, error) {
	rows, err := s.r().Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("notifydb: notification counts: %w", err)
	}
	defer rows.Close()
	var out []NotificationCount
	for rows.Next() {
		var c NotificationCount
		if err := rows.Scan(&c.Channel, &c.Status, &c.Count); err != nil {
			return nil, fmt.Errorf("notifydb: notification counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
