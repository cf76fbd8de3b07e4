// Package stsdb keeps the MTA-STS policies of destination domains in the
// shared database, so that a restart opens no window in which a hidden TXT
// record turns a policy off. It is the mtasts.Cache of the Fetcher, and
// registers its own table's migration with the SQL layer.
package stsdb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"congthu/internal/sqldb"
	"congthu/mtasts"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

func init() {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err)
	}
	sqldb.Register("mtasts/stsdb", sub)
}

// Cache keeps policies in the table mta_sts_policies.
type Cache struct{ db sqldb.Conn }

var _ mtasts.Cache = (*Cache)(nil)

// New returns the cache on db (the mail store's database: store.Store.Conn).
func New(db sqldb.Conn) *Cache { return &Cache{db: db} }

// LoadPolicy returns the policy kept for a destination domain; ok is false
// when none is kept.
func (c *Cache) LoadPolicy(ctx context.Context, domain string) (mtasts.Cached, bool, error) {
	var p mtasts.Cached
	var at int64
	err := c.db.QueryRowContext(ctx, "SELECT policy_id, body, fetched_at FROM mta_sts_policies WHERE domain = ?", domain).Scan(&p.ID, &p.Body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return mtasts.Cached{}, false, nil
	}
	if err != nil {
		return mtasts.Cached{}, false, fmt.Errorf("stsdb: MTA-STS policy of %s: %w", domain, err)
	}
	if at != 0 {
		p.FetchedAt = time.UnixMicro(at)
	}
	return p, true, nil
}

// SavePolicy keeps a domain's policy, replacing the one kept before.
func (c *Cache) SavePolicy(ctx context.Context, domain string, p mtasts.Cached) error {
	var at int64
	if !p.FetchedAt.IsZero() {
		at = p.FetchedAt.UnixMicro()
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO mta_sts_policies (domain, policy_id, body, fetched_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, body = excluded.body, fetched_at = excluded.fetched_at`,
		domain, p.ID, p.Body, at)
	if err != nil {
		return fmt.Errorf("stsdb: keep MTA-STS policy of %s: %w", domain, err)
	}
	return nil
}
