package outbox

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"congthu/internal/blob"
	"congthu/internal/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// The outbox's migrations, registered with the SQL layer beside those of
// the other stores that share the database. They keep the numbers they had
// when the mail store owned them: a database records each by number. (The
// outbox tables themselves are created by the mail store's first
// migration, which a database records as one.)
func init() {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	sqldb.Register("outbox", sub)
}

// JobQueue is the queue that delivers outbox entries: job "outbox:<id>"
// per entry, taken by the dispatcher (dispatcher.Queue) and shown in the
// API's metrics.
const JobQueue = "outbound"

// Recipient states.
const (
	Queued    = "queued"
	Delivered = "delivered"
	Failed    = "failed"
	Expired   = "expired"
)

// Errors of the outbox; they are the SQL layer's, as the mail store's are,
// so that a caller tests either with errors.Is.
var (
	ErrNotFound = sqldb.ErrNotFound
	ErrInvalid  = sqldb.ErrInvalid
)

// Options configures New.
type Options struct {
	// Added, if set, is called once the transaction that added an entry
	// is durable, with the entry's ID, so the caller can enqueue its
	// delivery job at once. It must not block. (The queue sweeper finds
	// entries whose job was lost.)
	Added func(id int64)
	// Log receives the panics of Added and of hooks after commit.
	Log *slog.Logger
}

// Store is the outbox over a database that other stores share (the mail
// store's). It is safe for concurrent use, and by several processes
// sharing one PostgreSQL database.
type Store struct {
	log  *slog.Logger
	opts Options
	db   *sqldb.DB

	// hooks subscribe to recorded delivery outcomes (record.go); hooksMu
	// serializes AddHook.
	hookList atomic.Pointer[[]Hook]
	hooksMu  sync.Mutex
	// recordBatch groups the outcomes of concurrent deliveries
	// (RecordAttempts).
	recordBatch *sqldb.Batcher[recordReq, *Tx]
}

// New returns the outbox in db, whose migrations (this package's
// included) have been applied. Closing db stops its group commit.
func New(db *sqldb.DB, opts Options) *Store {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: opts.Log, opts: opts, db: db}
	s.recordBatch = sqldb.NewDurableBatcher(db, sqldb.BatcherOptions{}, s.recordOutcomes, s.outcomesDurable)
	return s
}

// Added calls Options.Added for an entry whose transaction is durable:
// the mail store calls it for the entries Deliver adds, and a store
// sharing the database for an entry it added in its own transaction
// (AddTx).
func (s *Store) Added(id int64) {
	if s.opts.Added == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("outbox: Added hook panicked", "panic", p, "outbox", id)
		}
	}()
	s.opts.Added(id)
}

// AddMessageTx adds, in tx (a transaction of the store that holds the
// message's bytes in blob blobID, of size bytes), an entry from mailFrom
// to recipients (one row each, every one queued and due now), and returns
// its ID. Once tx is durable, the caller calls Added with the ID.
func (s *Store) AddMessageTx(ctx context.Context, tx sqldb.Tx, blobID int64, mailFrom string, size int64, recipients []string, now time.Time) (int64, error) {
	at := sqldb.Micro(now)
	id, err := tx.InsertID(ctx, "INSERT INTO outbox (blob_id, mail_from, size, created_at) VALUES (?, ?, ?, ?) RETURNING id",
		blobID, mailFrom, size, at)
	if err != nil {
		return 0, fmt.Errorf("outbox: insert outbox message: %w", err)
	}
	args := make([]any, 0, 4*len(recipients))
	for _, rcpt := range recipients {
		args = append(args, id, rcpt, at, at)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO outbox_recipients (outbox_id, address, next_attempt_at, updated_at) VALUES "+
		valuesList(len(recipients), 4), args...); err != nil {
		return 0, fmt.Errorf("outbox: insert outbox recipients: %w", err)
	}
	return id, nil
}

// AddTx adds, in tx (a transaction of another store on the same
// database), an entry from mailFrom to recipient whose message is composed
// when it is delivered (its blob is empty; see the dispatcher's
// Options.Compose), and returns its ID. Once tx is durable, the caller
// calls Added with the ID.
func (s *Store) AddTx(ctx context.Context, tx sqldb.Tx, mailFrom, recipient string, now time.Time) (int64, error) {
	// outbox.blob_id is required, and the blob goes with the entry when
	// it is removed.
	blobID, err := blob.AddEmpty(ctx, tx, now)
	if err != nil {
		return 0, fmt.Errorf("outbox: add outbox entry: blob: %w", err)
	}
	id, err := tx.InsertID(ctx, "INSERT INTO outbox (blob_id, mail_from, size, created_at) VALUES (?, ?, 0, ?) RETURNING id",
		blobID, mailFrom, sqldb.Micro(now))
	if err != nil {
		return 0, fmt.Errorf("outbox: add outbox entry: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO outbox_recipients (outbox_id, address, next_attempt_at, updated_at) VALUES (?, ?, ?, ?)",
		id, recipient, sqldb.Micro(now), sqldb.Micro(now)); err != nil {
		return 0, fmt.Errorf("outbox: add outbox entry: recipient: %w", err)
	}
	return id, nil
}

// r returns the read side of the database.
func (s *Store) r() sqldb.Tx { return s.db.Read() }

// valuesList returns "(?, ?), (?, ?)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	row := "(" + sqldb.Placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// chunkSize bounds the number of values in one IN (...) list.
const chunkSize = 500
