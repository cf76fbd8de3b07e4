package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/certs"
	"congthu/config"
	"congthu/dispatcher"
	"congthu/dkim"
	"congthu/httpapi"
	"congthu/imapd"
	"congthu/loginlimit"
	"congthu/mtasts"
	"congthu/notify"
	"congthu/queue"
	"congthu/revoke"
	"congthu/sms/httpsms"
	"congthu/sms/policy"
	"congthu/sms/route"
	"congthu/sms/smpp"
	"congthu/smtpd"
	"congthu/store"
	"congthu/templates"
	"congthu/webhook"
)

// shutdownGrace is how long open SMTP transactions, IMAP commands, HTTP
// requests and deliveries may take to finish after SIGINT/SIGTERM.
const shutdownGrace = 30 * time.Second

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run every configured listener until SIGINT/SIGTERM",
		help: `Opens the store (running its migrations), loads or generates the TLS
certificate, and serves SMTP submission (STARTTLS and implicit TLS), IMAP
(STARTTLS and implicit TLS), the inbound MX and, with Redis configured, the REST API and the
delivery workers (outbound mail, notification callbacks). An address set to
"off" is not opened. On SIGINT or SIGTERM it stops accepting, lets open SMTP
transactions and deliveries finish (up to 30 s) and exits 0.`,
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

// late holds a value set after the store is open, for the store's hooks.
type late[T any] struct {
	mu sync.RWMutex
	v  T
}

func (l *late[T]) set(v T) { l.mu.Lock(); l.v = v; l.mu.Unlock() }
func (l *late[T]) get() T  { l.mu.RLock(); defer l.mu.RUnlock(); return l.v }

// runner runs the server's listeners and background workers and stops
// them in order.
type runner struct {
	log  *slog.Logger
	errc chan error
	wg   sync.WaitGroup
	lns  []net.Listener
	stop []func(ctx context.Context) // called in reverse order at shutdown
}

