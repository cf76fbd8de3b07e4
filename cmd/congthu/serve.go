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
	"congthu/changebus"
	"congthu/config"
	"congthu/console"
	"congthu/dispatcher"
	"congthu/dkim"
	"congthu/filter/clamd"
	"congthu/filter/rspamd"
	"congthu/httpapi"
	"congthu/imapd"
	"congthu/internal/metrics"
	"congthu/internal/safego"
	"congthu/learn"
	"congthu/loginlimit"
	"congthu/mtasts"
	"congthu/mtasts/stsdb"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/notify/smschan"
	"congthu/notify/zalochan"
	"congthu/outbox"
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

// runner runs the server's listeners and background workers and stops
// them in order.
type runner struct {
	log  *slog.Logger
	errc chan error
	wg   sync.WaitGroup
	lns  []net.Listener
	stop []func(ctx context.Context) // called at shutdown, together
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

// goRun runs fn in a goroutine; an error or a panic in it stops the
// server.
func (r *runner) goRun(name string, fn func() error) {
	safego.Go(&r.wg, r.log, name, func() {
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			r.errc <- fmt.Errorf("%s: %w", name, err)
		}
	}, func(err error) { r.errc <- err })
}

// onStop adds a server's graceful shutdown to the shutdown.
func (r *runner) onStop(name string, shutdown func(context.Context) error) {
	r.stop = append(r.stop, func(ctx context.Context) {
		if err := shutdown(ctx); err != nil {
			r.log.Warn(name+" shutdown", "err", err)
		}
	})
}

