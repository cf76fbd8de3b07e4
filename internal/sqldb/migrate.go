package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Migration is one numbered schema change of one owner.
type Migration struct {
	Version int
	Name    string // the file's name
	Owner   string // the registering package, for messages
	SQL     string
}

var (
	registryMu sync.Mutex
	registry   = map[int]Migration{}
)

// Register adds the migrations of one owner: the files *.sql at the root
// of fsys, each named NNNN_description.sql with NNNN a number that no
// other registered migration has. It panics on a bad name or a number
// taken twice, as it runs from init functions.
func Register(owner string, fsys fs.FS) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		panic(fmt.Sprintf("sqldb: migrations of %s: %v", owner, err))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic(fmt.Sprintf("sqldb: %s: bad migration file name %q", owner, base))
		}
		if old, dup := registry[v]; dup {
			panic(fmt.Sprintf("sqldb: migration %d registered twice: %s (%s) and %s (%s)", v, old.Name, old.Owner, base, owner))
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			panic(fmt.Sprintf("sqldb: %s: %v", owner, err))
		}
		registry[v] = Migration{Version: v, Name: base, Owner: owner, SQL: string(b)}
	}
}

// Migrations returns the registered migrations in version order.
func Migrations() []Migration {
	registryMu.Lock()
	defer registryMu.Unlock()
	ms := make([]Migration, 0, len(registry))
	for _, m := range registry {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms
}

// Querier is what *sql.DB and *sql.Tx have in common.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrationLockKey is the PostgreSQL advisory lock taken while migrating,
// so two processes starting together do not both apply a migration.
const migrationLockKey = 0x636f6e67746875 // "congthu"

// Migrate applies, inside tx (a write transaction the caller commits),
// every registered migration the database does not have, in version order.
func Migrate(ctx context.Context, tx Querier, d Dialect, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ms := Migrations()
	if d.Dollar {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLockKey)); err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return err
	}
	newest := 0
	if len(ms) > 0 {
		newest = ms[len(ms)-1].Version
	}
	for v := range applied {
		if v > newest {
			return fmt.Errorf("store: database schema version %d is newer than this program's %d", v, newest)
		}
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		text := strings.NewReplacer(
			"{{ID}}", d.ID,
			"{{BLOB}}", d.Blob,
			"{{NOW}}", strconv.FormatInt(time.Now().Unix(), 10),
		).Replace(m.SQL)
		for _, stmt := range SplitSQL(text) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("store: migration %s: %w (in %.80q)", m.Name, err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("store: record migration %s: %w", m.Name, err)
		}
		log.Info("store: applied migration", "version", m.Version, "name", m.Name, "owner", m.Owner, "backend", d.Name)
	}
	return nil
}

func appliedVersions(ctx context.Context, tx Querier) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read schema version: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read schema version: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read schema version: %w", err)
	}
	return applied, nil
}

// SplitSQL splits a migration into statements at semicolons that end a
// line, dropping comment lines.
func SplitSQL(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// Conn runs single statements, written with ? placeholders, on the shared
// database: reads on the read pool, and each write in a transaction of its
// own that returns once durable. A store built on the database of another
// (the MTA-STS cache on the mail store's) takes one.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// resetRegistry forgets every registered migration (tests).
func resetRegistry() {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = map[int]Migration{}
}
