// Package notifydb is the notification store: the API's services and keys,
// idempotency records, notifications with their rendered content, their
// status events (the cursor of GET /v1/events and of callbacks), the
// callbacks still to deliver, the sending state and receipts of live SMS,
// and the SMS fallbacks of dossier events' emails.
//
// It lives in the mail store's database (one database, so a live email's
// notification and its outbox entry commit together): New takes the mail
// store and runs its transactions and group commits on the mail store's
// SQL layer (store.Store.DB, see congthu/internal/sqldb), and closes with
// it. Its tables are created by its own migrations, registered with the
// SQL layer beside the mail store's (they keep their numbers: a database
// records them as it always did).
//
// Delivery outcomes of notification emails reach it through the outbox
// hook: NotificationHook returns the outbox.Hook that the program adds
// with outbox.Store.AddHook, which records, in the outbox's recording
// transaction, the notification's status and the SMS fallback of a
// permanent failure. Neither the mail store nor the outbox knows anything
// of notifications.
package notifydb

import (
	"context"
	"embed"
	"io/fs"

	"congthu/internal/sqldb"
	"congthu/outbox"
	"congthu/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// The notification store's migrations, registered with the SQL layer
// beside the mail store's. Their numbers are those they had when they
// were the mail store's: a database records each by number.
func init() {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	sqldb.Register("notify/notifydb", sub)
}

// Errors are the mail store's, so that a caller tests either with
// errors.Is.
var (
	ErrNotFound = store.ErrNotFound
	ErrExists   = store.ErrExists
	ErrInvalid  = store.ErrInvalid
)

// Store is the notification store. It is safe for concurrent use, and by
// several processes sharing one PostgreSQL database.
type Store struct {
	// mail is the mail store whose database this store shares; outbox
	// is the outbox in it: a live email's outbox entry is added in the
	// notification's transaction, and a bounce records the outbox
	// outcome (bounce.go).
	mail    *store.Store
	outbox  *outbox.Store
	db      *sqldb.DB
	dialect sqldb.Dialect

	// statusBatch groups notification status changes, createBatch
	// CreateNotification's requests (notifications.go).
	statusBatch *sqldb.Batcher[statusReq, *NotificationEvent]
	createBatch *sqldb.Batcher[*NotificationRequest, NotificationResult]
	// smsBatch groups the SMS dispatcher's writes (sms.go).
	smsBatch *sqldb.Batcher[func(tx dbtx) error, struct{}]
}

// New returns the notification store in mail's database (whose migrations,
// this package's included, Open applied). Closing mail closes it: its
// group commits finish what was submitted, and writes afterwards fail.
func New(mail *store.Store) *Store {
	db := mail.DB()
	s := &Store{mail: mail, outbox: mail.Outbox(), db: db, dialect: db.Dialect()}
	s.statusBatch = sqldb.NewBatcher(db, sqldb.BatcherOptions{}, s.setStatuses, nil)
	s.createBatch = sqldb.NewBatcher(db, sqldb.BatcherOptions{}, s.createNotifications, func(r NotificationResult) {
		for _, id := range r.OutboxIDs {
			s.outbox.Added(id)
		}
	})
	s.smsBatch = sqldb.NewBatcher(db, sqldb.BatcherOptions{Max: 512, Queue: 1024}, s.runSMSBatch, nil)
	return s
}

// dbtx runs the statements of a transaction (or of the read side, r).
type dbtx = sqldb.Tx

// r returns the read side of the database; w the writer for single
// statements, each its own transaction that returns once durable.
func (s *Store) r() dbtx { return s.db.Read() }
func (s *Store) w() dbtx { return s.db.Write() }

// writeTx runs fn in a write transaction (sqldb.DB.WriteTx: retried on a
// transient conflict, returns once durable).
func (s *Store) writeTx(ctx context.Context, fn func(tx dbtx) error) error {
	return s.db.WriteTx(ctx, fn)
}

// writeTxNoSync is writeTx without the wait for durability, for a group
// commit that waits outside the writer (sqldb.Batcher).
func (s *Store) writeTxNoSync(ctx context.Context, fn func(tx dbtx) error) error {
	return s.db.WriteTxNoSync(ctx, fn)
}

// chunkSize bounds the IN lists of one statement.
const chunkSize = 500