// wait runs until ctx is done or a component fails, then shuts down: the
// servers stop accepting and finish what they have (up to
// shutdownGrace), the listeners close, cancelRun stops the background
// workers, and wait returns when every goroutine has.
func (r *runner) wait(ctx context.Context, startErr error, cancelRun context.CancelFunc) error {
	runErr := startErr
	if runErr == nil {
		select {
		case <-ctx.Done():
			r.log.Info("shutting down")
		case runErr = <-r.errc:
			r.log.Error("stopping after an error", "err", runErr)
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
	r.log.Info("stopped")
	return runErr
}

// serve runs the server until ctx is cancelled. Components are built in
// dependency order, each given everything it needs:
//
//  1. Redis, the queue client and the outbox enqueuer (with Redis);
//  2. the change bus and the store, which publishes to both;
//  3. the DKIM signer over the store's keys, login limits, revocation;
//  4. with Redis: the dispatcher, the notification workers (SMS
//     included) and the REST API, sharing one tracker and its metrics;
//  5. SMTP submission, IMAP and the MX;
//  6. the listeners.
//
// Shutdown runs the other way: listeners and servers, then workers, then
// the store and Redis.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) (err error) {
	stopProfile, err := startCPUProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
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

	rdb, err := openRedis(cfg, log)
	if err != nil {
		return err
	}
	var qc *queue.Client
	var enq *dispatcher.Enqueuer
	if rdb != nil {
		defer rdb.Close()
		qc = queue.NewClient(rdb)
		checkRedis(ctx, qc, log)
		enq = dispatcher.NewEnqueuer(qc, log.With("component", "outbox-enqueuer"))
	}

	// Mailbox changes: the store publishes, IMAP subscribes; with Redis
	// the relay carries them to and from the other nodes.
	changes := changebus.New()
	if rdb != nil {
		relay := changebus.StartRelay(changes, rdb, changebus.DefaultChannel, log.With("component", "changebus"))
		defer relay.Close()
	}
	stOpts := store.Options{Changed: changes.Publish}
	if enq != nil {
		stOpts.Outbox.Added = enq.Add
	}
	st, err := openStore(ctx, cfg, stOpts, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ob := st.Outbox()
	nst := notifydb.New(st)
	log.Info("store open", "backend", st.Backend(), "dkim_rsa", dkim.RSABackend)
	signer := dkim.NewSigner(st, log.With("component", "dkim"))

	r := &runner{log: log, errc: make(chan error, 16)}
	// runCtx stops background workers; listeners stop through their
	// servers' Shutdown.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()

	// The API's metrics: notification statuses from the tracker, filter
	// failures from submission and the MX; and the registry the mail
	// side counts into (metrics.go). /metrics serves both, with the API.
	apiMetrics := httpapi.NewMetrics()
	mm := newMailMetrics(apiMetrics.Registry(), ob)
	lim := newLoginLimiter(cfg, rdb, apiMetrics.Registry(), log)
	sessions := startRevoke(runCtx, r, st, rdb, log)

	var api *httpapi.Server
	var tracker *notify.Tracker
	prov := &providers{nst: nst} // filled by startNotifyWorkers, read by the console
	if qc != nil {
		r.goRun("outbox enqueuer", func() error { return enq.Run(runCtx) })
		tracker = notify.NewTracker(nst, qc, log.With("component", "notify"), apiMetrics.ObserveDelivery)
		ob.AddHook(nst.NotificationHook(tracker.OutboxRecorded))
		tracker.IdempotencyRetention = cfg.API.IdempotencyRetention.D()
		if err := startDispatcher(runCtx, r, cfg, st, ob, qc, tracker, signer, mm.delivery, log); err != nil {
			return err
		}
		hooks, err := startNotifyWorkers(runCtx, r, cfg, nst, qc, rdb, tracker, prov, log)
		if err != nil {
			return err
		}
		if api, err = newAPI(ctx, cfg, st, ob, nst, qc, tracker, apiMetrics, hooks, log); err != nil {
			return err
		}
		defer api.Close() // after the HTTP server's shutdown
	}

	smtpRes, err := smtpResources(cfg, log)
	if err != nil {
		return err
	}
	smtpSrv := newSubmission(cfg, tlsConfig, st, lim, sessions, signer, smtpRes, apiMetrics.FilterFailed, mm.smtp, log)
	r.onStop("smtp", smtpSrv.Shutdown)
	is := newIMAP(cfg, tlsConfig, st, lim, sessions, changes, startLearning(runCtx, r, cfg, st, qc, log), mm.imap, log)
	r.onStop("imap", is.Shutdown)
	mxOpts := mxOptions(cfg, tlsConfig)
	mxOpts.Filters.OnFailure = apiMetrics.FilterFailed
	mxOpts.Bounces = notify.NewBounces(nst, tracker, log.With("component", "bounces"))
	mxOpts.Resources = smtpRes
	mxOpts.Metrics = mm.smtp
	mxSrv := smtpd.NewMX(mxOpts, st, log.With("service", "mx"))
	r.onStop("mx", mxSrv.Shutdown)

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
		if err := listenHTTP(r, cfg, tlsConfig, api, log); err != nil {
			return err
		}
		return listenConsole(runCtx, r, cfg, tlsConfig, consoleDeps{st: st, nst: nst, qc: qc, rdb: rdb, lim: lim, sessions: sessions, prov: prov}, log)
	}()
	return r.wait(ctx, listenErr, cancelRun)
}

// startCPUProfile starts a CPU profile of the whole run when
// CONGTHU_CPUPROFILE names a file, for measuring the running server under
// load (see bench/). The returned func stops it.
func startCPUProfile() (stop func(), err error) {
	path := os.Getenv("CONGTHU_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("CONGTHU_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CONGTHU_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// openRedis returns the Redis client of cfg.RedisURL, nil without one.
func openRedis(cfg *config.Config, log *slog.Logger) (*redis.Client, error) {
	if cfg.RedisURL == "" {
		log.Warn("no redis_url: outbound delivery, the API and callbacks are off (remote mail waits in the outbox); IMAP change notification is in-process only")
		return nil, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis_url: %w", err)
	}
	// Delivery workers, API requests and the IMAP bridge share it.
	opt.PoolSize = max(opt.PoolSize, cfg.Delivery.Workers+64)
	return redis.NewClient(opt), nil
}

// checkRedis logs what is wrong with Redis at start. The workers
// reconnect on their own; the sweepers re-enqueue from the store once
// Redis is back.
func checkRedis(ctx context.Context, qc *queue.Client, log *slog.Logger) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	warnings, err := qc.CheckRedis(pctx)
	cancel()
	if err != nil {
		log.Warn("redis not usable at start; workers will retry", "err", err)
	}
	for _, w := range warnings {
		log.Warn("redis: " + w)
	}
}

// newLoginLimiter returns the failed-login limits, kept in Redis (one
// allowance across all nodes) when there is one.
func newLoginLimiter(cfg *config.Config, rdb *redis.Client, reg *metrics.Registry, log *slog.Logger) *loginlimit.Limiter {
	opts := loginlimit.Options{
		AccountFailures: cfg.Auth.MaxFailuresPerAccount,
		IPFailures:      cfg.Auth.MaxFailuresPerIP,
		Window:          cfg.Auth.FailureWindow.D(),
		Lockout:         cfg.Auth.Lockout.D(),
		Log:             log.With("component", "loginlimit"),
		Metrics:         reg,
	}
	if rdb != nil {
		opts.Redis = rdb
	}
	return loginlimit.New(opts)
}

// startRevoke starts the registry that ends logged-in SMTP and IMAP
// sessions when "user passwd", "user disable" or "user remove" revokes
// their account, on every node.
func startRevoke(ctx context.Context, r *runner, st *store.Store, rdb *redis.Client, log *slog.Logger) *revoke.Registry {
	opts := revoke.Options{Store: st, Log: log.With("component", "revoke")}
	if rdb != nil {
		opts.Redis, opts.Channel = rdb, revoke.ChannelFor(rdb.Options().DB)
	}
	sessions := revoke.New(opts)
	r.goRun("revoke", func() error { return sessions.Run(ctx) })
	return sessions
}

// startDispatcher starts the delivery of the outbox to remote MX hosts.
func startDispatcher(ctx context.Context, r *runner, cfg *config.Config, st *store.Store, ob *outbox.Store, qc *queue.Client,
	tracker *notify.Tracker, signer *dkim.Signer, dm *dispatcher.Metrics, log *slog.Logger) error {
	var sts dispatcher.PolicyLookup
	if cfg.Delivery.MTASTS {
		sts = mtasts.NewFetcher(mtasts.Options{Resolver: resolver(cfg.Delivery.DNSResolver), Cache: stsdb.New(st.Conn()),
			Log: log.With("component", "mta-sts")})
	}
	d, err := dispatcher.New(dispatcher.Options{
		Signer:                  signer,
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
		Metrics:                 dm,
	}, st, ob, qc, log)
	if err != nil {
		return err
	}
	r.goRun("dispatcher", func() error { return d.Run(ctx) })
	return nil
}

// startNotifyWorkers starts the notification side work: test-key
// simulation, callbacks, the SMS and Zalo channels, and the sweeper that
// restores their jobs from the store. It returns the providers' webhooks
// the API serves (pattern → handler).
func startNotifyWorkers(ctx context.Context, r *runner, cfg *config.Config, st *notifydb.Store, qc *queue.Client, rdb *redis.Client,
	tracker *notify.Tracker, prov *providers, log *slog.Logger) (map[string]http.Handler, error) {
	w := queue.NewWorker(qc, log.With("component", "notify-worker"), queue.WorkerOptions{})
	w.Handle(notify.QueueTest, queue.HandlerFunc(tracker.HandleTest), queue.HandlerOptions{Concurrency: 16, Lease: 30 * time.Second})
	w.Handle(webhook.Queue, webhook.NewHandler(st, log.With("component", "webhook"), webhook.Options{Allow: cfg.API.CallbackAllowPrefixes()}),
		queue.HandlerOptions{Concurrency: 16, Lease: 30 * time.Second, Backoff: webhook.Backoff})
	r.goRun("notify worker", func() error { return w.Run(ctx) })
	hooks := map[string]http.Handler{}
	smsReceipts, err := startSMS(ctx, r, cfg, st, qc, rdb, tracker, prov, log.With("component", "sms"))
	if err != nil {
		return nil, err
	}
	if smsReceipts != nil {
		hooks["POST /v1/sms/receipts"] = smsReceipts
	}
	queues := []string{notify.QueueTest, notify.QueueSMS, webhook.Queue}
	if cfg.Zalo.AppID != "" {
		hooks["POST /v1/zalo/events"], err = startZalo(ctx, r, cfg, st, qc, rdb, tracker, log.With("component", "zalo"))
		if err != nil {
			return nil, err
		}
		queues = append(queues, notify.ChannelZalo)
		prov.setZalo(cfg.Zalo.AppID)
	}
	sw := queue.NewSweeper(qc, tracker.Source(), log.With("component", "sweeper"), queue.SweeperOptions{Queues: queues})
	r.goRun("notify sweeper", func() error { return sw.Run(ctx) })
	r.goRun("notify expiry", func() error { return tracker.RunExpiry(ctx, time.Minute) })
	r.goRun("reminders", func() error { return tracker.RunReminders(ctx, 5*time.Second) })
	return hooks, nil
}

// newAPI returns the REST API. Close it after the HTTP server's shutdown.
func newAPI(ctx context.Context, cfg *config.Config, st *store.Store, ob *outbox.Store, nst *notifydb.Store, qc *queue.Client, tracker *notify.Tracker,
	metrics *httpapi.Metrics, hooks map[string]http.Handler, log *slog.Logger) (*httpapi.Server, error) {
	set, err := templates.Load()
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	sender := cfg.API.SenderDomain
	if config.Enabled(cfg.Listen.HTTP) {
		if sender, err = senderDomain(ctx, cfg, st); err != nil {
			return nil, err
		}
		log.Info("notification mail", "sender_domain", sender)
	}
	chans, err := channels(cfg, sender)
	if err != nil {
		return nil, err
	}
	reminders, err := reminderOptions(cfg)
	if err != nil {
		return nil, err
	}
	return httpapi.New(httpapi.Options{
		Reminders:    reminders,
		Log:          log.With("service", "http"),
		RateLimit:    cfg.API.RateLimit,
		Webhooks:     hooks,
		MTASTSPolicy: cfg.MTASTSPolicy(),
	}, httpapi.Deps{Store: st, Outbox: ob, Notifications: nst, Queue: qc, Templates: set, Channels: chans, Tracker: tracker, Metrics: metrics}), nil
}

// channels registers the notification channels the configuration serves:
// email (sent from sender's domain through the outbox), SMS, and Zalo when
// it is configured; an event that names none gets cfg.Channels(), in that
// order.
func channels(cfg *config.Config, sender string) (*notify.Registry, error) {
	kinds := []notify.Kind{notify.EmailChannel{SenderDomain: sender}, smschan.Kind{}}
	if cfg.Zalo.AppID != "" {
		kinds = append(kinds, zalochan.Kind{})
	}
	return notify.NewRegistry(kinds...).WithDefaults(cfg.Channels())
}

// newSubmission returns SMTP submission; it DKIM-signs what it accepts
// for remote recipients.
func newSubmission(cfg *config.Config, tlsConfig *tls.Config, st *store.Store, lim *loginlimit.Limiter,
	sessions *revoke.Registry, signer *dkim.Signer, res smtpd.Resources, filterFailed func(filter, server string), sm *smtpd.Metrics, log *slog.Logger) *smtpd.Server {
	common := smtpCommon(cfg, tlsConfig, cfg.SMTP.MaxConnections, cfg.Limits.SubmissionConnectionsPerIP)
	common.Resources = res
	common.Metrics = sm
	common.Filters.OnFailure = filterFailed
	return smtpd.New(smtpd.Options{
		Common:                       common,
		AllowInsecureAuth:            cfg.SMTP.AllowInsecureAuth,
		MaxMessagesPerAccountPerHour: cfg.SMTP.MaxMessagesPerAccountPerHour,
		Sessions:                     sessions,
		Signer:                       signer,
	}, st, lim, log.With("service", "smtp"))
}

// startLearning starts the worker that teaches rspamd what users file
// into and out of Junk, and returns IMAP's Learner; nil (no learning)
// without rspamd or Redis.
func startLearning(ctx context.Context, r *runner, cfg *config.Config, st *store.Store, qc *queue.Client, log *slog.Logger) imapd.Learner {
	if cfg.Filter.RspamdURL == "" || qc == nil {
		return nil
	}
	log = log.With("component", "learn")
	rs := &rspamd.Client{URL: cfg.Filter.RspamdURL, Password: cfg.Filter.RspamdPassword, Timeout: cfg.Filter.Timeout.D()}
	w := queue.NewWorker(qc, log, queue.WorkerOptions{})
	w.Handle(learn.QueueName, learn.NewHandler(st, rs, log), queue.HandlerOptions{Concurrency: 1, Lease: time.Minute})
	r.goRun("learn worker", func() error { return w.Run(ctx) })
	return learn.NewQueue(qc, log)
}

// newIMAP returns the IMAP server, woken by the mailbox changes on the
// change bus (the store's and, through the relay, other nodes').
func newIMAP(cfg *config.Config, tlsConfig *tls.Config, st *store.Store, lim *loginlimit.Limiter,
	sessions *revoke.Registry, changes *changebus.Bus, learner imapd.Learner, m *imapd.Metrics, log *slog.Logger) *imapd.Server {
	opts := imapd.Options{
		TLSConfig:         tlsConfig,
		AllowInsecureAuth: cfg.IMAP.AllowInsecureAuth,
		AppendLimit:       cfg.IMAP.AppendLimit,
		IdleTimeout:       cfg.IMAP.IdleTimeout.D(),
		Sessions:          sessions,
		Changes:           changes,
		Learner:           learner,
		Metrics:           m,
	}
	imapLimits(cfg, &opts)
	return imapd.New(opts, st, lim, log.With("service", "imap"))
}

// listenHTTP serves the REST API (over TLS when the operator configured a
// certificate).
func listenHTTP(r *runner, cfg *config.Config, tlsConfig *tls.Config, api *httpapi.Server, log *slog.Logger) error {
	if api == nil {
		if config.Enabled(cfg.Listen.HTTP) {
			log.Warn("the REST API needs Redis (CONGTHU_REDIS_URL); http listener not opened", "addr", cfg.Listen.HTTP)
		}
		return nil
	}
	hs := &http.Server{Handler: api.Handler()}
	if cfg.TLS.Cert != "" {
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
	return nil
}

// consoleDeps are what serve has built that the console uses.
type consoleDeps struct {
	st       *store.Store
	nst      *notifydb.Store
	qc       *queue.Client // nil without Redis
	rdb      *redis.Client
	lim      *loginlimit.Limiter
	sessions *revoke.Registry
	prov     *providers
}

// listenConsole serves the operator console on admin.addr (over TLS when
// the operator configured a certificate), with the login limits SMTP and
// IMAP use.
func listenConsole(ctx context.Context, r *runner, cfg *config.Config, tlsConfig *tls.Config, d consoleDeps, log *slog.Logger) error {
	if !config.Enabled(cfg.Admin.Addr) {
		return nil
	}
	set, err := templates.Load()
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	sender := cfg.API.SenderDomain
	if sender == "" {
		if ds, err := d.st.Domains(ctx); err == nil && len(ds) > 0 {
			sender = ds[0].Name
		}
	}
	chans, err := channels(cfg, sender)
	if err != nil {
		return err
	}
	log = log.With("service", "console")
	revoked := func(ctx context.Context, accountID, stamp int64) {
		d.sessions.Revoke(accountID, stamp, "changed in the console")
		if d.rdb != nil {
			n := revoke.Notice{AccountID: accountID, Stamp: stamp}
			if err := revoke.Publish(ctx, d.rdb, revoke.ChannelFor(d.rdb.Options().DB), n); err != nil {
				log.Warn("console: revocation not published; other nodes read it from the store", "err", err)
			}
		}
	}
	cs, err := console.New(console.Options{
		Log: log, RequireTOTP: cfg.Admin.RequireTOTP, IdleTimeout: cfg.Admin.IdleTimeout.D(), Secure: cfg.TLS.Cert != "", Issuer: cfg.Hostname,
		Health: d.prov.health, Certificates: leafCertificates(tlsConfig),
	}, console.Deps{
		Store: d.st, Notifications: d.nst, Queue: d.qc, Queues: knownQueues, Templates: set, Channels: chans,
		Limiter: d.lim, NewAPIKey: httpapi.NewAPIKey, Revoked: revoked, Hostname: cfg.Hostname,
		Resolver: resolver(cfg.Delivery.DNSResolver), CallbackAllow: cfg.API.CallbackAllowPrefixes(),
	})
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: cs.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveConsole := func(ln net.Listener) error { return hs.Serve(ln) }
	if cfg.TLS.Cert != "" {
		hs.TLSConfig = tlsConfig.Clone()
		serveConsole = func(ln net.Listener) error { return hs.Serve(tls.NewListener(ln, hs.TLSConfig)) }
	}
	if err := r.listen("admin", cfg.Admin.Addr, serveConsole); err != nil {
		return err
	}
	r.goRun("console sessions", func() error { return cs.Run(ctx) })
	r.stop = append(r.stop, func(ctx context.Context) { hs.Shutdown(ctx) })
	return nil
}

// mxOptions is the inbound MX's configuration: the [smtp] message limits
// and timeouts, the [mx] connection limits and DMARC handling.
func mxOptions(cfg *config.Config, tlsConfig *tls.Config) smtpd.MXOptions {
	return smtpd.MXOptions{
		Common:                    smtpCommon(cfg, tlsConfig, cfg.MX.MaxConnections, cfg.MX.MaxConnectionsPerIP),
		MaxMessagesPerIPPerMinute: cfg.MX.MaxMessagesPerIPPerMinute,
		NoDMARCReject:             cfg.MX.DMARCReject == config.DMARCQuarantine,
		QuarantineToInbox:         cfg.MX.DMARCQuarantine == config.DMARCInbox,
		AllowLocalSpoofing:        cfg.MX.AllowLocalSpoofing,
		Resolver:                  resolver(cfg.Delivery.DNSResolver),
	}
}

// smtpCommon are the settings submission and the MX share: the [smtp]
// message limits and timeouts, the connection caps given, the [limits]
// exemptions, and the content filters.
func smtpCommon(cfg *config.Config, tlsConfig *tls.Config, maxConns, perIP int) smtpd.Common {
	return smtpd.Common{
		Hostname:            cfg.Hostname,
		TLSConfig:           tlsConfig,
		MaxMessageBytes:     cfg.SMTP.MaxMessageBytes,
		MaxRecipients:       cfg.SMTP.MaxRecipients,
		ReadTimeout:         cfg.SMTP.CommandTimeout.D(),
		DataTimeout:         cfg.SMTP.DataTimeout.D(),
		MaxConnections:      maxConns,
		MaxConnectionsPerIP: perIP,
		LimitExempt:         cfg.LimitExemptPrefixes(),
		LimitLoopback:       !cfg.Limits.ExemptLoopback,
		Filters:             filters(cfg),
	}
}

// filters are the content filters of the configuration.
func filters(cfg *config.Config) smtpd.FilterOptions {
	f := smtpd.FilterOptions{
		SpamToInbox:     cfg.Filter.SpamAddHeader == "inbox",
		AcceptUnscanned: cfg.Filter.Failure == "accept",
		Timeout:         cfg.Filter.Timeout.D(),
	}
	if cfg.Filter.ClamdAddr != "" {
		f.Virus = &clamd.Client{Addr: cfg.Filter.ClamdAddr, Timeout: cfg.Filter.Timeout.D()}
	}
	if cfg.Filter.RspamdURL != "" {
		f.Spam = &rspamd.Client{URL: cfg.Filter.RspamdURL, Password: cfg.Filter.RspamdPassword, Timeout: cfg.Filter.Timeout.D()}
	}
	return f
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

// ---- SMS channel: startSMS and what only it uses ----

// startSMS wires the live SMS channel: the SMPP and/or HTTP provider of
// cfg.SMS behind a route.Router (CONGTHU_SMS_PRIMARY first), per-number
// limits in Redis, quiet hours, and the SMS channel's handler on queue
// notify.QueueSMS (lease 30 s). Its receipt side (smschan.Receipts) is
// built first and given to the providers, then the router, then the
// handler. The SMSC is bound in the background, with
// retries, so a down SMSC does not stop the server: until the first bind
// SMS are "not sent, provider unavailable" and retried with back-off. With
// no provider configured, live SMS become technical-failure "no SMS
// provider configured" (smschan.Handler). It returns the HTTP provider's
// receipt webhook for POST /v1/sms/receipts, nil without one.
func startSMS(ctx context.Context, r *runner, cfg *config.Config, st *notifydb.Store, qc *queue.Client, rdb *redis.Client,
	tracker *notify.Tracker, prov *providers, log *slog.Logger) (http.Handler, error) {
	c := cfg.SMS
	quiet, err := policy.ParseQuietHours(c.QuietHours)
	if err != nil {
		return nil, fmt.Errorf("sms quiet hours: %w", err)
	}
	limits := policy.Limits{Max: c.MaxPerHour, Window: time.Hour, DuplicateWindow: c.DuplicateWindow.D()}
	onReceipt := smschan.NewReceipts(st, tracker, log).Apply

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
		prov.setSMPP(c.SMPPAddr, smsc)
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
		prov.setHTTPSMS(c.HTTPURL)
		receipts = p.ReceiptHandler(func(ctx context.Context, rc httpsms.Receipt) error {
			return onReceipt(ctx, route.HTTPReceipt("http", rc))
		})
	}
	primary, secondary := smppSender, httpSender
	if c.Primary == "http" || primary == nil {
		primary, secondary = httpSender, smppSender
	}
	so := smschan.Options{QuietHours: quiet, Limiter: policy.NewLimiter(rdb, limits), Limits: limits, PricePerPartVND: c.PriceVND, Logger: log}
	if primary != nil {
		so.Sender = route.New(primary, secondary, route.Options{Logger: log})
	} else {
		log.Warn("no SMS provider configured (CONGTHU_SMPP_ADDR, CONGTHU_SMS_HTTP_URL): live SMS notifications fail with technical-failure")
	}
	h := smschan.NewHandler(st, tracker, so)
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
	w.Handle(notify.QueueSMS, tracker.Handler(h), queue.HandlerOptions{Concurrency: max(32, 3*c.SMPPWindow), Lease: 30 * time.Second})
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
	mu      sync.Mutex
	c       *smpp.Client
	closed  bool
	lastErr string        // the last failed bind's error, until the first bind
	bound   chan struct{} // closed at the first bind
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
		l.mu.Lock()
		l.lastErr = err.Error()
		l.mu.Unlock()
		log.Warn("SMSC bind failed; retrying", "addr", opts.Addr, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// state reports whether the SMSC is bound now and, if not, why.
func (l *lazySMPP) state() (bool, string) {
	l.mu.Lock()
	c, lastErr := l.c, l.lastErr
	l.mu.Unlock()
	switch {
	case c == nil && lastErr != "":
		return false, "not bound yet; last bind: " + lastErr
	case c == nil:
		return false, "not bound yet"
	case !c.Bound():
		return false, "bind lost; re-binding"
	}
	return true, ""
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
