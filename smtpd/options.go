package smtpd

import (
	"context"
	"crypto/tls"
	"net/netip"
	"os"
	"time"
)

// Common are the settings submission (Options) and the MX (MXOptions)
// share. Zero fields take the defaults shown.
type Common struct {
	// Hostname is the server's name in the greeting, in Received:
	// fields, in the Message-IDs submission adds and as the MX's
	// authserv-id of Authentication-Results: (default: os.Hostname()).
	Hostname string
	// TLSConfig is the certificate configuration for STARTTLS (RFC 3207)
	// and submission's ServeTLS. Without it STARTTLS is not offered (and
	// on submission, unless AllowInsecureAuth applies, nobody can
	// authenticate).
	TLSConfig *tls.Config
	// MaxMessageBytes is the largest message accepted, advertised with
	// SIZE (RFC 1870) (default 25 MiB).
	MaxMessageBytes int64
	// MaxRecipients is the most RCPT TO per message (default 100; RFC
	// 5321 section 4.5.3.1.8 requires at least 100).
	MaxRecipients int
	// ReadTimeout is how long the server waits for a command (default 5
	// minutes, RFC 5321 section 4.5.3.2.7).
	ReadTimeout time.Duration
	// WriteTimeout bounds each reply write (default 1 minute).
	WriteTimeout time.Duration
	// DataTimeout is the longest pause allowed in message data during
	// DATA (default 3 minutes, RFC 5321 section 4.5.3.2.5).
	DataTimeout time.Duration
	// DeliverTimeout bounds the store call that commits a message
	// (default 1 minute); past it the client gets 451 and retries.
	DeliverTimeout time.Duration
	// MaxConnections caps concurrent connections over all listeners of
	// the server (default 1000); more are answered with 421 and closed.
	MaxConnections int
	// MaxConnectionsPerIP caps concurrent connections from one client
	// address, IPv6 counted per /64 (default 20; negative: no cap).
	MaxConnectionsPerIP int
	// LimitExempt lists client networks the per-IP limits spare (an
	// office network behind one NAT address, a trusted relay in front
	// of the MX).
	LimitExempt []netip.Prefix
	// LimitLoopback applies the per-IP limits to loopback clients too.
	// Default false: loopback clients (a local webmail, a content
	// filter, a benchmark) are exempt.
	LimitLoopback bool
	// Resources bounds what one client can hold (session time, DATA
	// rate, RCPT errors, memory). Its per-IP connection cap and its
	// exemptions are MaxConnectionsPerIP, LimitExempt and LimitLoopback.
	Resources Resources
	// Filters are the content filters (filter.go): clamd and rspamd.
	Filters FilterOptions
	// Metrics count connections, transactions, recipients and logins
	// (metrics.go); give submission and the MX the same (NewMetrics).
	// Default: counters nobody reads.
	Metrics *Metrics
}

func (o Common) withDefaults() Common {
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "localhost"
		}
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 25 << 20
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 100
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = time.Minute
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = 3 * time.Minute
	}
	if o.DeliverTimeout <= 0 {
		o.DeliverTimeout = time.Minute
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 1000
	}
	if o.MaxConnectionsPerIP == 0 {
		o.MaxConnectionsPerIP = 20
	}
	o.Resources = o.Resources.withDefaults()
	o.Metrics = o.Metrics.orNew()
	return o
}

// Options configures a submission Server. Zero fields take the defaults
// shown.
type Options struct {
	Common
	// Signer, if set, DKIM-signs a message with remote recipients before
	// it is stored (a *dkim.Signer): the queue then holds the signed
	// bytes.
	Signer Signer
	// AllowInsecureAuth permits AUTH without TLS, but only from loopback
	// addresses (for a local webmail or a test). Default false: AUTH is
	// neither advertised nor accepted before TLS (538 5.7.11).
	AllowInsecureAuth bool
	// Sessions, if set, ends logged-in sessions whose account's
	// credentials are revoked (see SessionRegistry).
	Sessions SessionRegistry
	// MaxMessagesPerAccountPerHour caps the messages one account may
	// submit in an hour (a token bucket per account and node, refilled
	// continuously; past it MAIL gets 451 4.7.1), so that one stolen
	// password cannot send a flood; default 1000, negative: no cap.
	MaxMessagesPerAccountPerHour int
}

func (o Options) withDefaults() Options {
	o.Common = o.Common.withDefaults()
	if o.MaxMessagesPerAccountPerHour == 0 {
		o.MaxMessagesPerAccountPerHour = 1000
	}
	return o
}

// Signer DKIM-signs outgoing mail: Sign returns msg with a signature
// prepended, or msg unchanged when it does not sign.
type Signer interface {
	Sign(ctx context.Context, mailFrom string, msg []byte) []byte
}

// SignerFunc is a Signer from a function.
type SignerFunc func(ctx context.Context, mailFrom string, msg []byte) []byte

// Sign calls f.
func (f SignerFunc) Sign(ctx context.Context, mailFrom string, msg []byte) []byte {
	return f(ctx, mailFrom, msg)
}
