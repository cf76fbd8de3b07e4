// Package connlimit counts a server's open connections, in total and per
// client, so that one client cannot take every slot. The SMTP servers
// (submission and MX), the IMAP server and the HTTP API share it.
//
// Clients are counted by Key: the IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64). An exemption function
// (see Exempt) spares trusted networks the per-client cap, as Postfix
// spares $mynetworks; the total cap applies to everyone.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"congthu/loginlimit"
)

// Refusal says why Acquire refused a connection.
type Refusal int

const (
	// Accepted: not refused.
	Accepted Refusal = iota
	// TooMany: the server's total cap is reached.
	TooMany
	// TooManyFromClient: the client's own cap is reached.
	TooManyFromClient
)

// Limiter caps open connections in total and per client. The zero value
// is not usable; create one with New.
type Limiter struct {
	max, maxPerClient int
	exempt            func(netip.Addr) bool

	mu     sync.Mutex
	total  int
	perKey map[netip.Addr]int
}

// New returns a Limiter allowing max connections in all (0 or less: no
// total cap) and maxPerClient from one client (0 or less: no per-client
// cap). exempt, if not nil, names the clients the per-client cap spares.
func New(max, maxPerClient int, exempt func(netip.Addr) bool) *Limiter {
	return &Limiter{max: max, maxPerClient: maxPerClient, exempt: exempt, perKey: map[netip.Addr]int{}}
}

// Slot is one accepted connection's place in a Limiter; give it back with
// Release.
type Slot struct {
	key     netip.Addr
	counted bool // against the per-client cap
	valid   bool
}

// Acquire takes a slot for a connection from ip, or says why not.
func (l *Limiter) Acquire(ip netip.Addr) (Slot, Refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.total >= l.max {
		return Slot{}, TooMany
	}
	s := Slot{valid: true}
	if l.maxPerClient > 0 && (l.exempt == nil || !l.exempt(ip)) {
		k := Key(ip)
		if l.perKey[k] >= l.maxPerClient {
			return Slot{}, TooManyFromClient
		}
		l.perKey[k]++
		s.key, s.counted = k, true
	}
	l.total++
	return s, Accepted
}

// Release gives a slot back. Releasing the zero Slot does nothing.
func (l *Limiter) Release(s Slot) {
	if !s.valid {
		return
	}
	l.mu.Lock()
	l.total--
	if s.counted {
		if n := l.perKey[s.key] - 1; n > 0 {
			l.perKey[s.key] = n
		} else {
			delete(l.perKey, s.key)
		}
	}
	l.mu.Unlock()
}

// Open returns the number of connections holding a slot.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Key is what per-client limits count by: the address, or for IPv6 its
// /64. An IPv4-mapped IPv6 address counts as the IPv4 address.
func Key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return ip
}

// Exempt returns the exemption function for a list of trusted networks:
// a client in one of them is exempt, and so is a loopback client when
// loopback is true.
func Exempt(networks []netip.Prefix, loopback bool) func(netip.Addr) bool {
	networks = append([]netip.Prefix(nil), networks...)
	return func(ip netip.Addr) bool {
		ip = ip.Unmap()
		if loopback && ip.IsLoopback() {
			return true
		}
		for _, p := range networks {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
}

// Listener wraps a net.Listener: every accepted connection takes a slot
// in Limiter, given back when the connection is closed. A connection
// refused is handed to Refuse (in a goroutine of its own, so a slow
// client does not hold up Accept), which answers it as the protocol says
// and closes it; nil Refuse just closes it.
type Listener struct {
	net.Listener
	Limiter *Limiter
	Refuse  func(c net.Conn, why Refusal)
}

// Accept returns the next connection allowed by the limiter.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		slot, why := l.Limiter.Acquire(loginlimit.AddrOf(c.RemoteAddr()))
		if why == Accepted {
			return &Conn{Conn: c, lim: l.Limiter, slot: slot}, nil
		}
		if l.Refuse == nil {
			c.Close()
			continue
		}
		go func() {
			defer func() {
				recover() // a refusal must never take the server down
				c.Close()
			}()
			l.Refuse(c, why)
		}()
	}
}

// Conn is a connection holding a slot until it is closed.
type Conn struct {
	net.Conn
	lim  *Limiter
	slot Slot
	once sync.Once
}

// Close closes the connection and gives its slot back.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.lim.Release(c.slot) })
	return err
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// WriteAndLinger writes a refusal reply to c, then reads and discards what
// the client sends for up to linger (at most 64 KiB), so that closing does
// not reset the connection before the client has read the reply. The
// caller closes c.
func WriteAndLinger(c net.Conn, reply string, linger time.Duration) {
	c.SetWriteDeadline(time.Now().Add(linger))
	if _, err := c.Write([]byte(reply)); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(linger))
	buf := make([]byte, 4096)
	for n := 0; n < 64<<10; {
		k, err := c.Read(buf)
		n += k
		if err != nil {
			return
		}
	}
}
