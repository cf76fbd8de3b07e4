package sqldb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// walVFSName is the SQLite VFS the store's writer connection opens the
// database with: the default "unix" VFS, except that the connection's
// writes to the WAL file are gathered and handed to the kernel in one
// pwrite per commit (readers and the checkpointer use "unix" itself).
//
// SQLite writes every WAL frame with two pwrite calls, its 24-byte header
// and its page: a group commit of API requests is about a hundred system
// calls, which on a virtual machine cost more than the B-tree work (11% of
// the API's CPU, measured). The writes of a commit are contiguous, so they
// are kept in a buffer and written together when SQLite syncs the WAL at
// the end of the commit. The writer connection runs synchronous=FULL so
// that it does, and the store's own WAL sync (walsync.go) still makes the
// commit durable before anything is acknowledged. What the buffer changes:
//
//   - xSync with frames in the buffer that end with a commit frame is a
//     commit's sync: the frames are written, and the fdatasync is left to
//     walsync.go (outside the write lock, as under synchronous=NORMAL
//     before). The frames are visible to other connections only once
//     SQLite has updated the WAL index, which it does after this sync.
//   - Any other xSync writes the buffer and is a real fsync: a checkpoint
//     syncing the WAL before it copies frames into the database file, and
//     the sync of a new WAL header when the WAL restarts (SQLite's fix for
//     its ticket ff5be73dee: the header must be durable before frames of
//     the new cycle).
//   - Every other call on the file (read, size, truncate, file control,
//     close) writes the buffer first, so SQLite sees the file it wrote.
//   - A write that does not follow the buffered ones writes the buffer
//     first; so does a buffer past walVFSBufferMax.
const walVFSName = "congthu-wal"

// walVFSBufferMax bounds a WAL file's write buffer.
const walVFSBufferMax = 4 << 20

// walVFSWriteMax is the most the unix VFS writes in one call (its
// seekAndWriteFd keeps 17 bits of the length); a larger buffer is
// written in pieces of this size.
const walVFSWriteMax = 1<<17 - 1

var walVFS struct {
	once sync.Once
	err  error
	// unix is the default VFS; open its xOpen.
	open uintptr
	// methods maps the io_methods of a file the default VFS opened to
	// ours (C memory, never freed: one per kind of unix file).
	mu      sync.Mutex
	methods map[uintptr]uintptr
	orig    map[uintptr]*sqlite3.Tsqlite3_io_methods // ours -> the wrapped one
	files   sync.Map                                 // pFile -> *walFile
}

// walFile is the write buffer of one open WAL file (one connection's).
type walFile struct {
	orig *sqlite3.Tsqlite3_io_methods
	buf  uintptr // C memory of cap bytes
	cap  int
	n    int   // bytes buffered
	off  int64 // file offset of buf[0]
	// commit: the last frame header written says the frame ends a
	// transaction (its commit field, bytes 4-7, is not zero).
	commit bool
}

// walVFSSyncs counts the WAL syncs walSyncFile passes on (for tests).
var walVFSSyncs atomic.Int64

// walHeader and walFrameHeader are the sizes of the WAL file's header and
// of a frame's.
const (
	walHeader      = 32
	walFrameHeader = 24
)

// registerWALVFS registers walVFSName once.
func registerWALVFS() error {
	walVFS.once.Do(func() {
		tls := libc.NewTLS()
		def := sqlite3.Xsqlite3_vfs_find(tls, 0)
		if def == 0 {
			walVFS.err = fmt.Errorf("store: no default SQLite VFS")
			return
		}
		v := libc.Xmalloc(tls, sqlite3.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
		name, err := libc.CString(walVFSName)
		if v == 0 || err != nil {
			walVFS.err = fmt.Errorf("store: allocate the WAL VFS: out of memory")
			return
		}
		vfs := (*sqlite3.Tsqlite3_vfs)(cptr(v))
		*vfs = *(*sqlite3.Tsqlite3_vfs)(cptr(def))
		vfs.FpNext, vfs.FzName = 0, name
		walVFS.open = vfs.FxOpen
		vfs.FxOpen = cFunc(walVFSOpen)
		walVFS.methods = map[uintptr]uintptr{}
		walVFS.orig = map[uintptr]*sqlite3.Tsqlite3_io_methods{}
		if rc := sqlite3.Xsqlite3_vfs_register(tls, v, 0); rc != sqlite3.SQLITE_OK {
			walVFS.err = fmt.Errorf("store: register the WAL VFS: SQLite error %d", rc)
		}
	})
	return walVFS.err
}

// cptr is the pointer to C memory (allocated by modernc.org/libc, outside
// Go's heap) at address p.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// cFunc turns a top-level Go function into the C function pointer the
// transpiled SQLite calls (as modernc.org/sqlite does for its callbacks).
func cFunc[T any](f T) uintptr { return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f})) }

func walVFSOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	rc := (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{walVFS.open})))(tls, pVfs, zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || flags&sqlite3.SQLITE_OPEN_WAL == 0 {
		return rc
	}
	f := (*sqlite3.Tsqlite3_file)(cptr(pFile))
	if f.FpMethods == 0 {
		return rc
	}
	walVFS.mu.Lock()
	ours, ok := walVFS.methods[f.FpMethods]
	if !ok {
		m := libc.Xmalloc(tls, sqlite3.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
		if m == 0 {
			walVFS.mu.Unlock()
			return rc // unbuffered: still correct
		}
		orig := (*sqlite3.Tsqlite3_io_methods)(cptr(f.FpMethods))
		w := (*sqlite3.Tsqlite3_io_methods)(cptr(m))
		*w = *orig
		w.FxClose, w.FxRead, w.FxWrite, w.FxTruncate = cFunc(walClose), cFunc(walRead), cFunc(walWrite), cFunc(walTruncate)
		w.FxSync, w.FxFileSize, w.FxFileControl = cFunc(walSyncFile), cFunc(walFileSize), cFunc(walFileControl)
		walVFS.methods[f.FpMethods], walVFS.orig[m] = m, orig
		ours = m
	}
	orig := walVFS.orig[ours]
	walVFS.mu.Unlock()
	walVFS.files.Store(pFile, &walFile{orig: orig})
	f.FpMethods = ours
	return rc
}

func walFileOf(pFile uintptr) *walFile {
	v, _ := walVFS.files.Load(pFile)
	return v.(*walFile)
}

// write calls the wrapped xWrite.
func (w *walFile) write(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxWrite})))(tls, pFile, buf, n, off)
}

// flush writes the buffer with the wrapped xWrite.
func (w *walFile) flush(tls *libc.TLS, pFile uintptr) int32 {
	if w.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n := w.n
	w.n = 0
	for done := 0; done < n; {
		k := min(n-done, walVFSWriteMax)
		rc := w.write(tls, pFile, w.buf+uintptr(done), int32(k), w.off+int64(done))
		if rc != sqlite3.SQLITE_OK {
			return rc
		}
		done += k
	}
	return sqlite3.SQLITE_OK
}

func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	w := walFileOf(pFile)
	switch {
	case iAmt == walFrameHeader:
		h := unsafe.Slice((*byte)(cptr(zBuf)), walFrameHeader)
		w.commit = h[4]|h[5]|h[6]|h[7] != 0
	case iOfst < walHeader:
		w.commit = false // the WAL's header: the WAL restarts
	}
	if w.n > 0 && (w.off+int64(w.n) != iOfst || w.n+int(iAmt) > walVFSBufferMax) {
		if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if int(iAmt) > walVFSWriteMax {
		return w.write(tls, pFile, zBuf, iAmt, iOfst)
	}
	if need := w.n + int(iAmt); need > w.cap {
		c := max(need, 2*w.cap, 64<<10)
		c = min(c, walVFSBufferMax)
		nb := libc.Xrealloc(tls, w.buf, sqlite3.Tsize_t(c))
		if nb == 0 {
			// Out of memory: write through.
			if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
				return rc
			}
			return w.write(tls, pFile, zBuf, iAmt, iOfst)
		}
		w.buf, w.cap = nb, c
	}
	if w.n == 0 {
		w.off = iOfst
	}
	copy(unsafe.Slice((*byte)(cptr(w.buf+uintptr(w.n))), iAmt), unsafe.Slice((*byte)(cptr(zBuf)), iAmt))
	w.n += int(iAmt)
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	w := walFileOf(pFile)
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxRead})))(tls, pFile, zBuf, iAmt, iOfst)
}

// walSyncFile: see walVFSName for why a sync of buffered frames that end
// with a commit frame only writes them. Any other sync writes what is
// buffered and syncs: a checkpoint's (nothing buffered), the one SQLite
// makes after writing a new WAL header when the WAL restarts (the header
// must be on disk before frames of the new cycle can be, or recovery could
// replay the old cycle's frames over the database), and one after frames
// of a transaction that did not commit.
func walSyncFile(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	w := walFileOf(pFile)
	commit := w.n > 0 && w.commit
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK || commit {
		return rc
	}
	walVFSSyncs.Add(1)
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxSync})))(tls, pFile, flags)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	w := walFileOf(pFile)
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxTruncate})))(tls, pFile, size)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	w := walFileOf(pFile)
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxFileSize})))(tls, pFile, pSize)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	w := walFileOf(pFile)
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxFileControl})))(tls, pFile, op, pArg)
}

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	w := walFileOf(pFile)
	rc := w.flush(tls, pFile)
	if w.buf != 0 {
		libc.Xfree(tls, w.buf)
		w.buf, w.cap = 0, 0
	}
	walVFS.files.Delete(pFile)
	crc := (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{w.orig.FxClose})))(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return crc
}
