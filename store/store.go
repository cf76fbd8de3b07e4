// Package store is congthu's system of record: domains, accounts, aliases,
// mailboxes, messages with their flags and UIDs, and the outbox of mail for
// other domains.
//
// It runs on SQLite (the embedded default: one file under the data
// directory, WAL, every acknowledged commit fsynced: see walsync.go) or on
// PostgreSQL when several nodes share one database. Both backends share one set of SQL statements; the
// small differences (placeholders, column types, row locks) live in dialect.
//
// Writes that every SMTP and IMAP session makes (Deliver, Append) go
// through a group commit: concurrent calls are batched into one transaction
// and one fsync, and each caller returns once its message is durable.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"congthu/internal/sqldb"
)

// Store is the system of record. It is safe for concurrent use by many
// goroutines and by several processes sharing one PostgreSQL database (or
// one SQLite file on one machine).
type Store struct {
	log     *slog.Logger
	opts    Options
	dialect dialect
	// db serves reads; wdb serves writes. They are the same pool on
	// PostgreSQL. On SQLite wdb has one connection (SQLite has one
	// writer at a time anyway, and an in-process queue is fairer and
	// faster than busy-waiting) and begins transactions IMMEDIATE, and
	// db is a read-only pool.
	db, wdb *sql.DB

	auth *authCache

	// Group commit (see deliver.go).
	commitMu   sync.RWMutex
	closed     bool
	reqs       chan *deliverReq
	commitDone chan struct{}

	// wal syncs SQLite's WAL after commits (nil on PostgreSQL).
	wal       *walSync
	ckpt      *checkpointer  // SQLite
	finishing sync.WaitGroup // group commits waiting for their WAL sync

	// Prepared statements of the read and write pools (SQLite; nil on
	// PostgreSQL), see stmtcache.go.
	rstmts, wstmts *stmtCache

	// outboxHooks subscribe to recorded delivery outcomes (outbound.go);
	// hooksMu serializes AddOutboxHook.
	outboxHooks atomic.Pointer[[]OutboxHook]
	hooksMu     sync.Mutex

	// statusBatch groups notification status changes, createBatch
	// CreateNotification's requests (notifications.go).
	statusBatch *txBatcher[statusReq, *NotificationEvent]
	createBatch *txBatcher[*NotificationRequest, NotificationResult]
	// smsBatch groups the SMS dispatcher's writes (sms.go).
	smsBatch *txBatcher[func(tx dbtx) error, struct{}]
}

// Open opens (creating if needed) the store and applies migrations.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = 5 * time.Minute
	}
	s := &Store{log: log, opts: opts, auth: newAuthCache(opts.AuthCacheTTL)}
	var err error
	switch u := opts.URL; {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		err = s.openPostgres(u)
	case u == "" || strings.HasPrefix(u, "sqlite:"):
		path := strings.TrimPrefix(u, "sqlite:")
		if path == "" {
			if opts.DataDir == "" {
				return nil, fmt.Errorf("store: neither URL nor DataDir set: %w", ErrInvalid)
			}
			if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
				return nil, fmt.Errorf("store: create data dir: %w", err)
			}
			path = filepath.Join(opts.DataDir, "congthu.db")
		}
		err = s.openSQLite(path)
	default:
		return nil, fmt.Errorf("store: unsupported URL scheme in %q: %w", redactURL(u), ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	s.statusBatch = newTxBatcher(s, s.setStatuses, nil)
	s.createBatch = newTxBatcher(s, s.createNotifications, func(r NotificationResult) {
		for _, id := range r.OutboxIDs {
			s.outboxAdded(id)
		}
	})
	s.smsBatch = newTxBatcher(s, s.runSMSBatch, nil)
	s.reqs = make(chan *deliverReq, 4*maxBatch)
	s.commitDone = make(chan struct{})
	// SQLite has one writer, so one committer. PostgreSQL commits
	// concurrent transactions in parallel: several committers overlap one
	// batch's network round trips and writes with another's commit
	// (they serialize only on the rows of the mailboxes they share).
	n := 1
	if s.dialect.Dollar {
		n = pgCommitters
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.committer()
		}()
	}
	go func() {
		wg.Wait()
		close(s.commitDone)
	}()
	return s, nil
}

// pgCommitters is the number of group-commit goroutines on PostgreSQL.
const pgCommitters = 3

// redactURL drops the password from a URL for error messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable)"
	}
	return p.Redacted()
}

