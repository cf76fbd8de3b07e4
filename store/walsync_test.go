package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A waiter returns only after a sync that started after its commit; one
// sync covers every commit before it.
func TestWALSyncCoversCommitsBeforeIt(t *testing.T) {
	w := newWALSync(filepath.Join(t.TempDir(), "x.db"))
	var syncs atomic.Int64
	var lastStarted atomic.Uint64 // commits made when the latest sync began
	w.sync = func() error {
		w.mu.Lock()
		lastStarted.Store(w.committed)
		w.mu.Unlock()
		syncs.Add(1)
		time.Sleep(2 * time.Millisecond)
		return nil
	}
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := w.commit()
			if err := w.wait(seq); err != nil {
				t.Error(err)
			}
			if got := lastStarted.Load(); got < seq {
				t.Errorf("commit %d answered after a sync that began at commit %d", seq, got)
			}
		}()
	}
	wg.Wait()
	if s := syncs.Load(); s == 0 || s >= n/2 {
		t.Fatalf("%d syncs for %d concurrent commits: want shared syncs", s, n)
	}
	if w.synced != n {
		t.Fatalf("synced %d, want %d", w.synced, n)
	}
}

// A failed sync fails every waiter from then on, even if a later
// fdatasync would succeed: Linux reports a lost writeback only once.
func TestWALSyncErrorSticks(t *testing.T) {
	w := newWALSync(filepath.Join(t.TempDir(), "x.db"))
	fail := errors.New("EIO")
	w.sync = func() error { return fail }
	if err := w.wait(w.commit()); !errors.Is(err, fail) {
		t.Fatalf("wait = %v, want %v", err, fail)
	}
	w.sync = func() error { return nil }
	if err := w.wait(w.commit()); !errors.Is(err, fail) {
		t.Fatalf("after a failed sync: wait = %v, want %v", err, fail)
	}
}

// The WAL path is SQLite's own: a data directory reached through a
// symlink still syncs the real file, and a missing WAL is an error.
func TestWALSyncPath(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Options{DataDir: link}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := filepath.Join(real, "congthu.db-wal"); s.wal.path != want {
		t.Fatalf("WAL path %q, want %q", s.wal.path, want)
	}
	w := newWALSync(filepath.Join(t.TempDir(), "missing.db"))
	if err := w.wait(w.commit()); err == nil {
		t.Fatal("sync of a missing WAL succeeded")
	}
}

// On a real store every write path ends with a WAL sync: a committed
// delivery, a status change and an autocommit statement each wait for
// one, and the WAL file they sync is the store's.
func TestStoreSyncsWALAfterWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.wal == nil {
		t.Fatal("SQLite store without WAL sync")
	}
	if _, err := os.Stat(filepath.Join(dir, "congthu.db-wal")); err != nil {
		t.Fatalf("WAL file: %v", err)
	}
	var syncs atomic.Int64
	real := s.wal.sync
	s.wal.sync = func() error { syncs.Add(1); return real() }

	before := syncs.Load()
	if _, err := s.AddDomain(ctx, "sync.gov.vn"); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Fatal("autocommit write returned without a WAL sync")
	}
	acc, err := s.AddAccount(ctx, "a@sync.gov.vn", "mật khẩu dài 123")
	if err != nil {
		t.Fatal(err)
	}
	before = syncs.Load()
	if _, err := s.Deliver(ctx, &Delivery{Raw: []byte("Subject: x\r\n\r\nbody\r\n"), Local: []LocalTarget{{AccountID: acc.ID}}}); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Fatal("Deliver returned without a WAL sync")
	}
	var ps int
	if err := s.db.QueryRow("PRAGMA page_size").Scan(&ps); err != nil || ps != sqlitePageSize {
		t.Fatalf("page size %d (%v), want %d", ps, err, sqlitePageSize)
	}
}
