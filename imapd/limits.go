package imapd

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"congthu/connlimit"
)

// Defaults of the connection limits in Options.
const (
	DefaultMaxConnections      = 5000
	DefaultMaxConnectionsPerIP = 100
	DefaultLoginTimeout        = time.Minute
)

// Connection limits (RFC 9051 section 7.1.5: BYE instead of the greeting
// when the server will not serve the client).
const (
	byeTooMany     = "* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
	byeTooManyFrom = "* BYE [UNAVAILABLE] Too many connections from your address, try again later\r\n"
	byeLoginTime   = "Login time limit reached"
)

// limits returns the connection limiter the options describe.
func (o *Options) limiter() *connlimit.Limiter {
	total, perIP := o.MaxConnections, o.MaxConnectionsPerIP
	if total == 0 {
		total = DefaultMaxConnections
	}
	if perIP == 0 {
		perIP = DefaultMaxConnectionsPerIP
	}
	return connlimit.New(max(total, 0), max(perIP, 0), connlimit.Exempt(o.LimitExempt, !o.LimitLoopback))
}

func (o *Options) loginTimeout() time.Duration {
	if o.LoginTimeout == 0 {
		return DefaultLoginTimeout
	}
	return o.LoginTimeout
}

// limitListener caps the connections accepted on ln. A refused client is
// told BYE (over TLS when tlsConfig is set, for implicit TLS) and closed.
func (s *Server) limitListener(ln net.Listener, tlsConfig *tls.Config) net.Listener {
	return &connlimit.Listener{Listener: ln, Limiter: s.limit, Refuse: func(c net.Conn, why connlimit.Refusal) {
		reply := byeTooMany
		if why == connlimit.TooManyFromClient {
			reply = byeTooManyFrom
		}
		s.log.Warn("imapd: connection refused", "remote", c.RemoteAddr().String(), "reply", reply[:len(reply)-2])
		if tlsConfig != nil {
			tc := tls.Server(c, tlsConfig)
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		connlimit.WriteAndLinger(c, reply, 2*time.Second)
	}}
}

// startLoginTimer ends the session with BYE if it has not logged in
// within Options.LoginTimeout: the read timeout between commands alone
// lets a client that never logs in keep its connection for ever with a
// NOOP now and then.
func (s *session) startLoginTimer() {
	d := s.srv.opts.loginTimeout()
	if d <= 0 {
		return
	}
	t := time.AfterFunc(d, func() {
		if s.authed.Load() || s.ctx.Err() != nil {
			return
		}
		s.srv.log.Info("imapd: login time limit reached", "ip", s.ip, "after", d)
		s.bye(byeLoginTime)
	})
	context.AfterFunc(s.ctx, func() { t.Stop() })
}
