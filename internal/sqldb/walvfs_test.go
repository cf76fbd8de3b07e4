package sqldb

import (
	"bufio"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeSyscalls returns this process's count of write system calls
// (syscw in /proc/self/io).
func writeSyscalls(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "syscw: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no syscw in /proc/self/io")
	return 0
}

func walFrames(t *testing.T, db *DB) int {
	t.Helper()
	var busy, frames, copied int
	if err := db.ckpt.db.QueryRow("PRAGMA wal_checkpoint(NOOP)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	return frames
}

// dbWithoutCheckpoints opens a database (with the test table) whose
// background checkpointer is no longer told of commits (and has finished
// what it was told before).
func dbWithoutCheckpoints(t *testing.T) *DB {
	t.Helper()
	db := openTestDB(t, t.TempDir())
	db.wal.onCommit = func() {}
	time.Sleep(2 * checkpointInterval)
	return db
}

// TestWALVFSOneWritePerCommit: the writer's WAL frames reach the kernel in
// one write per commit, not two per frame as SQLite issues them.
func TestWALVFSOneWritePerCommit(t *testing.T) {
	// No background checkpoints while counting: they write pages of
	// the database file, one call each.
	db := dbWithoutCheckpoints(t)
	const commits = 20
	f0, w0 := walFrames(t, db), writeSyscalls(t)
	for i := range commits {
		insertRows(t, db, 3*i, 3, 30<<10) // about 12 pages
	}
	frames, writes := walFrames(t, db)-f0, writeSyscalls(t)-w0
	if frames < 5*commits {
		t.Fatalf("%d WAL frames for %d commits: the WAL was reset midway?", frames, commits)
	}
	// Unbuffered, SQLite writes each frame's header and page apart: two
	// calls a frame. Gathered, a commit is one call per 128 KB (16
	// frames), and a frame or two of the WAL's header and its checkpoint
	// bookkeeping may come on top.
	if limit := int64(frames/8 + commits/4); writes > limit {
		t.Errorf("%d write system calls for %d commits of %d frames, want at most %d", writes, commits, frames, limit)
	}
	t.Logf("%d commits, %d frames, %d write system calls", commits, frames, writes)
}

// TestWALVFSCrashCopyRecovers: the WAL the buffered writer leaves is one
// SQLite's own recovery reads. The database and WAL files are copied while
// the store is open (as a crash would leave them, without the shared
// index), and opened with the default VFS: every committed row is there,
// including a commit of more than walVFSWriteMax bytes written in pieces.
func TestWALVFSCrashCopyRecovers(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	want := 0
	for i := range 30 {
		insertRows(t, db, 2*i, 2, 1000)
		want += 2
	}
	insertRows(t, db, 1000, 60, 10<<10) // about 600 KB of frames
	want += 60
	if walFrames(t, db) == 0 {
		t.Fatal("the WAL is empty: nothing to recover")
	}

	crash := t.TempDir()
	for _, name := range []string{"congthu.db", "congthu.db-wal"} {
		copyFile(t, filepath.Join(dir, name), filepath.Join(crash, name))
	}
	rec, err := sql.Open("sqlite", "file:"+filepath.Join(crash, "congthu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var n int
	if err := rec.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != want {
		t.Fatalf("recovered %d rows (%v), want %d", n, err, want)
	}
	var ok string
	if err := rec.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWALVFSRestartSyncs: a commit's sync only writes its frames, but when
// the WAL restarts after a complete checkpoint, the new WAL header is
// synced before frames of the new cycle are written (SQLite's ticket
// ff5be73dee), as it was without the VFS.
func TestWALVFSRestartSyncs(t *testing.T) {
	db := dbWithoutCheckpoints(t) // none restarts the WAL meanwhile
	commit := func(i int) {
		t.Helper()
		insertRows(t, db, i, 1, 2000)
	}
	commit(0)
	before := walVFSSyncs.Load()
	for i := 1; i <= 5; i++ {
		commit(i)
	}
	if n := walVFSSyncs.Load() - before; n != 0 {
		t.Errorf("%d WAL syncs in the writer for 5 commits, want 0 (walsync.go syncs)", n)
	}
	var busy, frames, copied int
	if err := db.ckpt.db.QueryRow("PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied); err != nil || busy != 0 || copied != frames {
		t.Fatalf("checkpoint: busy %d, %d of %d frames, %v", busy, copied, frames, err)
	}
	before = walVFSSyncs.Load()
	commit(6)
	if n := walVFSSyncs.Load() - before; n != 1 {
		t.Errorf("%d WAL syncs in the writer for the first commit after a restart, want 1 (the new header)", n)
	}
	if got := walFrames(t, db); got == 0 || got > frames {
		t.Errorf("WAL has %d frames after the restart (%d before): it did not restart", got, frames)
	}
}

// openTestDB opens an SQLite database in dir with a table t (k, v) and
// closes it at the end of the test.
func openTestDB(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.WriteTx(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, k INTEGER UNIQUE, v BLOB)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// insertRows commits n rows of size bytes, keys from k, in one transaction.
func insertRows(t *testing.T, db *DB, k, n, size int) {
	t.Helper()
	err := db.WriteTx(ctx, func(tx Tx) error {
		for i := range n {
			if _, err := tx.Exec(ctx, "INSERT INTO t (k, v) VALUES (?, ?)", k+i, make([]byte, size)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
