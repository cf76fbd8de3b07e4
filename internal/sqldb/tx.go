package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Tx runs statements written with ? placeholders, rewritten for the
// dialect: in a transaction, on the read pool (DB.Read) or as autocommit
// writes (DB.Write).
type Tx struct {
	d Dialect
	q Querier
}

// Exec runs a statement that returns no rows.
func (t Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.q.ExecContext(ctx, t.d.Rebind(query), args...)
}

// Query runs a query that returns rows.
func (t Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.q.QueryContext(ctx, t.d.Rebind(query), args...)
}

// Row runs a query that returns at most one row.
func (t Tx) Row(ctx context.Context, query string, args ...any) *sql.Row {
	return t.q.QueryRowContext(ctx, t.d.Rebind(query), args...)
}

// InsertID runs an INSERT ending in RETURNING id and returns the id. On
// SQLite it runs without the RETURNING clause and reads the last insert
// rowid: no result set to build, scan and close (a fifth of the cost of
// the statement on the API's hot path).
func (t Tx) InsertID(ctx context.Context, query string, args ...any) (int64, error) {
	if !t.d.Dollar {
		if q, ok := strings.CutSuffix(query, " RETURNING id"); ok {
			res, err := t.Exec(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		}
	}
	var id int64
	err := t.Row(ctx, query, args...).Scan(&id)
	return id, err
}

// Read returns the read side: queries on the read pool, with cached
// prepared statements on SQLite.
func (db *DB) Read() Tx {
	if db.rstmts != nil {
		return Tx{db.dialect, cachedDB{db.rdb, db.rstmts}}
	}
	return Tx{db.dialect, db.rdb}
}

// Write returns the writer for single statements outside a transaction:
// each Exec is its own transaction and returns once durable. It has no
// Query or Row.
func (db *DB) Write() Tx { return Tx{db.dialect, durableExec{db}} }

type durableExec struct{ db *DB }

func (d durableExec) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if d.db.wstmts != nil {
		res, err = cachedDB{d.db.wdb, d.db.wstmts}.ExecContext(ctx, query, args...)
	} else {
		res, err = d.db.wdb.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	if err := d.db.Durable(); err != nil {
		return nil, err
	}
	return res, nil
}

func (d durableExec) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return nil, errors.New("store: internal error: query on the autocommit writer")
}

func (d durableExec) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	panic("store: internal error: query on the autocommit writer")
}

// WriteTx runs fn in a write transaction, retrying a few times when the
// database reports a transient conflict (PostgreSQL deadlock or
// serialization failure, SQLite busy; fn runs again from the start), and
// returns once the commit is durable.
func (db *DB) WriteTx(ctx context.Context, fn func(tx Tx) error) error {
	if err := db.WriteTxNoSync(ctx, fn); err != nil {
		return err
	}
	return db.Durable()
}

// WriteTxNoSync is WriteTx without the wait for durability, for a group
// commit that waits outside the writer (Batcher): the caller must not
// answer anyone before WaitDurable of a commit number taken (Committed)
// after it returned.
func (db *DB) WriteTxNoSync(ctx context.Context, fn func(tx Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.WriteTxOnce(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt >= 4 || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
}

// WriteTxOnce runs fn in one write transaction and commits it: no retry,
// no wait for durability (see WriteTxNoSync).
func (db *DB) WriteTxOnce(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	// Rollback (a no-op after Commit) runs before afterTx, also when fn
	// panics: afterTx may need the writer's only connection.
	defer db.wstmts.afterTx()
	defer tx.Rollback()
	if err := fn(Tx{db.dialect, txQuerier(tx, db.wstmts)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// ReadTx runs fn in a read-only transaction that sees one snapshot.
func (db *DB) ReadTx(ctx context.Context, fn func(tx Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect.Dollar {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.rdb.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer db.rstmts.afterTx()
	defer tx.Rollback()
	return fn(Tx{db.dialect, txQuerier(tx, db.rstmts)})
}

// IsTransient reports whether err is a conflict worth retrying.
func IsTransient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
			return true
		}
		return false
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign-key violation.
func IsForeignKeyViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// Micro and FromMicro convert times to and from the stored form: integer
// microseconds since the Unix epoch (the same on both backends).
func Micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func FromMicro(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v)
}

// Placeholders returns "?,?,...,?" with n marks.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}
