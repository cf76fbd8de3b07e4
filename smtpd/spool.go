package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/semaphore"
)

// Message data during DATA. Up to Resources.SpoolThreshold bytes are kept
// in memory; past it the data goes to a file in Resources.SpoolDir,
// created 0600 and unlinked at once, so that nothing is left behind
// whatever happens to the process (CleanSpool removes what a crash
// between the two left). The store takes the message as one []byte at
// commit: it is read back then, under the MemoryBudget, so that however
// many slow transfers run, only the budget's worth of messages is in
// memory at once.

// spoolPattern names the spool files (os.CreateTemp pattern).
const spoolPattern = "congthu-data-*.tmp"

// MemoryBudget bounds the bytes of messages being checked and committed at
// once. One budget may be shared by several servers.
type MemoryBudget struct {
	size int64
	sem  *semaphore.Weighted
}

// NewMemoryBudget returns a budget of size bytes.
func NewMemoryBudget(size int64) *MemoryBudget {
	size = max(size, 1)
	return &MemoryBudget{size: size, sem: semaphore.NewWeighted(size)}
}

// acquire waits for n bytes of room (the whole budget if n is larger) and
// returns the function giving them back.
func (b *MemoryBudget) acquire(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(n) }, nil
}

// CleanSpool removes the spool files a previous run left in dir and
// returns how many there were. A missing dir is created (0700).
func CleanSpool(dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("smtpd: spool dir: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if err := os.Remove(name); err == nil {
			n++
		}
	}
	return n, nil
}

// spooler receives message data for one server.
type spooler struct {
	dir       string
	threshold int
	mem       *MemoryBudget
}

func newSpooler(r Resources) *spooler {
	dir := r.SpoolDir
	if dir == "" {
		dir = os.TempDir()
	}
	return &spooler{dir: dir, threshold: r.SpoolThreshold, mem: r.Memory}
}

// spooled is one message's data: in memory (after headroom bytes of room
// for the fields prepended at commit) or in an unlinked file.
type spooled struct {
	sp  *spooler
	buf []byte // headroom + data while in memory
	f   *os.File
	n   int64 // data bytes
}

// receive reads r (the DATA stream) to its end. The result holds what
// was read even on error (n says how much); Close it.
func (sp *spooler) receive(r io.Reader) (*spooled, error) {
	s := &spooled{sp: sp, buf: make([]byte, headroom, headroom+16<<10)}
	var chunk []byte
	for {
		if s.f == nil {
			if len(s.buf) == cap(s.buf) {
				s.buf = append(s.buf, 0)[:len(s.buf)]
			}
			k, err := r.Read(s.buf[len(s.buf):cap(s.buf)])
			s.buf = s.buf[:len(s.buf)+k]
			s.n += int64(k)
			if err != nil {
				return s, eofOK(err)
			}
			if len(s.buf)-headroom > sp.threshold {
				if err := s.toFile(); err != nil {
					return s, err
				}
				chunk = make([]byte, 32<<10)
			}
			continue
		}
		k, err := r.Read(chunk)
		if k > 0 {
			if _, werr := s.f.Write(chunk[:k]); werr != nil {
				return s, fmt.Errorf("spool: %w", werr)
			}
			s.n += int64(k)
		}
		if err != nil {
			return s, eofOK(err)
		}
	}
}

func eofOK(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// toFile moves the data held in memory to a new spool file.
func (s *spooled) toFile() error {
	f, err := os.CreateTemp(s.sp.dir, spoolPattern)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	// Unlinked at once: the open file is all there is of it.
	os.Remove(f.Name())
	if _, err := f.Write(s.buf[headroom:]); err != nil {
		f.Close()
		return fmt.Errorf("spool: %w", err)
	}
	s.f, s.buf = f, nil
	return nil
}

// load returns the message with headroom bytes of room in front, after
// waiting for room in the memory budget; call release when done with it.
func (s *spooled) load(ctx context.Context) (buf []byte, release func(), err error) {
	release, err = s.sp.mem.acquire(ctx, int64(headroom)+s.n)
	if err != nil {
		return nil, nil, fmt.Errorf("wait for memory: %w", err)
	}
	if s.f == nil {
		return s.buf, release, nil
	}
	buf = make([]byte, headroom+int(s.n))
	if _, err := s.f.ReadAt(buf[headroom:], 0); err != nil && !errors.Is(err, io.EOF) {
		release()
		return nil, nil, fmt.Errorf("read spool: %w", err)
	}
	return buf, release, nil
}

// Close drops the data (closing the unlinked file frees its space).
func (s *spooled) Close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.buf = nil
}
