package imapd

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Corking. imapserver flushes its writer after every response, so a FETCH
// of 10,000 messages' FLAGS and ENVELOPE is 10,000 write system calls (and,
// over TLS, 10,000 records). Every accepted connection is wrapped in a
// corkConn; while a command that writes many small responses runs, the
// session corks it: writes collect in memory and go out in pieces of
// corkMax bytes, and uncork sends the rest before the tagged reply.

// corkMax is how much corked output is held before it is written.
const corkMax = 64 << 10

// corkWriteTimeout bounds the write of held output at uncork (imapserver
// bounds its own writes by 30 s; ours happen outside them).
const corkWriteTimeout = 30 * time.Second

// corkListener wraps accepted connections in corkConns.
type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

// corkConn is a net.Conn whose writes can be held back (see cork).
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, corkMax); return &b }}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) <= corkMax {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	if len(p) >= corkMax {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// cork holds writes back until uncork.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		return
	}
	c.corked = true
	c.buf = (*corkBufs.Get().(*[]byte))[:0]
}

// uncork writes what was held, within corkWriteTimeout, and stops holding.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return nil
	}
	var err error
	if len(c.buf) > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(corkWriteTimeout))
		err = c.flushLocked()
		c.Conn.SetWriteDeadline(time.Time{})
	}
	c.corked = false
	b := c.buf[:0]
	c.buf = nil
	corkBufs.Put(&b)
	return err
}

// corkOf finds the corkConn under a session's connection (through TLS),
// or nil.
func corkOf(c net.Conn) *corkConn {
	for {
		switch v := c.(type) {
		case *corkConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		default:
			return nil
		}
	}
}
