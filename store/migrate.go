package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Files are
// named NNNN_description.sql.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: bad migration file name %q", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := range ms {
		if ms[i].version != i+1 {
			return nil, fmt.Errorf("store: migrations not numbered 1..n: %s", ms[i].name)
		}
	}
	return ms, nil
}

// migrationLockKey is the PostgreSQL advisory lock taken while migrating,
// so two processes starting together do not both apply a migration.
const migrationLockKey = 0x636f6e67746875 // "congthu"

// migrate applies missing migrations in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	err = s.writeTxOnce(ctx, func(tx dbtx) error {
		if s.dialect.dollar {
			if _, err := tx.exec(ctx, "SELECT pg_advisory_xact_lock(?)", int64(migrationLockKey)); err != nil {
				return fmt.Errorf("store: migration lock: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("store: create schema_migrations: %w", err)
		}
		var current int
		if err := tx.row(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		if current > len(ms) {
			return fmt.Errorf("store: database schema version %d is newer than this program's %d", current, len(ms))
		}
		for _, m := range ms[current:] {
			text := strings.NewReplacer(
				"{{ID}}", s.dialect.id,
				"{{BLOB}}", s.dialect.blob,
				"{{NOW}}", strconv.FormatInt(time.Now().Unix(), 10),
			).Replace(m.sql)
			for _, stmt := range splitSQL(text) {
				if _, err := tx.q.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("store: migration %s: %w (in %.80q)", m.name, err, stmt)
				}
			}
			if _, err := tx.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, micro(time.Now())); err != nil {
				return fmt.Errorf("store: record migration %s: %w", m.name, err)
			}
			s.log.Info("store: applied migration", "version", m.version, "name", m.name, "backend", s.dialect.name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.durable()
}

// splitSQL splits a migration into statements at semicolons that end a
// line, dropping comment lines.
func splitSQL(text string) []string {
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
