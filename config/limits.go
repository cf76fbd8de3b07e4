package config

import (
	"net/netip"
	"time"
)

// Limits bounds what one client can hold of the servers: connections,
// time and memory. The MX's own connection and message caps are in [MX].
type Limits struct {
	// Exempt lists client networks (CIDR prefixes or addresses) spared
	// the per-IP caps of every listener, and the MX's message rate, as
	// Postfix spares $mynetworks: an office network behind one NAT
	// address, a trusted relay. MX.LimitExempt (CONGTHU_MX_LIMIT_EXEMPT),
	// its older name, is still read and added to it.
	Exempt StringList `toml:"exempt" env:"CONGTHU_LIMIT_EXEMPT"`
	// ExemptLoopback spares loopback clients the per-IP caps too. Tests
	// set it false to check the caps on 127.0.0.1.
	ExemptLoopback bool `toml:"exempt_loopback" env:"CONGTHU_LIMIT_EXEMPT_LOOPBACK"`
	// SubmissionConnectionsPerIP caps concurrent submission connections
	// from one client (IPv6 per /64); past it 421 4.7.0. Negative: no cap.
	SubmissionConnectionsPerIP int `toml:"submission_connections_per_ip" env:"CONGTHU_LIMIT_SUBMISSION_CONNECTIONS_PER_IP"`
	// IMAPConnections caps concurrent IMAP connections; past it
	// "* BYE [UNAVAILABLE]" and the connection is closed.
	IMAPConnections int `toml:"imap_connections" env:"CONGTHU_LIMIT_IMAP_CONNECTIONS"`
	// IMAPConnectionsPerIP caps them per client. Negative: no cap.
	IMAPConnectionsPerIP int `toml:"imap_connections_per_ip" env:"CONGTHU_LIMIT_IMAP_CONNECTIONS_PER_IP"`
	// IMAPLoginTimeout is how long an IMAP connection may stay without
	// logging in ("0s": no bound).
	IMAPLoginTimeout Duration `toml:"imap_login_timeout" env:"CONGTHU_LIMIT_IMAP_LOGIN_TIMEOUT"`
	// HTTPConnections caps concurrent HTTP connections; past it 503 with
	// Retry-After and the connection is closed.
	HTTPConnections int `toml:"http_connections" env:"CONGTHU_LIMIT_HTTP_CONNECTIONS"`
	// HTTPConnectionsPerIP caps them per client. Negative: no cap.
	HTTPConnectionsPerIP int `toml:"http_connections_per_ip" env:"CONGTHU_LIMIT_HTTP_CONNECTIONS_PER_IP"`
	// HTTPReadHeaderTimeout bounds the reading of a request's header.
	HTTPReadHeaderTimeout Duration `toml:"http_read_header_timeout" env:"CONGTHU_LIMIT_HTTP_READ_HEADER_TIMEOUT"`
	// HTTPReadTimeout bounds the reading of a whole request, body included.
	HTTPReadTimeout Duration `toml:"http_read_timeout" env:"CONGTHU_LIMIT_HTTP_READ_TIMEOUT"`
	// HTTPIdleTimeout closes a kept-alive connection idle this long.
	HTTPIdleTimeout Duration `toml:"http_idle_timeout" env:"CONGTHU_LIMIT_HTTP_IDLE_TIMEOUT"`
	// SMTPSessionLifetime bounds an SMTP connection (submission and MX):
	// past it the session is told 421 4.4.2 when it is idle, or once its
	// mail transaction ends ("0s": no bound).
	SMTPSessionLifetime Duration `toml:"smtp_session_lifetime" env:"CONGTHU_LIMIT_SMTP_SESSION_LIFETIME"`
	// SMTPMinDataRate is the slowest DATA transfer accepted, in bytes per
	// second, after the first smtp.data_timeout: n bytes must arrive
	// within data_timeout + n/rate (0: no bound).
	SMTPMinDataRate int `toml:"smtp_min_data_rate" env:"CONGTHU_LIMIT_SMTP_MIN_DATA_RATE"`
	// RcptErrorLimit refused RCPTs in one SMTP connection end it: the
	// next RCPT gets 421 4.7.0 (Postfix's smtpd_hard_error_limit; 0: no
	// limit).
	RcptErrorLimit int `toml:"rcpt_error_limit" env:"CONGTHU_LIMIT_RCPT_ERROR_LIMIT"`
	// RcptErrorDelay holds back the reply to a RCPT for an unknown user
	// ("0s": none).
	RcptErrorDelay Duration `toml:"rcpt_error_delay" env:"CONGTHU_LIMIT_RCPT_ERROR_DELAY"`
	// DataMemoryThreshold is how much of a message is held in memory
	// during DATA; the rest goes to a file under data_dir/spool (0600,
	// unlinked at once).
	DataMemoryThreshold int64 `toml:"data_memory_threshold" env:"CONGTHU_LIMIT_DATA_MEMORY_THRESHOLD"`
	// DataMemoryBudget bounds the bytes of messages being checked and
	// committed at once, over submission and MX; a message waits for
	// room.
	DataMemoryBudget int64 `toml:"data_memory_budget" env:"CONGTHU_LIMIT_DATA_MEMORY_BUDGET"`
}

