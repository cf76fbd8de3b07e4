package sqldb

import (
	"fmt"
	"os"
	"sync"
)

// Durability on SQLite, with the fsync outside the write lock.
//
// With synchronous=FULL SQLite fsyncs the WAL inside COMMIT, while it holds
// the database's only write lock: the next transaction cannot start until
// the disk has answered, so a writer alternates between CPU work and a
// 1-2 ms wait. Instead the writer connection's WAL goes through
// walvfs.go, which turns the commit's sync into the write of its frames
// (the WAL is not synced at commit; checkpoints and WAL restarts still
// sync the WAL, and checkpoints the database file after copying, so
// checkpointed data stays durable), and every write path calls
// walSync.wait after its commit: the caller gets its
// answer (a 250, a 201) only once an fdatasync of the WAL file that began
// after its commit has returned. One fdatasync covers every commit before
// it, so concurrent commits share one, and the next transaction runs while
// the previous one's fsync is in flight.
//
// What this changes: a committed transaction is visible to readers of this
// store (an IMAP session, the sweeper) up to one fsync before it is
// durable. A process crash (kill -9) loses nothing: the WAL pages are in
// the kernel's page cache. Only an OS crash or power loss inside that
// window can lose a transaction that a reader saw but whose writer was not
// yet answered, which is the same promise as before for everything that
// was acknowledged.
type walSync struct {
	path string // the -wal file

	// sync is fdatasync of the WAL file (replaced in tests).
	sync func() error
	// onCommit, if set, is called after each commit (the checkpointer).
	onCommit func()

	mu        sync.Mutex
	cond      *sync.Cond
	committed uint64 // commits made
	synced    uint64 // commits covered by a finished fdatasync
	started   uint64 // commits covered by the latest fdatasync begun
	inflight  int    // fdatasyncs running
	// failed is the first failed sync. It sticks: Linux reports a lost
	// writeback once, so a later fdatasync could succeed although pages
	// of earlier commits never reached the disk. Every later write fails
	// until the process restarts and SQLite recovers from what is on
	// disk (PostgreSQL panics for the same reason).
	failed error

	fmu    sync.Mutex
	f      *os.File // the WAL, opened at the first sync and kept
	closed bool     // by close: no more syncs (the store is closed)
}

// walSyncsInFlight is how many fdatasyncs may run at once. A commit made
// while one is in flight starts a second at once instead of waiting for
// the first to return: its waiters wait for about one sync, not up to
// two. Each covers what was written before it began, whichever returns
// first.
const walSyncsInFlight = 2

// newWALSync returns the syncer of the WAL of the database file dbPath
// (the name SQLite itself uses: PRAGMA database_list).
func newWALSync(dbPath string) *walSync {
	w := &walSync{path: dbPath + "-wal"}
	w.sync = w.fdatasync
	w.cond = sync.NewCond(&w.mu)
	return w
}

// commit records a commit that just returned and returns its number.
func (w *walSync) commit() uint64 {
	w.mu.Lock()
	w.committed++
	seq := w.committed
	w.mu.Unlock()
	if w.onCommit != nil {
		w.onCommit()
	}
	return seq
}

// wait returns once commit seq is on disk. A waiter whose commit no
// running sync covers starts one for everything committed so far (if
// fewer than walSyncsInFlight run); the others wait for theirs.
func (w *walSync) wait(seq uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced < seq {
		if w.failed != nil {
			return w.failed
		}
		if w.started >= seq || w.inflight >= walSyncsInFlight {
			w.cond.Wait()
			continue
		}
		w.inflight++
		target := w.committed
		w.started = target
		w.mu.Unlock()
		err := w.sync()
		w.mu.Lock()
		w.inflight--
		w.cond.Broadcast()
		if err != nil {
			if w.failed == nil {
				w.failed = fmt.Errorf("%w (the store accepts no more writes; restart the process)", err)
			}
			return w.failed
		}
		// fdatasync makes durable what was written before it began,
		// so a sync that returns before an older one still covers
		// everything up to its own target.
		w.synced = max(w.synced, target)
	}
	return nil
}

// fdatasync syncs the WAL file. It is opened by name at the first sync and
// kept open, so it sees every writeback error from then on (an fd opened
// later would not see an earlier one). SQLite does not delete the WAL
// while a connection is open (every connection holds a shared lock), and
// its path is the one SQLite reports (see newWALSync's caller), so a
// missing file is an error, not a reason to skip the sync.
func (w *walSync) fdatasync() error {
	w.fmu.Lock()
	if w.closed {
		w.fmu.Unlock()
		return ErrClosed
	}
	if w.f == nil {
		f, err := os.OpenFile(w.path, os.O_RDWR, 0)
		if err != nil {
			w.fmu.Unlock()
			return fmt.Errorf("store: open WAL for sync: %w", err)
		}
		w.f = f
	}
	f := w.f
	w.fmu.Unlock()
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("store: sync WAL: %w", err)
	}
	return nil
}

// close closes the WAL file, once no sync runs; later syncs fail.
func (w *walSync) close() {
	w.mu.Lock()
	for w.inflight > 0 {
		w.cond.Wait()
	}
	w.mu.Unlock()
	w.fmu.Lock()
	defer w.fmu.Unlock()
	w.closed = true
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// Durable waits until the writes committed so far are on disk (SQLite;
// PostgreSQL's COMMIT already waited).
func (db *DB) Durable() error {
	if db.wal == nil {
		return nil
	}
	return db.wal.wait(db.wal.commit())
}

// Committed records a write transaction that just committed outside
// WriteTx (WriteTxOnce, WriteTxNoSync) and returns its number for
// WaitDurable; 0 on PostgreSQL, whose commits are durable when they return.
func (db *DB) Committed() uint64 {
	if db.wal == nil {
		return 0
	}
	return db.wal.commit()
}

// WaitDurable returns once commit seq (from Committed) is on disk, or the
// sync failed: nothing of that commit may be acknowledged before it
// returned nil. On PostgreSQL (and for seq 0) it returns nil at once.
func (db *DB) WaitDurable(seq uint64) error {
	if db.wal == nil || seq == 0 {
		return nil
	}
	return db.wal.wait(seq)
}

// SyncsAfterCommit reports whether commits become durable only through
// WaitDurable (SQLite), rather than when they return (PostgreSQL).
func (db *DB) SyncsAfterCommit() bool { return db.wal != nil }

// WrapWALSync replaces the fdatasync of SQLite's WAL with wrap(sync), for
// tests that count or hold syncs. It must be called before the DB is
// shared; on PostgreSQL it does nothing.
func (db *DB) WrapWALSync(wrap func(sync func() error) func() error) {
	if db.wal != nil {
		db.wal.sync = wrap(db.wal.sync)
	}
}
