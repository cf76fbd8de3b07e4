package outbox_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"congthu/internal/sqldb"
	"congthu/store"
)

// The migrations that databases record, of those this test binary
// registers (the mail store's and the outbox's): each by number, with the
// name and text it had when the mail store owned them all. A database
// created before the outbox had its own package records exactly these, so
// the program must register exactly these: none re-run, none skipped.
var recorded = []struct {
	version      int
	name, sha256 string
	owner        string
}{
	{1, "0001_init.sql", "b7a58c614edeb662635470543d90fb3f48530bad62c1ae184c730a2cf7829d8c", "store"},
	{3, "0003_outbound.sql", "187cd42217b3ca238c6ba8c2bf47a14e4e82d4a01e923c508ac4ca8647b681d7", "outbox"},
	{4, "0004_envelope.sql", "d74dbeb7a9f7c2bcc739d9ebd7a5ba09e8bb666446e93b81014b9ad6f7f94a3f", "store"},
	{9, "0009_domain_postmaster.sql", "8495ba19e041668288706e2fffa447f34fb2c5b1bf64d0f28b0048422103c093", "store"},
}

// TestMigrationsKept: the outbox registers migration 3 unchanged, and the
// mail store keeps its own (among them 1, which creates the outbox
// tables).
func TestMigrationsKept(t *testing.T) {
	byVersion := map[int]sqldb.Migration{}
	for _, m := range sqldb.Migrations() {
		byVersion[m.Version] = m
	}
	for _, want := range recorded {
		m, ok := byVersion[want.version]
		if !ok {
			t.Errorf("migration %d (%s) not registered", want.version, want.name)
			continue
		}
		sum := sha256.Sum256([]byte(m.SQL))
		if m.Name != want.name || hex.EncodeToString(sum[:]) != want.sha256 || m.Owner != want.owner {
			t.Errorf("migration %d: got %s of %s (sha256 %x), want %s of %s (sha256 %s)",
				want.version, m.Name, m.Owner, sum[:8], want.name, want.owner, want.sha256[:16])
		}
	}
}

// TestReopenRunsNothing: a database that records the migrations opens
// with none run again, on both backends.
func TestReopenRunsNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *store.Store) {
		before := appliedMigrations(t, s)
		for _, m := range recorded {
			if before[m.version] == "" {
				t.Errorf("migration %d not recorded", m.version)
			}
		}
		if got, want := len(before), len(sqldb.Migrations()); got != want {
			t.Errorf("a new database records %d migrations, want %d", got, want)
		}
		again := b.open(t)
		after := appliedMigrations(t, again)
		for v, at := range before {
			if after[v] != at {
				t.Errorf("migration %d: recorded %s, after reopening %s", v, at, after[v])
			}
		}
		if len(after) != len(before) {
			t.Errorf("after reopening %d migrations recorded, want %d", len(after), len(before))
		}
	})
}

// appliedMigrations returns version → "name@applied_at" of the migrations
// the database records.
func appliedMigrations(t *testing.T, s *store.Store) map[int]string {
	t.Helper()
	rows, err := s.DB().Read().Query(ctx, "SELECT version, name, applied_at FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v int
		var name string
		var at int64
		if err := rows.Scan(&v, &name, &at); err != nil {
			t.Fatal(err)
		}
		out[v] = name + "@" + sqldb.FromMicro(at).String()
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