// defaultLimits are friendly to real clients: a whole office behind one
// NAT address needs to be in Exempt only past these.
func defaultLimits() Limits {
	return Limits{
		ExemptLoopback:             true,
		SubmissionConnectionsPerIP: 20,
		IMAPConnections:            5000,
		IMAPConnectionsPerIP:       100,
		IMAPLoginTimeout:           Duration(time.Minute),
		HTTPConnections:            2000,
		HTTPConnectionsPerIP:       200,
		HTTPReadHeaderTimeout:      Duration(10 * time.Second),
		HTTPReadTimeout:            Duration(time.Minute),
		HTTPIdleTimeout:            Duration(2 * time.Minute),
		SMTPSessionLifetime:        Duration(time.Hour),
		SMTPMinDataRate:            4096,
		RcptErrorLimit:             20,
		RcptErrorDelay:             Duration(time.Second),
		DataMemoryThreshold:        256 << 10,
		DataMemoryBudget:           64 << 20,
	}
}

// LimitExemptPrefixes returns the networks spared the per-IP limits:
// Limits.Exempt and MX.LimitExempt (its older name) together. Call it on a
// validated configuration.
func (c *Config) LimitExemptPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.Limits.Exempt {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return append(out, c.MX.LimitExemptPrefixes()...)
}

// validate reports the problems of the limits through bad.
func (l *Limits) validate(bad func(key, env, format string, args ...any)) {
	for _, s := range l.Exempt {
		if _, err := parsePrefix(s); err != nil {
			bad("limits.exempt", "CONGTHU_LIMIT_EXEMPT", "%v", err)
		}
	}
	positive := []struct {
		key, env string
		v        int64
	}{
		{"limits.imap_connections", "CONGTHU_LIMIT_IMAP_CONNECTIONS", int64(l.IMAPConnections)},
		{"limits.http_connections", "CONGTHU_LIMIT_HTTP_CONNECTIONS", int64(l.HTTPConnections)},
		{"limits.http_read_header_timeout", "CONGTHU_LIMIT_HTTP_READ_HEADER_TIMEOUT", int64(l.HTTPReadHeaderTimeout)},
		{"limits.http_read_timeout", "CONGTHU_LIMIT_HTTP_READ_TIMEOUT", int64(l.HTTPReadTimeout)},
		{"limits.http_idle_timeout", "CONGTHU_LIMIT_HTTP_IDLE_TIMEOUT", int64(l.HTTPIdleTimeout)},
		{"limits.data_memory_threshold", "CONGTHU_LIMIT_DATA_MEMORY_THRESHOLD", l.DataMemoryThreshold},
		{"limits.data_memory_budget", "CONGTHU_LIMIT_DATA_MEMORY_BUDGET", l.DataMemoryBudget},
	}
	for _, p := range positive {
		if p.v <= 0 {
			bad(p.key, p.env, "must be greater than zero")
		}
	}
	perIP := []struct {
		key, env string
		v        int
	}{
		{"limits.submission_connections_per_ip", "CONGTHU_LIMIT_SUBMISSION_CONNECTIONS_PER_IP", l.SubmissionConnectionsPerIP},
		{"limits.imap_connections_per_ip", "CONGTHU_LIMIT_IMAP_CONNECTIONS_PER_IP", l.IMAPConnectionsPerIP},
		{"limits.http_connections_per_ip", "CONGTHU_LIMIT_HTTP_CONNECTIONS_PER_IP", l.HTTPConnectionsPerIP},
	}
	for _, p := range perIP {
		if p.v == 0 {
			bad(p.key, p.env, "must not be zero (a negative number: no cap)")
		}
	}
	notNegative := []struct {
		key, env string
		v        int64
	}{
		{"limits.imap_login_timeout", "CONGTHU_LIMIT_IMAP_LOGIN_TIMEOUT", int64(l.IMAPLoginTimeout)},
		{"limits.smtp_session_lifetime", "CONGTHU_LIMIT_SMTP_SESSION_LIFETIME", int64(l.SMTPSessionLifetime)},
		{"limits.smtp_min_data_rate", "CONGTHU_LIMIT_SMTP_MIN_DATA_RATE", int64(l.SMTPMinDataRate)},
		{"limits.rcpt_error_limit", "CONGTHU_LIMIT_RCPT_ERROR_LIMIT", int64(l.RcptErrorLimit)},
		{"limits.rcpt_error_delay", "CONGTHU_LIMIT_RCPT_ERROR_DELAY", int64(l.RcptErrorDelay)},
	}
	for _, p := range notNegative {
		if p.v < 0 {
			bad(p.key, p.env, "must not be negative (0: no bound)")
		}
	}
}
