// Package store is congthu's system of record for mail: domains, accounts,
// aliases, mailboxes, messages with their flags and UIDs. The outbox of
// mail for other domains is package congthu/outbox, in the same database:
// Open builds it (Options.Outbox, Store.Outbox), and Deliver writes a
// message's local copies and its outbox entry in one transaction.
//
// It runs on SQLite (the embedded default: one file under the data
// directory, WAL, every acknowledged commit fsynced) or on PostgreSQL when
// several nodes share one database, through the SQL layer
// congthu/internal/sqldb (opening, transactions, durability, the generic
// group commit). Both backends share one set of SQL statements; the small
// differences (placeholders, column types, row locks) live in the dialect.
//
// Writes that every SMTP and IMAP session makes (Deliver, Append) go
// through a group commit: concurrent calls are batched into one transaction
// and one fsync, and each caller returns once its message is durable.
package store

import (
	"context"
	"log/slog"
	"time"

	"congthu/internal/sqldb"
	"congthu/outbox"
)

// Store is the system of record. It is safe for concurrent use by many
// goroutines and by several processes sharing one PostgreSQL database (or
// one SQLite file on one machine).
type Store struct {
	log     *slog.Logger
	opts    Options
	dialect dialect
	// db is the SQL layer: pools, transactions, durability, group
	// commits (see congthu/internal/sqldb).
	db *sqldb.DB

	auth *authCache

	// deliverBatch is the group commit of Deliver and Append (deliver.go).
	deliverBatch *sqldb.Batcher[*deliverReq, deliverRes]

	// outbox is the outbox in the same database: Deliver adds the
	// entries of remote recipients in its transaction.
	outbox *outbox.Store
}

// Open opens (creating if needed) the store and applies migrations.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = 5 * time.Minute
	}
	db, err := sqldb.Open(sqldb.Options{URL: opts.URL, DataDir: opts.DataDir, Log: log})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{log: log, opts: opts, auth: newAuthCache(opts.AuthCacheTTL), db: db, dialect: db.Dialect()}
	if opts.Outbox.Log == nil {
		opts.Outbox.Log = log
	}
	s.outbox = outbox.New(db, opts.Outbox)
	// SQLite has one writer, so one batch at a time. PostgreSQL commits
	// concurrent transactions in parallel: several batches in flight
	// overlap one's network round trips and writes with another's commit
	// (they serialize only on the rows of the mailboxes they share).
	s.deliverBatch = sqldb.NewDurableBatcher(db, sqldb.BatcherOptions{
		Max: maxBatch, Queue: 4 * maxBatch, InFlight: pgCommitters, NoGather: true,
	}, s.commitDeliveries, s.delivered)
	return s, nil
}

// pgCommitters is the number of delivery batches in flight on PostgreSQL.
const pgCommitters = 3

// Close stops the group commits (finishing what was submitted) and closes
// the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Backend returns "sqlite" or "postgres".
func (s *Store) Backend() string { return s.db.Backend() }

// dialect is what differs between the SQL backends.
type dialect = sqldb.Dialect

// dbtx runs the statements of a transaction (or of the read side, r).
type dbtx = sqldb.Tx

// r returns the read side of the store; w the writer for single
// statements, each its own transaction that returns once durable.
func (s *Store) r() dbtx { return s.db.Read() }
func (s *Store) w() dbtx { return s.db.Write() }

// change is one mailbox changed by a committed transaction.
type change struct{ accountID, mailboxID, modseq int64 }

// changes collects the mailboxes a transaction changed, keeping the
// highest modseq per mailbox.
type changes map[int64]change

func (c changes) add(accountID, mailboxID, modseq int64) {
	if old, ok := c[mailboxID]; ok && old.modseq >= modseq {
		return
	}
	c[mailboxID] = change{accountID, mailboxID, modseq}
}

// publishChanges calls Options.Changed once per changed mailbox, after a commit.
func (s *Store) publishChanges(c changes) {
	if s.opts.Changed == nil {
		return
	}
	for _, ch := range c {
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("store: Changed hook panicked", "panic", r, "mailbox", ch.mailboxID)
				}
			}()
			s.opts.Changed(ch.accountID, ch.mailboxID, ch.modseq)
		}()
	}
}

// writeTx runs fn in a write transaction (sqldb.DB.WriteTx: retried on a
// transient conflict, returns once durable), then reports the changed
// mailboxes.
func (s *Store) writeTx(ctx context.Context, fn func(tx dbtx, ch changes) error) error {
	var ch changes
	err := s.db.WriteTx(ctx, func(tx dbtx) error {
		ch = changes{}
		return fn(tx, ch)
	})
	if err != nil {
		return err
	}
	s.publishChanges(ch)
	return nil
}

// Conn returns the store's database for single statements, for the stores
// that share it (see sqldb.Conn).
func (s *Store) Conn() sqldb.Conn { return s.db }

// Outbox returns the outbox in the store's database, built by Open with
// Options.Outbox: the dispatcher, the notification store and the API use
// it. Deliver adds to it in its own transaction.
func (s *Store) Outbox() *outbox.Store { return s.outbox }

// DB returns the store's database, for the stores that share it with
// transactions and group commits of their own (the notification store).
// Close closes it.
func (s *Store) DB() *sqldb.DB { return s.db }
