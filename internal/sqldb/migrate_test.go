package sqldb

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"congthu/internal/testenv"
)

var ctx = context.Background()

func forEachBackend(t *testing.T, fn func(t *testing.T, db *sql.DB, d Dialect)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		fn(t, db, SQLite)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := sql.Open("pgx", testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db, Postgres)
	})
}

func migrate(t *testing.T, db *sql.DB, d Dialect) error {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := Migrate(ctx, tx, d, nil); err != nil {
		return err
	}
	return tx.Commit()
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Migrations of several owners share one numbering and one table: a
// migration registered later (another owner's, numbered between those
// already applied) is applied alone, and none is run twice.
func TestMigrateOwners(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sql.DB, d Dialect) {
		resetRegistry()
		t.Cleanup(resetRegistry)
		Register("a", fstest.MapFS{
			"0001_one.sql":   {Data: []byte("-- a table\nCREATE TABLE one (id {{ID}}, v {{BLOB}});\nINSERT INTO one (v) VALUES (NULL);\n")},
			"0003_three.sql": {Data: []byte("INSERT INTO one (v) VALUES (NULL);")},
		})
		if err := migrate(t, db, d); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM one"); n != 2 {
			t.Fatalf("rows after 1 and 3: %d, want 2", n)
		}
		Register("b", fstest.MapFS{"0002_two.sql": {Data: []byte("CREATE TABLE two (x INTEGER);\nINSERT INTO two VALUES (2);")}})
		if err := migrate(t, db, d); err != nil {
			t.Fatal(err)
		}
		if err := migrate(t, db, d); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM one"); n != 2 {
			t.Errorf("rows of one after re-migrating: %d, want 2 (a migration ran twice)", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM two"); n != 1 {
			t.Errorf("rows of two: %d, want 1", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM schema_migrations"); n != 3 {
			t.Errorf("recorded migrations: %d, want 3", n)
		}
		// A database from a newer program is refused.
		if _, err := db.Exec(d.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"), 4, "0004_x.sql", 0); err != nil {
			t.Fatal(err)
		}
		if err := migrate(t, db, d); err == nil || !strings.Contains(err.Error(), "newer") {
			t.Errorf("migrating a newer database: %v, want refused", err)
		}
	})
}

// A number is registered once.
func TestRegisterTwice(t *testing.T) {
	resetRegistry()
	t.Cleanup(resetRegistry)
	Register("a", fstest.MapFS{"0001_one.sql": {Data: []byte("SELECT 1")}})
	defer func() {
		if recover() == nil {
			t.Error("second migration 1 registered")
		}
	}()
	Register("b", fstest.MapFS{"0001_other.sql": {Data: []byte("SELECT 1")}})
}

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
	if got := SQLite.Rebind(q); got != q {
		t.Errorf("sqlite: %q", got)
	}
	if got, want := Postgres.Rebind(q), "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"; got != want {
		t.Errorf("postgres: %q, want %q", got, want)
	}
}