// listen opens addr (unless "off") and serves it with serve.
func (r *runner) listen(name, addr string, serve func(net.Listener) error) error {
	if !config.Enabled(addr) {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	r.lns = append(r.lns, ln)
	r.log.Info("listening", "listener", name, "addr", ln.Addr().String())
	r.goRun(name, func() error { return serve(ln) })
	return nil
}

// goRun runs fn in a goroutine; an error from it stops the server.
func (r *runner) goRun(name string, fn func() error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("panic", "in", name, "panic", p)
				r.errc <- fmt.Errorf("%s: panic: %v", name, p)
			}
		}()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			r.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// serve runs the server until ctx is cancelled.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) (err error) {
	// CONGTHU_CPUPROFILE: write a CPU profile of the whole run to this
	// file, for measuring the running server under load (see bench/).
	if path := os.Getenv("CONGTHU_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("CONGTHU_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("CONGTHU_CPUPROFILE: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		return err
	}
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
		// Delivery workers, API requests and the IMAP bridge share it.
		opt.PoolSize = max(opt.PoolSize, cfg.Delivery.Workers+64)
		rdb = redis.NewClient(opt)
		defer rdb.Close()
	} else {
		log.Warn("no redis_url: outbound delivery, the API and callbacks are off (remote mail waits in the outbox); IMAP change notification is in-process only")
	}

	// The store's hooks wake IMAP sessions and enqueue outbound
	// deliveries; those are built after the store.
	var imapSrv late[*imapd.Server]
	var disp late[*dispatcher.Dispatcher]
	st, err := openStore(ctx, cfg, store.Options{
		Changed: func(accountID, mailboxID, modseq int64) {
			if s := imapSrv.get(); s != nil {
				s.Notify(accountID, mailboxID, modseq)
			}
		},
		OutboxAdded: func(id int64) {
			if d := disp.get(); d != nil {
				d.Enqueue(id)
			}
		},
	}, log)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store open", "backend", st.Backend(), "dkim_rsa", dkim.RSABackend)

	r := &runner{log: log, errc: make(chan error, 16)}
	// runCtx stops background workers; listeners stop through their
	// servers' Shutdown.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()

	limOpts := loginlimit.Options{
		AccountFailures: cfg.Auth.MaxFailuresPerAccount,
		IPFailures:      cfg.Auth.MaxFailuresPerIP,
		Window:          cfg.Auth.FailureWindow.D(),
		Lockout:         cfg.Auth.Lockout.D(),
		Log:             log.With("component", "loginlimit"),
	}
	if rdb != nil {
		limOpts.Redis = rdb // one allowance across all nodes
	}
	lim := loginlimit.New(limOpts)

	// Logged-in SMTP and IMAP sessions end when "user passwd", "user
	// disable" or "user remove" revokes their account, on every node.
	revOpts := revoke.Options{Store: st, Log: log.With("component", "revoke")}
	if rdb != nil {
		revOpts.Redis, revOpts.Channel = rdb, revoke.ChannelFor(rdb.Options().DB)
	}
	sessions := revoke.New(revOpts)
	r.goRun("revoke", func() error { return sessions.Run(runCtx) })

	// Delivery and the API need Redis.
	var api *httpapi.Server
	var tracker *notify.Tracker
	if rdb != nil {
		qc := queue.NewClient(rdb)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		warnings, err := qc.CheckRedis(pctx)
		cancel()
		if err != nil {
			// The workers reconnect on their own; the sweeper
			// re-enqueues from the store once Redis is back.
			log.Warn("redis not usable at start; workers will retry", "err", err)
		}
		for _, w := range warnings {
			log.Warn("redis: " + w)
		}
		tracker = notify.NewTracker(st, qc, log.With("component", "notify"))
		tracker.IdempotencyRetention = cfg.API.IdempotencyRetention.D()
		var sts dispatcher.PolicyLookup
		if cfg.Delivery.MTASTS {
			sts = mtasts.NewFetcher(mtasts.Options{Resolver: resolver(cfg.Delivery.DNSResolver), Cache: stsCache{st},
				Log: log.With("component", "mta-sts")})
		}
		d, err := dispatcher.New(dispatcher.Options{
			Hostname:                cfg.Hostname,
			Smarthost:               cfg.Delivery.Smarthost,
			SmarthostUsername:       cfg.Delivery.SmarthostUsername,
			SmarthostPassword:       cfg.Delivery.SmarthostPassword,
			Resolver:                resolver(cfg.Delivery.DNSResolver),
			RequireTLS:              cfg.Delivery.RequireTLS,
			MTASTS:                  sts,
			RetrySchedule:           cfg.Delivery.RetrySchedule.Durations(),
			MaxQueueAge:             cfg.Delivery.MaxQueueAge.D(),
			DelayNotice:             cfg.Delivery.DelayNotice.D(),
			MaxPerDomain:            cfg.Delivery.MaxConnectionsPerDomain,
			SmarthostMaxConnections: cfg.Delivery.SmarthostMaxConnections,
			Workers:                 cfg.Delivery.Workers,
			Compose:                 tracker.ComposeOutbox,
		}, st, qc, log)
		if err != nil {
			return err
		}
		disp.set(d)
		r.goRun("dispatcher", func() error { return d.Run(runCtx) })

		// Notification side work: test-key simulation, callbacks,
		// and the sweeper that restores their jobs from the store.
		w := queue.NewWorker(qc, log.With("component", "notify-worker"), queue.WorkerOptions{})
		w.Handle(notify.QueueTest, queue.HandlerFunc(tracker.HandleTest), queue.HandlerOptions{Concurrency: 16, Lease: 30 * time.Second})
		w.Handle(webhook.Queue, webhook.NewHandler(st, log.With("component", "webhook"), webhook.Options{Allow: cfg.API.CallbackAllowPrefixes()}),
			queue.HandlerOptions{Concurrency: 16, Lease: 30 * time.Second, Backoff: webhook.Backoff})
		r.goRun("notify worker", func() error { return w.Run(runCtx) })
		smsReceipts, err := startSMS(runCtx, r, cfg, st, qc, rdb, tracker, log.With("component", "sms"))
		if err != nil {
			return err
		}
		sw := queue.NewSweeper(qc, tracker.Source(), log.With("component", "sweeper"), queue.SweeperOptions{
			Queues: []string{notify.QueueTest, notify.QueueSMS, webhook.Queue},
		})
		r.goRun("notify sweeper", func() error { return sw.Run(runCtx) })
		r.goRun("notify expiry", func() error { return tracker.RunExpiry(runCtx, time.Minute) })

		set, err := templates.Load()
		if err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		sender := cfg.API.SenderDomain
		if config.Enabled(cfg.Listen.HTTP) {
			if sender, err = senderDomain(ctx, cfg, st); err != nil {
				return err
			}
			log.Info("notification mail", "sender_domain", sender)
		}
		api = httpapi.New(httpapi.Options{
			Log:          log.With("service", "http"),
			SenderDomain: sender,
			RateLimit:    cfg.API.RateLimit,
			OutboxQueue:  "-", // store.Options.OutboxAdded enqueues
			SMSReceipts:  smsReceipts,
			MTASTSPolicy: cfg.MTASTSPolicy(),
		}, httpapi.Deps{Store: st, Queue: qc, Templates: set, Tracker: tracker})
		defer api.Close() // after the HTTP server's shutdown
	}

	smtpRes, err := smtpResources(cfg, log)
	if err != nil {
		return err
	}
	smtpSrv := smtpd.New(smtpd.Options{
		Hostname:          cfg.Hostname,
		TLSConfig:         tlsConfig,
		MaxMessageBytes:   cfg.SMTP.MaxMessageBytes,
		MaxRecipients:     cfg.SMTP.MaxRecipients,
		ReadTimeout:       cfg.SMTP.CommandTimeout.D(),
		DataTimeout:       cfg.SMTP.DataTimeout.D(),
		AllowInsecureAuth: cfg.SMTP.AllowInsecureAuth,
		MaxConnections:    cfg.SMTP.MaxConnections,
		Sessions:          sessions,
		// [limits]: see limits.go.
		MaxConnectionsPerIP: cfg.Limits.SubmissionConnectionsPerIP,
		LimitExempt:         cfg.LimitExemptPrefixes(),
		LimitLoopback:       !cfg.Limits.ExemptLoopback,
		Resources:           smtpRes,
		Sign: func(ctx context.Context, mailFrom string, msg []byte) []byte {
			// Without Redis there is no dispatcher: the message is
			// signed when a dispatcher delivers it.
			if d := disp.get(); d != nil {
				return d.Sign(ctx, mailFrom, msg)
			}
			return msg
		},
	}, st, lim, log.With("service", "smtp"))
	r.stop = append(r.stop, func(ctx context.Context) {
		if err := smtpSrv.Shutdown(ctx); err != nil {
			log.Warn("smtp shutdown", "err", err)
		}
	})

	iopts := imapd.Options{
		TLSConfig:         tlsConfig,
		AllowInsecureAuth: cfg.IMAP.AllowInsecureAuth,
		AppendLimit:       cfg.IMAP.AppendLimit,
		Sessions:          sessions,
	}
	imapLimits(cfg, &iopts)
	if rdb != nil {
		iopts.Redis = rdb
	}
	is := imapd.New(iopts, st, lim, log.With("service", "imap"))
	imapSrv.set(is)
	r.stop = append(r.stop, func(ctx context.Context) {
		if err := is.Shutdown(ctx); err != nil {
			log.Warn("imap shutdown", "err", err)
		}
	})

	mxOpts := mxOptions(cfg, tlsConfig)
	mxOpts.Bounces = notify.NewBounces(st, tracker, log.With("component", "bounces"))
	mxOpts.Resources = smtpRes
	mxSrv := smtpd.NewMX(mxOpts, st, log.With("service", "mx"))
	r.stop = append(r.stop, func(ctx context.Context) {
		if err := mxSrv.Shutdown(ctx); err != nil {
			log.Warn("mx shutdown", "err", err)
		}
	})

	listenErr := func() error {
		for _, l := range []struct {
			name, addr string
			serve      func(net.Listener) error
		}{
			{"submission", cfg.Listen.Submission, smtpSrv.Serve},
			{"submissions", cfg.Listen.Submissions, smtpSrv.ServeTLS},
			{"imap", cfg.Listen.IMAP, is.Serve},
			{"imaps", cfg.Listen.IMAPS, is.ServeTLS},
			{"mx", cfg.Listen.MX, mxSrv.Serve},
		} {
			if err := r.listen(l.name, l.addr, l.serve); err != nil {
				return err
			}
		}
		if api != nil {
			hs := &http.Server{Handler: api.Handler()}
			if cfg.TLS.Cert != "" {
				// TLS when the operator configured a certificate.
				hs.TLSConfig = tlsConfig.Clone()
			}
			limit := httpLimits(cfg, hs, log.With("service", "http"))
			serveHTTP := func(ln net.Listener) error { return hs.Serve(limit(ln)) }
			if hs.TLSConfig != nil {
				serveHTTP = func(ln net.Listener) error { return hs.Serve(tls.NewListener(limit(ln), hs.TLSConfig)) }
			}
			if err := r.listen("http", cfg.Listen.HTTP, serveHTTP); err != nil {
				return err
			}
			r.stop = append(r.stop, func(ctx context.Context) { hs.Shutdown(ctx) })
		} else if config.Enabled(cfg.Listen.HTTP) {
			log.Warn("the REST API needs Redis (CONGTHU_REDIS_URL); http listener not opened", "addr", cfg.Listen.HTTP)
		}
		return nil
	}()

	var runErr error
	if listenErr != nil {
		runErr = listenErr
	} else {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
		case runErr = <-r.errc:
			log.Error("stopping after an error", "err", runErr)
		}
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var sw sync.WaitGroup
	for _, stop := range r.stop {
		sw.Add(1)
		go func() { defer sw.Done(); stop(sctx) }()
	}
	sw.Wait()
	for _, ln := range r.lns {
		ln.Close()
	}
	cancelRun()
	r.wg.Wait()
	log.Info("stopped")
	return runErr
}

