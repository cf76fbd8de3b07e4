package outbox_test

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"congthu/internal/testenv"
	"congthu/store"
)

// The outbox's tests run over the mail store, whose first migration
// creates the outbox tables and whose Deliver adds entries.

// backend is a database to open stores on.
type backend struct {
	name string
	opts store.Options
}

// open opens a mail store (and its outbox) on the backend's database,
// closed at cleanup.
func (b backend) open(t testing.TB, mod ...func(*store.Options)) *store.Store {
	t.Helper()
	opts := b.opts
	for _, m := range mod {
		m(&opts)
	}
	s, err := store.Open(context.Background(), opts, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("open %s: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs fn against a fresh SQLite store and a fresh
// PostgreSQL store, in parallel subtests.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend, s *store.Store)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, name)
			fn(t, b, b.open(t))
		})
	}
}

func newBackend(t testing.TB, name string) backend {
	t.Helper()
	if name == "sqlite" {
		return backend{name: name, opts: store.Options{DataDir: t.TempDir()}}
	}
	return backend{name: name, opts: store.Options{URL: testenv.Postgres(t)}}
}

var ctx = context.Background()
