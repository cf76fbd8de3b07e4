package sqldb

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
	db, err := Open(Options{DataDir: link})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if want := filepath.Join(real, "congthu.db-wal"); db.wal.path != want {
		t.Fatalf("WAL path %q, want %q", db.wal.path, want)
	}
	w := newWALSync(filepath.Join(t.TempDir(), "missing.db"))
	if err := w.wait(w.commit()); err == nil {
		t.Fatal("sync of a missing WAL succeeded")
	}
}

// Every write path ends with a WAL sync: an autocommit statement, a write
// transaction and a batched request each wait for one, and the WAL file
// they sync is the database's. A new database has the page size chosen.
func TestDBSyncsWALAfterWrites(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	if db.wal == nil || !db.SyncsAfterCommit() {
		t.Fatal("SQLite database without WAL sync")
	}
	if _, err := os.Stat(filepath.Join(dir, "congthu.db-wal")); err != nil {
		t.Fatalf("WAL file: %v", err)
	}
	var syncs atomic.Int64
	db.WrapWALSync(func(real func() error) func() error {
		return func() error { syncs.Add(1); return real() }
	})
	before := syncs.Load()
	if _, err := db.Write().Exec(ctx, "INSERT INTO t (k) VALUES (?)", 1); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Fatal("autocommit write returned without a WAL sync")
	}
	before = syncs.Load()
	insertRows(t, db, 2, 1, 10)
	if syncs.Load() == before {
		t.Fatal("WriteTx returned without a WAL sync")
	}
	b := NewBatcher(db, BatcherOptions{}, func(ctx context.Context, ks []int) ([]struct{}, []error, error) {
		err := db.WriteTxNoSync(ctx, func(tx Tx) error {
			for _, k := range ks {
				if _, err := tx.Exec(ctx, "INSERT INTO t (k) VALUES (?)", k); err != nil {
					return err
				}
			}
			return nil
		})
		return make([]struct{}, len(ks)), make([]error, len(ks)), err
	}, nil)
	before = syncs.Load()
	if _, err := b.Do(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Fatal("Batcher.Do returned without a WAL sync")
	}
	var ps int
	if err := db.Read().Row(ctx, "PRAGMA page_size").Scan(&ps); err != nil || ps != sqlitePageSize {
		t.Fatalf("page size %d (%v), want %d", ps, err, sqlitePageSize)
	}
}

// Two syncs may run at once: a commit made while one is in flight starts
// a second without waiting for the first, and a sync that returns first
// covers its own commits even though the older one is still running.
func TestWALSyncSecondSyncOverlaps(t *testing.T) {
	w := newWALSync(filepath.Join(t.TempDir(), "x.db"))
	release := make(chan struct{}) // the first sync's return
	var n atomic.Int64
	started := make(chan struct{}, 4)
	w.sync = func() error {
		if n.Add(1) == 1 {
			started <- struct{}{}
			<-release
			return nil
		}
		started <- struct{}{}
		return nil
	}
	first := make(chan error, 1)
	seq1 := w.commit()
	go func() { first <- w.wait(seq1) }()
	<-started
	seq2 := w.commit()
	done := make(chan error, 1)
	go func() { done <- w.wait(seq2) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second commit waited for the first sync to return")
	}
	select {
	case <-first:
		t.Fatal("the first commit was answered before its sync returned")
	default:
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if w.synced != 2 || n.Load() != 2 {
		t.Fatalf("synced %d after %d syncs, want 2 and 2", w.synced, n.Load())
	}
	// A third waiter joins a sync in flight rather than starting a third.
	w.sync = func() error { n.Add(1); time.Sleep(20 * time.Millisecond); return nil }
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); w.wait(w.commit()) }()
	}
	wg.Wait()
	if got := n.Load() - 2; got > 10 || got < 1 {
		t.Fatalf("%d syncs for 10 concurrent commits", got)
	}
}

// The background checkpointer copies committed pages into the database
// file without the writer's own checkpoint (which waits for 64 MB of WAL).
func TestBackgroundCheckpoint(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	before, err := os.Stat(filepath.Join(dir, "congthu.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		insertRows(t, db, i, 1, 2000)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var busy, logFrames, copied int
		// A checkpoint of nothing: reports what the background one did.
		if err := db.ckpt.db.QueryRow("PRAGMA wal_checkpoint(NOOP)").Scan(&busy, &logFrames, &copied); err != nil {
			t.Fatal(err)
		}
		after, err := os.Stat(filepath.Join(dir, "congthu.db"))
		if err != nil {
			t.Fatal(err)
		}
		if logFrames > 0 && copied == logFrames && after.Size() > before.Size() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL frames %d, checkpointed %d; database file %d bytes (was %d)", logFrames, copied, after.Size(), before.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	frames, err := walAutocheckpointFrames(filepath.Join(dir, "congthu.db"))
	if err != nil || frames != walAutocheckpointBytes/sqlitePageSize {
		t.Fatalf("writer checkpoint threshold %d (%v), want %d", frames, err, walAutocheckpointBytes/sqlitePageSize)
	}
}
