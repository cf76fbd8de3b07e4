package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/certs"
	"congthu/config"
	"congthu/imapd"
	"congthu/loginlimit"
	"congthu/smtpd"
	"congthu/store"
)

// shutdownGrace is how long open SMTP transactions and IMAP commands may
// take to finish after SIGINT/SIGTERM.
const shutdownGrace = 30 * time.Second

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run every configured listener until SIGINT/SIGTERM",
		help: `Opens the store (running its migrations), loads or generates the TLS
certificate, and serves SMTP submission (STARTTLS and implicit TLS) and IMAP
(STARTTLS and implicit TLS) on the configured addresses; an address set to
"off" is not opened. The MX and HTTP listeners are not built yet and are not
opened. On SIGINT or SIGTERM it stops accepting, lets open SMTP transactions
finish (up to 30 s) and exits 0.`,
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) != 0 {
				return usagef("serve takes no arguments")
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			return serve(ctx, cfg, c.logger(cfg))
		},
	}
}

// serve runs the server until ctx is cancelled.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	tlsConfig, selfSigned, err := certs.Load(cfg.TLS.Cert, cfg.TLS.Key, cfg.Hostname, cfg.DataDir)
	if err != nil {
		return err
	}
	if selfSigned {
		log.Warn("using a self-signed certificate; set CONGTHU_TLS_CERT and CONGTHU_TLS_KEY for production", "hostname", cfg.Hostname)
	}

	var rdb *redis.Client
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("redis_url: %w", err)
		}
		rdb = redis.NewClient(opt)
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			// Redis only schedules work and carries IDLE wake-ups
			// between nodes; the client reconnects on its own.
			log.Warn("redis not reachable at start; retrying in the background", "err", err)
		}
	} else {
		log.Warn("no redis_url: IMAP change notification is in-process only (one node)")
	}

	// The store's Changed hook wakes IMAP sessions; the IMAP server is
	// created after the store, so the hook reads it through a variable.
	var imapSrv struct {
		sync.RWMutex
		s *imapd.Server
	}
	st, err := openStore(ctx, cfg, store.Options{
		Changed: func(accountID, mailboxID, modseq int64) {
			imapSrv.RLock()
			s := imapSrv.s
			imapSrv.RUnlock()
			if s != nil {
				s.Notify(accountID, mailboxID, modseq)
			}
		},
	}, log)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store open", "backend", st.Backend())

	lim := loginlimit.New(loginlimit.Options{
		AccountFailures: cfg.Auth.MaxFailuresPerAccount,
		IPFailures:      cfg.Auth.MaxFailuresPerIP,
		Window:          cfg.Auth.FailureWindow.D(),
		Lockout:         cfg.Auth.Lockout.D(),
	})

	smtpSrv := smtpd.New(smtpd.Options{
		Hostname:          cfg.Hostname,
		TLSConfig:         tlsConfig,
		MaxMessageBytes:   cfg.SMTP.MaxMessageBytes,
		MaxRecipients:     cfg.SMTP.MaxRecipients,
		ReadTimeout:       cfg.SMTP.CommandTimeout.D(),
		DataTimeout:       cfg.SMTP.DataTimeout.D(),
		AllowInsecureAuth: cfg.SMTP.AllowInsecureAuth,
		MaxConnections:    cfg.SMTP.MaxConnections,
	}, st, lim, log.With("service", "smtp"))

	iopts := imapd.Options{
		TLSConfig:         tlsConfig,
		AllowInsecureAuth: cfg.IMAP.AllowInsecureAuth,
		AppendLimit:       cfg.IMAP.AppendLimit,
	}
	if rdb != nil {
		iopts.Redis = rdb
	}
	is := imapd.New(iopts, st, lim, log.With("service", "imap"))
	imapSrv.Lock()
	imapSrv.s = is
	imapSrv.Unlock()

	type listener struct {
		name, addr string
		serve      func(net.Listener) error
	}
	listeners := []listener{
		{"submission", cfg.Listen.Submission, smtpSrv.Serve},
		{"submissions", cfg.Listen.Submissions, smtpSrv.ServeTLS},
		{"imap", cfg.Listen.IMAP, is.Serve},
		{"imaps", cfg.Listen.IMAPS, is.ServeTLS},
	}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for _, l := range listeners {
		if !config.Enabled(l.addr) {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s on %s: %w", l.name, l.addr, err)
		}
		lns = append(lns, ln)
	}
	for _, name := range []string{"mx", "http"} {
		addr := cfg.Listen.MX
		if name == "http" {
			addr = cfg.Listen.HTTP
		}
		if config.Enabled(addr) {
			log.Info("listener not built yet, not opened", "listener", name, "addr", addr)
		}
	}

	errc := make(chan error, len(listeners))
	var wg sync.WaitGroup
	i := 0
	for _, l := range listeners {
		if !config.Enabled(l.addr) {
			continue
		}
		ln := lns[i]
		i++
		log.Info("listening", "listener", l.name, "addr", ln.Addr().String())
		wg.Add(1)
		go func(l listener, ln net.Listener) {
			defer wg.Done()
			if err := l.serve(ln); err != nil {
				errc <- fmt.Errorf("%s: %w", l.name, err)
			}
		}(l, ln)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("listener failed, shutting down", "err", runErr)
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var sw sync.WaitGroup
	sw.Add(2)
	go func() {
		defer sw.Done()
		if err := smtpSrv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("smtp shutdown", "err", err)
		}
	}()
	go func() {
		defer sw.Done()
		if err := is.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("imap shutdown", "err", err)
		}
	}()
	sw.Wait()
	closeAll()
	wg.Wait()
	log.Info("stopped")
	return runErr
}