// mxOptions is the inbound MX's configuration: the [smtp] message limits
// and timeouts, the [mx] connection limits and DMARC handling.
func mxOptions(cfg *config.Config, tlsConfig *tls.Config) smtpd.MXOptions {
	return smtpd.MXOptions{
		Hostname:                  cfg.Hostname,
		TLSConfig:                 tlsConfig,
		MaxMessageBytes:           cfg.SMTP.MaxMessageBytes,
		MaxRecipients:             cfg.SMTP.MaxRecipients,
		ReadTimeout:               cfg.SMTP.CommandTimeout.D(),
		DataTimeout:               cfg.SMTP.DataTimeout.D(),
		MaxConnections:            cfg.MX.MaxConnections,
		MaxConnectionsPerIP:       cfg.MX.MaxConnectionsPerIP,
		MaxMessagesPerIPPerMinute: cfg.MX.MaxMessagesPerIPPerMinute,
		LimitExempt:               cfg.LimitExemptPrefixes(),
		LimitLoopback:             !cfg.Limits.ExemptLoopback,
		NoDMARCReject:             cfg.MX.DMARCReject == config.DMARCQuarantine,
		QuarantineToInbox:         cfg.MX.DMARCQuarantine == config.DMARCInbox,
		AllowLocalSpoofing:        cfg.MX.AllowLocalSpoofing,
		Resolver:                  resolver(cfg.Delivery.DNSResolver),
	}
}