func (s *Store) openSQLite(path string) error {
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("store: SQLite path %q must not contain ? or #: %w", path, ErrInvalid)
	}
	if err := createSQLite(path); err != nil {
		return err
	}
	// temp_store(MEMORY): savepoints' statement journals stay in memory
	// instead of a temporary file written page by page. The writer syncs
	// the WAL itself after each commit, outside the write lock (see
	// walsync.go and walvfs.go); readers never write.
	common := "_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)"
	// The writer checkpoints only when the background checkpointer
	// (checkpoint.go) falls far behind.
	frames, err := walAutocheckpointFrames(path)
	if err != nil {
		return err
	}
	// The writer writes the WAL through walVFSName, which gathers a
	// commit's frames into one write when SQLite syncs the WAL at the end
	// of the commit (synchronous FULL), and leaves the fsync to walsync.go.
	if err := registerWALVFS(); err != nil {
		return err
	}
	wdb, err := sql.Open("sqlite", "file:"+path+"?vfs="+walVFSName+"&"+common+"&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint("+strconv.Itoa(frames)+")&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before readers open it.
	if err := wdb.Ping(); err != nil {
		wdb.Close()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	os.Chmod(path, 0o600)
	db, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=synchronous(FULL)&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	s.db, s.wdb, s.dialect = db, wdb, sqliteDialect
	// The WAL's name as SQLite sees the database (symlinks resolved,
	// URI decoding applied), and its directory entry made durable once:
	// SQLite would sync the directory with the WAL's first sync, which
	// under synchronous=NORMAL waits for a checkpoint.
	var seq int
	var name, file string
	if _, err := wdb.Exec("SELECT count(*) FROM sqlite_schema"); err != nil { // opens the WAL
		s.closeDBs()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := wdb.QueryRow("PRAGMA database_list").Scan(&seq, &name, &file); err != nil || file == "" {
		s.closeDBs()
		return fmt.Errorf("store: open %s: locate the database file: %v", path, err)
	}
	if _, err := os.Stat(file + "-wal"); err != nil {
		s.closeDBs()
		return fmt.Errorf("store: open %s: WAL file: %w", path, err)
	}
	if err := syncDir(filepath.Dir(file)); err != nil {
		s.closeDBs()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	s.wal = newWALSync(file)
	if s.ckpt, err = newCheckpointer(file, s.log); err != nil {
		s.closeDBs()
		return err
	}
	s.wal.onCommit = s.ckpt.poke
	s.rstmts, s.wstmts = newStmtCache(db), newStmtCache(wdb)
	return nil
}

// sqlitePageSize is the page size of new SQLite databases. Each page a
// transaction changes is written whole into the WAL at commit. A small
// commit (an API request, a status change) dirties one leaf page in each
// of a dozen indexes, so smaller pages make it cheaper; larger ones keep
// a 10 KB message or a rendered notification out of overflow chains.
// Measured (BenchmarkCreateNotificationsBatch, BenchmarkDeliver, the imapd
// benchmarks): 8 KB costs 15% less writer time than 16 KB per API event
// in batches of four, the same or less per delivered message, and about
// 5% more in SELECT and FETCH over 10,000 messages. Existing databases
// keep the size they were created with.
const sqlitePageSize = 8192

// createSQLite creates a new database file with its page size and WAL
// mode (the page size cannot change once the file is in WAL mode, and the
// driver applies DSN pragmas in its own order).
func createSQLite(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, p := range []string{"PRAGMA page_size = " + strconv.Itoa(sqlitePageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := db.Exec(p); err != nil {
			return fmt.Errorf("store: create %s: %s: %w", path, p, err)
		}
	}
	return nil
}

func (s *Store) openPostgres(u string) error {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", redactURL(u), err)
	}
	// pgx's database/sql adapter; statements are prepared and cached per
	// connection.
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(24)
	db.SetMaxIdleConns(24)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.db, s.wdb, s.dialect = db, db, postgresDialect
	return nil
}

// Close stops the group commit (finishing what was submitted) and closes
// the database.
func (s *Store) Close() error {
	s.commitMu.Lock()
	if s.closed {
		s.commitMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.commitMu.Unlock()
	s.createBatch.close()
	s.statusBatch.close()
	s.smsBatch.close()
	<-s.commitDone
	s.finishing.Wait()
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	if s.ckpt != nil {
		s.ckpt.close()
	}
	for _, c := range []*stmtCache{s.rstmts, s.wstmts} {
		if c != nil {
			c.close()
		}
	}
	err := s.wdb.Close()
	if s.db != s.wdb {
		if e := s.db.Close(); err == nil {
			err = e
		}
	}
	if s.wal != nil {
		s.wal.close()
	}
	return err
}

// Ping checks the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Backend returns "sqlite" or "postgres".
func (s *Store) Backend() string { return s.dialect.Name }

// dialect is what differs between the SQL backends.
type dialect = sqldb.Dialect

var (
	sqliteDialect   = sqldb.SQLite
	postgresDialect = sqldb.Postgres
)

// q turns a query written with ? placeholders into the dialect's.
func (s *Store) q(query string) string { return s.dialect.Rebind(query) }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbtx wraps a querier so that every query is rewritten for the dialect.
type dbtx struct {
	s *Store
	q querier
}

func (t dbtx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.q.ExecContext(ctx, t.s.q(query), args...)
}

func (t dbtx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.q.QueryContext(ctx, t.s.q(query), args...)
}

func (t dbtx) row(ctx context.Context, query string, args ...any) *sql.Row {
	return t.q.QueryRowContext(ctx, t.s.q(query), args...)
}

// insertID runs an INSERT ending in RETURNING id and returns the id. On
// SQLite it runs without the RETURNING clause and reads the last insert
// rowid: no result set to build, scan and close (a fifth of the cost of
// the statement on the API's hot path).
func (t dbtx) insertID(ctx context.Context, query string, args ...any) (int64, error) {
	if !t.s.dialect.Dollar {
		if q, ok := strings.CutSuffix(query, " RETURNING id"); ok {
			res, err := t.exec(ctx, q, args...)
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		}
	}
	var id int64
	err := t.row(ctx, query, args...).Scan(&id)
	return id, err
}

// r returns the read side of the store.
func (s *Store) r() dbtx {
	if s.rstmts != nil {
		return dbtx{s, cachedDB{s.db, s.rstmts}}
	}
	return dbtx{s, s.db}
}

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

// notify calls Options.Changed once per changed mailbox, after a commit.
func (s *Store) notify(c changes) {
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

// writeTx runs fn in a write transaction, retrying a few times when the
// database reports a transient conflict (PostgreSQL deadlock or
// serialization failure, SQLite busy), and returns once the commit is
// durable. Then it reports the changed mailboxes.
func (s *Store) writeTx(ctx context.Context, fn func(tx dbtx, ch changes) error) error {
	ch, err := s.writeTxRetry(ctx, fn)
	if err != nil {
		return err
	}
	if err := s.durable(); err != nil {
		return err
	}
	s.notify(ch)
	return nil
}

// writeTxNoSync is writeTx without the wait for durability, for a group
// commit that waits outside the writer (txBatcher): the caller must not
// answer anyone before s.wal.wait of a commit number taken after it
// returned. Changed mailboxes are reported at once.
func (s *Store) writeTxNoSync(ctx context.Context, fn func(tx dbtx, ch changes) error) error {
	ch, err := s.writeTxRetry(ctx, fn)
	if err != nil {
		return err
	}
	s.notify(ch)
	return nil
}

func (s *Store) writeTxRetry(ctx context.Context, fn func(tx dbtx, ch changes) error) (changes, error) {
	for attempt := 0; ; attempt++ {
		ch := changes{}
		err := s.writeTxOnce(ctx, func(tx dbtx) error { return fn(tx, ch) })
		if err == nil {
			return ch, nil
		}
		if attempt >= 4 || !isTransient(err) || ctx.Err() != nil {
			return nil, err
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
}

func (s *Store) writeTxOnce(ctx context.Context, fn func(tx dbtx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	// Rollback (a no-op after Commit) runs before afterTx, also when fn
	// panics: afterTx may need the writer's only connection.
	defer s.wstmts.afterTx()
	defer tx.Rollback()
	if err := fn(dbtx{s, txQuerier(tx, s.wstmts)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// readTx runs fn in a read-only transaction that sees one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx dbtx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect.Dollar {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer s.rstmts.afterTx()
	defer tx.Rollback()
	return fn(dbtx{s, txQuerier(tx, s.rstmts)})
}

// isTransient reports whether err is a conflict worth retrying.
func isTransient(err error) bool {
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

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
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

// micro and fromMicro convert times to and from the stored form: integer
// microseconds since the Unix epoch (the same on both backends).
func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicro(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v)
}

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool {
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

// syncDir fsyncs a directory, making the names created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Conn returns the store's database for single statements, for the stores
// that share it (see sqldb.Conn).
func (s *Store) Conn() sqldb.Conn { return storeConn{s} }

type storeConn struct{ s *Store }

func (c storeConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.s.w().exec(ctx, query, args...)
}

func (c storeConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return c.s.r().row(ctx, query, args...)
}
