package sqldb

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Checkpoints on SQLite, off the writer.
//
// In WAL mode committed pages are appended to the WAL and copied back into
// the database file by a checkpoint. By default the connection that
// commits runs one after a commit that takes the WAL past 1,000 frames,
// while it holds the only write lock: it reads the frames back, writes
// them into the database file and fsyncs the WAL and the database file,
// and every writer waits. On a busy store that was a third of the
// writer's time.
//
// Instead a checkpointer with a connection of its own runs PASSIVE
// checkpoints in the background after commits (at most every
// checkpointInterval): it copies what is committed without taking the
// write lock, so the writer goes on appending meanwhile. A passive
// checkpoint cannot reset the WAL while frames are being added behind it,
// so the writer keeps an automatic checkpoint at a much larger size
// (walAutocheckpointFrames): when it fires, the background has copied
// nearly everything and it copies only the tail, after which the next
// write transaction starts the WAL from its beginning again. That bounds
// the WAL file at about walAutocheckpointBytes (while no reader holds an
// old snapshot: then, as before, it grows until the reader is done).
type checkpointer struct {
	db   *sql.DB
	log  *slog.Logger
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

const (
	// checkpointInterval is the pause between background checkpoints.
	// Longer copies a page changed many times in between only once;
	// shorter leaves a smaller tail for the writer to copy itself when the
	// WAL wraps (a stall of every writer). 25 ms cut the API benchmark's
	// p99 from 36-38 ms to 27-31 ms but took the end-to-end run's headroom
	// (95% within 1 s in 2 of 4 runs instead of 3 of 4).
	checkpointInterval = 100 * time.Millisecond
	// walAutocheckpointBytes is the WAL size at which the writer runs its
	// own checkpoint (SQLite counts it in frames: pages).
	walAutocheckpointBytes = 64 << 20
)

// walAutocheckpointFrames returns the writer's checkpoint threshold for
// the database file at path, from the page size in its header (bytes 16-17,
// big-endian; 1 means 65536).
func walAutocheckpointFrames(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("store: read page size: %w", err)
	}
	defer f.Close()
	var hdr [18]byte
	if _, err := io.ReadFull(f, hdr[:]); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return walAutocheckpointBytes / sqlitePageSize, nil // empty: SQLite makes it a new database
	} else if err != nil {
		return 0, fmt.Errorf("store: read page size of %s: %w", path, err)
	}
	size := int(binary.BigEndian.Uint16(hdr[16:]))
	if size == 1 {
		size = 65536
	}
	if size < 512 || size&(size-1) != 0 {
		return 0, fmt.Errorf("store: %s: page size %d in the header: not an SQLite database", path, size)
	}
	return walAutocheckpointBytes / size, nil
}

func newCheckpointer(path string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(15000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("store: open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// poke says a commit was made. It never blocks.
func (c *checkpointer) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		c.checkpoint()
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointInterval):
		}
	}
}

// checkpoint runs one passive checkpoint. A failure is logged: the WAL
// keeps everything, and the writer's own checkpoint still runs.
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var busy, logFrames, copied int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied); err != nil {
		c.log.Warn("store: background checkpoint failed", "err", err)
		return
	}
	c.log.Debug("store: background checkpoint", "busy", busy, "wal_frames", logFrames, "checkpointed", copied)
}

func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
	c.db.Close()
}
