package store

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

func walFrames(t *testing.T, s *Store) int {
	t.Helper()
	var busy, frames, copied int
	if err := s.ckpt.db.QueryRow("PRAGMA wal_checkpoint(NOOP)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	return frames
}

// storeWithoutCheckpoints opens a store with service "motcua" whose
// background checkpointer is no longer told of commits (and has finished
// what it was told before).
func storeWithoutCheckpoints(t *testing.T) *Store {
	t.Helper()
	s, err := Open(ctx, Options{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.AddAPIKey(ctx, "motcua", "hash-k", "ct_live_k", false); err != nil {
		t.Fatal(err)
	}
	s.wal.onCommit = func() {}
	time.Sleep(2 * checkpointInterval)
	return s
}

// TestWALVFSOneWritePerCommit: the writer's WAL frames reach the kernel in
// one write per commit, not two per frame as SQLite issues them.
func TestWALVFSOneWritePerCommit(t *testing.T) {
	// No background checkpoints while counting: they write pages of
	// the database file, one call each.
	s := storeWithoutCheckpoints(t)
	const commits = 20
	f0, w0 := walFrames(t, s), writeSyscalls(t)
	for i := range commits {
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{eventRequest(2 * i), eventRequest(2*i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	frames, writes := walFrames(t, s)-f0, writeSyscalls(t)-w0
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
	s, err := Open(ctx, Options{DataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddAPIKey(ctx, "motcua", "hash-k", "ct_live_k", false); err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range 30 {
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{eventRequest(i)}); err != nil {
			t.Fatal(err)
		}
		want += 2
	}
	big := make([]*NotificationRequest, 60) // about 600 KB of frames
	for i := range big {
		big[i] = eventRequest(1000 + i)
	}
	if _, err := s.CreateNotifications(ctx, big); err != nil {
		t.Fatal(err)
	}
	want += 2 * len(big)
	if walFrames(t, s) == 0 {
		t.Fatal("the WAL is empty: nothing to recover")
	}

	crash := t.TempDir()
	for _, name := range []string{"congthu.db", "congthu.db-wal"} {
		copyFile(t, filepath.Join(dir, name), filepath.Join(crash, name))
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(crash, "congthu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM notifications").Scan(&n); err != nil || n != want {
		t.Fatalf("recovered %d notifications (%v), want %d", n, err, want)
	}
	var ok string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
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
	s := storeWithoutCheckpoints(t) // none restarts the WAL meanwhile
	commit := func(i int) {
		t.Helper()
		if _, err := s.CreateNotifications(ctx, []*NotificationRequest{eventRequest(i)}); err != nil {
			t.Fatal(err)
		}
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
	if err := s.ckpt.db.QueryRow("PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied); err != nil || busy != 0 || copied != frames {
		t.Fatalf("checkpoint: busy %d, %d of %d frames, %v", busy, copied, frames, err)
	}
	before = walVFSSyncs.Load()
	commit(6)
	if n := walVFSSyncs.Load() - before; n != 1 {
		t.Errorf("%d WAL syncs in the writer for the first commit after a restart, want 1 (the new header)", n)
	}
	if got := walFrames(t, s); got == 0 || got > frames {
		t.Errorf("WAL has %d frames after the restart (%d before): it did not restart", got, frames)
	}
}
