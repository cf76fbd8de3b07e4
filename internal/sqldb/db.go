package sqldb

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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Errors of the SQL layer. Their texts say "store", the name its users
// know the database by.
var (
	// ErrInvalid: Open was given options it cannot use, or a store was
	// given an argument it cannot use.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrNotFound: a store has no such row. The stores sharing the
	// database return it, so that a caller tests any of them with
	// errors.Is.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("store: closed")
)

// Options configures Open.
type Options struct {
	// URL selects the backend: "" or "sqlite:PATH" for SQLite (an empty
	// URL means DataDir/congthu.db), "postgres://..." or
	// "postgresql://..." for PostgreSQL.
	URL string
	// DataDir is where the SQLite file lives when URL is empty.
	DataDir string
	// Log receives the background work's warnings (checkpoints, batches).
	Log *slog.Logger
}

// DB is the database every store shares: a read pool and a writer, with
// the durability and group-commit machinery of the backend. It is safe for
// concurrent use.
type DB struct {
	log     *slog.Logger
	dialect Dialect
	// rdb serves reads; wdb serves writes. They are the same pool on
	// PostgreSQL. On SQLite wdb has one connection (SQLite has one
	// writer at a time anyway, and an in-process queue is fairer and
	// faster than busy-waiting) and begins transactions IMMEDIATE, and
	// rdb is a read-only pool.
	rdb, wdb *sql.DB

	// wal syncs SQLite's WAL after commits (nil on PostgreSQL).
	wal  *walSync
	ckpt *checkpointer // SQLite

	// Prepared statements of the read and write pools (SQLite; nil on
	// PostgreSQL), see stmtcache.go.
	rstmts, wstmts *stmtCache

	// batchers are the group commits made on the DB, stopped by Close.
	mu       sync.Mutex
	closed   bool
	batchers []interface{ Close() }
}

// Open opens (creating if needed) the database. It applies no migration:
// see Migrate.
func Open(opts Options) (*DB, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log}
	var err error
	switch u := opts.URL; {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		err = db.openPostgres(u)
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
		err = db.openSQLite(path)
	default:
		return nil, fmt.Errorf("store: unsupported URL scheme in %q: %w", redactURL(u), ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// redactURL drops the password from a URL for error messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable)"
	}
	return p.Redacted()
}

func (db *DB) openSQLite(path string) error {
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
	rdb, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=synchronous(FULL)&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	db.rdb, db.wdb, db.dialect = rdb, wdb, SQLite
	// The WAL's name as SQLite sees the database (symlinks resolved,
	// URI decoding applied), and its directory entry made durable once:
	// SQLite would sync the directory with the WAL's first sync, which
	// under synchronous=NORMAL waits for a checkpoint.
	var seq int
	var name, file string
	if _, err := wdb.Exec("SELECT count(*) FROM sqlite_schema"); err != nil { // opens the WAL
		db.closeDBs()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := wdb.QueryRow("PRAGMA database_list").Scan(&seq, &name, &file); err != nil || file == "" {
		db.closeDBs()
		return fmt.Errorf("store: open %s: locate the database file: %v", path, err)
	}
	if _, err := os.Stat(file + "-wal"); err != nil {
		db.closeDBs()
		return fmt.Errorf("store: open %s: WAL file: %w", path, err)
	}
	if err := syncDir(filepath.Dir(file)); err != nil {
		db.closeDBs()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	db.wal = newWALSync(file)
	if db.ckpt, err = newCheckpointer(file, db.log); err != nil {
		db.closeDBs()
		return err
	}
	db.wal.onCommit = db.ckpt.poke
	db.rstmts, db.wstmts = newStmtCache(rdb), newStmtCache(wdb)
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

func (db *DB) openPostgres(u string) error {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", redactURL(u), err)
	}
	// pgx's database/sql adapter; statements are prepared and cached per
	// connection.
	p := stdlib.OpenDB(*cfg)
	p.SetMaxOpenConns(24)
	p.SetMaxIdleConns(24)
	p.SetConnMaxIdleTime(5 * time.Minute)
	db.rdb, db.wdb, db.dialect = p, p, Postgres
	return nil
}

// Migrate applies the missing registered migrations (of every owner) in
// one transaction, and returns once it is durable.
func (db *DB) Migrate(ctx context.Context) error {
	err := db.WriteTxOnce(ctx, func(tx Tx) error {
		return Migrate(ctx, tx.q, db.dialect, db.log)
	})
	if err != nil {
		return err
	}
	return db.Durable()
}

// Close stops the group commits made on the DB (each finishing what was
// submitted to it) and closes the database. Writes afterwards fail.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	bs := db.batchers
	db.mu.Unlock()
	for _, b := range bs {
		b.Close()
	}
	return db.closeDBs()
}

func (db *DB) closeDBs() error {
	if db.ckpt != nil {
		db.ckpt.close()
	}
	for _, c := range []*stmtCache{db.rstmts, db.wstmts} {
		if c != nil {
			c.close()
		}
	}
	err := db.wdb.Close()
	if db.rdb != db.wdb {
		if e := db.rdb.Close(); err == nil {
			err = e
		}
	}
	if db.wal != nil {
		db.wal.close()
	}
	return err
}

// Ping checks the database is reachable (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Backend returns "sqlite" or "postgres".
func (db *DB) Backend() string { return db.dialect.Name }

// Dialect returns what differs in the backend's SQL.
func (db *DB) Dialect() Dialect { return db.dialect }

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

// ExecContext runs one write statement in a transaction of its own and
// returns once it is durable; QueryRowContext reads on the read pool. With
// them the DB is a Conn.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.Write().Exec(ctx, query, args...)
}

func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.Read().Row(ctx, query, args...)
}
