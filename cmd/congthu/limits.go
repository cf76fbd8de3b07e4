package main

import (
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"congthu/config"
	"congthu/connlimit"
	"congthu/httpapi"
	"congthu/imapd"
	"congthu/smtpd"
)

// smtpResources is what [limits] says of SMTP sessions (submission and
// MX): DATA is spooled under data_dir/spool, whose leftovers of an
// earlier run are removed here, and one memory budget covers both
// servers.
func smtpResources(cfg *config.Config, log *slog.Logger) (smtpd.Resources, error) {
	l := cfg.Limits
	dir := filepath.Join(cfg.DataDir, "spool")
	n, err := smtpd.CleanSpool(dir)
	if err != nil {
		return smtpd.Resources{}, err
	}
	if n > 0 {
		log.Info("removed spool files of an earlier run", "dir", dir, "files", n)
	}
	// In smtpd a zero field takes the default; here 0 turns a bound off.
	off := func(v int64) int64 {
		if v == 0 {
			return -1
		}
		return v
	}
	return smtpd.Resources{
		SessionLifetime: time.Duration(off(int64(l.SMTPSessionLifetime))),
		MinDataRate:     int(off(int64(l.SMTPMinDataRate))),
		RcptErrorLimit:  int(off(int64(l.RcptErrorLimit))),
		RcptErrorDelay:  time.Duration(off(int64(l.RcptErrorDelay))),
		SpoolDir:        dir,
		SpoolThreshold:  int(l.DataMemoryThreshold),
		Memory:          smtpd.NewMemoryBudget(l.DataMemoryBudget),
	}, nil
}

// imapLimits sets the connection limits of [limits] in o.
func imapLimits(cfg *config.Config, o *imapd.Options) {
	l := cfg.Limits
	o.MaxConnections = l.IMAPConnections
	o.MaxConnectionsPerIP = l.IMAPConnectionsPerIP
	o.LimitExempt = cfg.LimitExemptPrefixes()
	o.LimitLoopback = !l.ExemptLoopback
	o.LoginTimeout = l.IMAPLoginTimeout.D()
	if o.LoginTimeout == 0 {
		o.LoginTimeout = -1
	}
}

// httpLimits sets the timeouts of [limits] on hs and returns the
// listener wrapper capping its connections (503 past the caps).
func httpLimits(cfg *config.Config, hs *http.Server, log *slog.Logger) func(net.Listener) net.Listener {
	l := cfg.Limits
	hs.ReadHeaderTimeout = l.HTTPReadHeaderTimeout.D()
	hs.ReadTimeout = l.HTTPReadTimeout.D()
	hs.IdleTimeout = l.HTTPIdleTimeout.D()
	lim := connlimit.New(l.HTTPConnections, max(l.HTTPConnectionsPerIP, 0),
		connlimit.Exempt(cfg.LimitExemptPrefixes(), l.ExemptLoopback))
	return func(ln net.Listener) net.Listener {
		return httpapi.LimitListener(ln, lim, hs.TLSConfig, log)
	}
}