// stsCache keeps MTA-STS policies in the store.
type stsCache struct{ st *store.Store }

func (c stsCache) LoadPolicy(ctx context.Context, domain string) (mtasts.Cached, bool, error) {
	id, body, at, ok, err := c.st.MTASTSPolicy(ctx, domain)
	return mtasts.Cached{ID: id, Body: body, FetchedAt: at}, ok, err
}

func (c stsCache) SavePolicy(ctx context.Context, domain string, p mtasts.Cached) error {
	return c.st.SaveMTASTSPolicy(ctx, domain, p.ID, p.Body, p.FetchedAt)
}

// resolver returns the DNS resolver for MX, SPF, DKIM and DMARC lookups:
// the system's, or one that asks only the server at addr (ip:port).
func resolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// ---- SMS channel (issue 6): startSMS and what only it uses ----

// startSMS wires the live SMS channel: the SMPP and/or HTTP provider of
// cfg.SMS behind a route.Router (CONGTHU_SMS_PRIMARY first), per-number
// limits in Redis, quiet hours, and the dispatcher's SMS handler on queue
// notify.QueueSMS (lease 30 s). The SMSC is bound in the background, with
// retries, so a down SMSC does not stop the server: until the first bind
// SMS are "not sent, provider unavailable" and retried with back-off. With
// no provider configured, live SMS become technical-failure "no SMS
// provider configured" (dispatcher.SMS). It returns the HTTP provider's
// receipt webhook for POST /v1/sms/receipts, nil without one.
func startSMS(ctx context.Context, r *runner, cfg *config.Config, st *store.Store, qc *queue.Client, rdb *redis.Client,
	tracker *notify.Tracker, log *slog.Logger) (http.Handler, error) {
	c := cfg.SMS
	quiet, err := policy.ParseQuietHours(c.QuietHours)
	if err != nil {
		return nil, fmt.Errorf("sms quiet hours: %w", err)
	}
	limits := policy.Limits{Max: c.MaxPerHour, Window: time.Hour, DuplicateWindow: c.DuplicateWindow.D()}
	var h late[*dispatcher.SMS]
	onReceipt := func(ctx context.Context, rc route.Receipt) error {
		if s := h.get(); s != nil {
			return s.Receipt(ctx, rc)
		}
		return errors.New("sms: not ready")
	}

	var smppSender, httpSender route.Sender
	var receipts http.Handler
	var smsc *lazySMPP
	if c.SMPPAddr != "" {
		smsc = newLazySMPP()
		opts := smpp.Options{
			Addr: c.SMPPAddr, SystemID: c.SMPPSystemID, Password: c.SMPPPassword, SystemType: c.SMPPSystemType,
			Source: c.Sender, Window: c.SMPPWindow, Rate: float64(c.SMPPRate), MaxParts: c.MaxParts,
			OnReceipt: func(ctx context.Context, rc smpp.Receipt) error { return onReceipt(ctx, route.SMPPReceipt("smpp", rc)) },
			Logger:    log.With("provider", "smpp"),
		}
		r.goRun("smpp bind", func() error { smsc.dial(ctx, opts, log); return nil })
		smppSender = route.NewSMPP("smpp", smsc)
	}
	if c.HTTPURL != "" {
		p, err := httpsms.New(httpsms.Options{URL: c.HTTPURL, AuthHeader: c.HTTPAuthHeader, Sender: c.Sender, MaxParts: c.MaxParts,
			ReceiptSecret: c.HTTPReceiptSecret, Logger: log.With("provider", "http")})
		if err != nil {
			return nil, fmt.Errorf("sms http provider: %w", err)
		}
		httpSender = route.NewHTTP("http", p)
		receipts = p.ReceiptHandler(func(ctx context.Context, rc httpsms.Receipt) error {
			return onReceipt(ctx, route.HTTPReceipt("http", rc))
		})
	}
	primary, secondary := smppSender, httpSender
	if c.Primary == "http" || primary == nil {
		primary, secondary = httpSender, smppSender
	}
	so := dispatcher.SMSOptions{QuietHours: quiet, Limiter: policy.NewLimiter(rdb, limits), Limits: limits, Logger: log}
	if primary != nil {
		so.Sender = route.New(primary, secondary, route.Options{Logger: log})
	} else {
		log.Warn("no SMS provider configured (CONGTHU_SMPP_ADDR, CONGTHU_SMS_HTTP_URL): live SMS notifications fail with technical-failure")
	}
	h.set(dispatcher.NewSMS(st, tracker, so))
	r.goRun("sms janitor", func() error {
		// Receipts kept for ids never recorded: a week is plenty.
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			if n, err := st.PurgeSMSEarlyReceipts(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
				log.Warn("sms: purge early receipts failed", "err", err)
			} else if n > 0 {
				log.Info("sms: early receipts purged", "count", n)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	})

	w := queue.NewWorker(qc, log.With("component", "sms-worker"), queue.WorkerOptions{})
	w.Handle(notify.QueueSMS, queue.HandlerFunc(h.get().Handle), queue.HandlerOptions{Concurrency: max(32, 3*c.SMPPWindow), Lease: 30 * time.Second})
	r.goRun("sms worker", func() error {
		err := w.Run(ctx)
		if smsc != nil {
			// After the worker: no submit is cut off by the unbind.
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			smsc.close(cctx)
		}
		return err
	})
	return receipts, nil
}

// errSMSCNotBound: the first bind has not succeeded yet; nothing was sent.
var errSMSCNotBound = errors.New("smpp: not bound to the SMSC yet")

// lazySMPP is an SMPP client bound in the background: Submit fails with
// errSMSCNotBound (a temporary provider fault, nothing sent) until the
// first bind; after it the smpp.Client reconnects by itself.
type lazySMPP struct {
	mu     sync.Mutex
	c      *smpp.Client
	closed bool
	bound  chan struct{} // closed at the first bind
}

func newLazySMPP() *lazySMPP { return &lazySMPP{bound: make(chan struct{})} }

// Submit waits up to 5 s for the first bind (an SMSC restarting with us),
// then fails with errSMSCNotBound.
func (l *lazySMPP) Submit(ctx context.Context, m smpp.Message) (smpp.SubmitResult, error) {
	select {
	case <-l.bound:
	case <-ctx.Done():
		return smpp.SubmitResult{}, errSMSCNotBound
	case <-time.After(5 * time.Second):
		return smpp.SubmitResult{}, errSMSCNotBound
	}
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	return c.Submit(ctx, m)
}

// dial binds until it succeeds or ctx ends, backing off up to a minute.
func (l *lazySMPP) dial(ctx context.Context, opts smpp.Options, log *slog.Logger) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := smpp.Dial(dctx, opts)
		cancel()
		if err == nil {
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				c.Close(context.Background())
				return
			}
			l.c = c
			close(l.bound)
			l.mu.Unlock()
			log.Info("bound to the SMSC", "addr", opts.Addr)
			return
		}
		log.Warn("SMSC bind failed; retrying", "addr", opts.Addr, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (l *lazySMPP) close(ctx context.Context) {
	l.mu.Lock()
	c := l.c
	l.closed = true
	l.mu.Unlock()
	if c != nil {
		c.Close(ctx)
	}
}
