package dispatcher

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"congthu/dkim"
	"congthu/internal/mailaddr"
	"congthu/internal/metrics"
	"congthu/internal/safego"
	"congthu/mailhdr"
	"congthu/mtasts"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
)

// Queue is the name of the queue of outbound delivery jobs. A job's ID is
// "outbox:<outbox entry ID>" (see JobID); it carries no payload.
const Queue = outbox.JobQueue

// JobID returns the ID of the delivery job of an outbox entry.
func JobID(outboxID int64) string { return "outbox:" + strconv.FormatInt(outboxID, 10) }

// Smarthost TLS modes (Options.SmarthostTLS).
const (
	// SmarthostTLSAuto uses STARTTLS when offered, and requires it when
	// credentials are set; on port 465 it means SmarthostImplicitTLS.
	SmarthostTLSAuto = ""
	// SmarthostStartTLS requires STARTTLS (RFC 3207).
	SmarthostStartTLS = "starttls"
	// SmarthostImplicitTLS connects with TLS from the start (RFC 8314).
	SmarthostImplicitTLS = "tls"
)

// PolicyLookup finds the MTA-STS policy of a destination domain: nil when
// it has none. A policy returned with an error still applies (a cached
// one); the error is logged.
type PolicyLookup interface {
	Lookup(ctx context.Context, domain string) (*mtasts.Policy, error)
}

// Options configure a Dispatcher. The zero value is usable: defaults are
// noted on each field.
type Options struct {
	// Signer DKIM-signs what was queued unsigned (notification mail;
	// submission signs when it accepts). Default: a Signer over the
	// store's keys.
	Signer *dkim.Signer

	// Hostname is the name said in EHLO and reported as Reporting-MTA
	// in DSNs. Default: os.Hostname().
	Hostname string

	// Smarthost, "host:port", sends all remote mail through one relay
	// (as many government networks require) instead of to MX hosts.
	Smarthost string
	// SmarthostUsername and SmarthostPassword, if set, log in with AUTH
	// PLAIN (RFC 4616), only over TLS.
	SmarthostUsername string
	SmarthostPassword string
	// SmarthostTLS is one of the SmarthostTLS* modes.
	SmarthostTLS string
	// SmarthostInsecureSkipVerify accepts any certificate from the
	// smarthost (MX hosts are verified only under an MTA-STS policy:
	// otherwise TLS to them is opportunistic).
	SmarthostInsecureSkipVerify bool
	// RootCAs verify the smarthost's certificate, and MX hosts' under an
	// MTA-STS policy. Default: the system's.
	RootCAs *x509.CertPool

	// Resolver looks up MX and A/AAAA records. Default net.DefaultResolver.
	Resolver Resolver
	// DNSCacheTTL is how long successful MX and address lookups are
	// reused (net.Resolver does not cache). Default 30 s; negative
	// disables the cache.
	DNSCacheTTL time.Duration
	// Port is the SMTP port of MX hosts. Default 25.
	Port int
	// RequireTLS lists destination domains whose mail must go over TLS:
	// if STARTTLS is not offered or its handshake fails, delivery is
	// retried later instead of going on in clear.
	RequireTLS []string
	// MTASTS, if set, finds the MTA-STS policy (RFC 8461) of each
	// destination domain when mail goes to its MX hosts (not through a
	// smarthost). Under a policy in enforce mode, mail goes only to MX
	// hosts the policy names, over TLS with a certificate valid for the
	// host (verified against RootCAs); otherwise the delivery is retried
	// later. In testing mode what enforce would refuse is logged.
	// mtasts.Fetcher implements it.
	MTASTS PolicyLookup

	// RetrySchedule are the delays after the 1st, 2nd, ... failed attempt;
	// the last repeats. Default 1m, 5m, 15m, 30m, 1h, 2h, 4h.
	RetrySchedule []time.Duration
	// MaxQueueAge is how long a message is retried before it expires
	// and its sender gets a DSN. Default 120h (5 days).
	MaxQueueAge time.Duration
	// DelayNotice is the age after which the sender is told once that
	// delivery is delayed. Default 4h; negative disables the notice.
	DelayNotice time.Duration

	// MaxPerDomain is the most simultaneous connections to one
	// destination domain (or to the smarthost). Default 10.
	MaxPerDomain int
	// SmarthostMaxConnections is the most simultaneous connections to
	// the smarthost, which carries every domain's mail: one SMTP
	// transaction without pipelining is four round trips, so ten
	// connections cap a loaded node at a few hundred messages a second.
	// Default 50.
	SmarthostMaxConnections int
	// Workers is how many delivery jobs run at once (most of them wait:
	// on a connection slot, the network, the store). Default 256.
	Workers int
	// ConnectTimeout bounds a TCP connect. Default 30 s.
	ConnectTimeout time.Duration
	// CommandTimeout bounds the wait for one SMTP reply (RFC 5321
	// 4.5.3.2 suggests 5 minutes). Default 5 min.
	CommandTimeout time.Duration
	// DataTimeout bounds sending the message and the final reply.
	// Default 10 min.
	DataTimeout time.Duration
	// IdleTimeout closes a pooled connection unused this long. Default 5 s.
	IdleTimeout time.Duration
	// MaxMessagesPerConn closes a connection after this many
	// transactions. Default 100.
	MaxMessagesPerConn int

	// SweepInterval is how often Run asks the store for due entries that
	// Redis forgot (queue.Sweeper). Default 30 s; negative: Run starts no
	// sweeper (the caller runs one over Source).
	SweepInterval time.Duration
	// KeepFinished keeps outbox entries whose recipients all reached a
	// final state (for inspection); by default they are removed.
	KeepFinished bool
	// ShutdownTimeout is how long Run lets running deliveries finish
	// after its context is done. Default 10 s.
	ShutdownTimeout time.Duration
	// Lease is how long a delivery job may go without word from its
	// worker before another worker (or this node after a restart)
	// reclaims it; running jobs renew it every Lease/3. It bounds how
	// long a crash delays the jobs that were in flight. Default 30 s.
	Lease time.Duration

	// Compose, if set, returns the message of an entry stored without
	// its bytes (one composed when it is delivered, such as a
	// notification email). An error wrapping store.ErrInvalid or
	// store.ErrNotFound fails the recipients permanently; any other is
	// retried with the job. Without Compose such an entry fails.
	Compose func(ctx context.Context, outboxID int64) ([]byte, error)
	// SendingAfter is how long the first attempt of an entry may run
	// before the outbox hooks are told it is in progress
	// (outbox.Store.RecordInProgress); an attempt that ends sooner passes
	// the time it began with its outcome (outbox.Attempt.Started).
	// Default 1 s.
	SendingAfter time.Duration

	// Now is the clock for retry schedules, expiry and delay notices.
	// Default time.Now.
	Now func() time.Time

	// Metrics count the recorded outcomes and the DSNs (NewMetrics).
	// Default: counters nobody reads.
	Metrics *Metrics
}

// Outbox is what the dispatcher needs from the outbox: the entries due,
// their state, and the recording of outcomes. *outbox.Store implements it.
type Outbox interface {
	State(ctx context.Context, id int64) (*outbox.State, error)
	DuePage(ctx context.Context, t time.Time, after int64, limit int) ([]int64, error)
	RecordAttempts(ctx context.Context, attempts []outbox.Attempt, remove bool) error
	RecordInProgress(ctx context.Context, id int64, recipients []string, started time.Time) error
}

// Store is what the dispatcher needs from the mail store: local domains
// and recipients (for mail to them and for DSNs), delivery into their
// mailboxes, and DKIM keys. *store.Store implements it.
type Store interface {
	Domain(ctx context.Context, name string) (*store.Domain, error)
	ResolveRecipient(ctx context.Context, address string) (*store.Account, error)
	Deliver(ctx context.Context, d *store.Delivery) (*store.DeliveryResult, error)
	dkim.KeySource
}

// DefaultRetrySchedule is the retry schedule when Options.RetrySchedule is
// empty: minutes first, then hours, like Postfix and Stalwart.
var DefaultRetrySchedule = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour,
}

func (o *Options) withDefaults() {
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "localhost"
		}
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.SendingAfter <= 0 {
		o.SendingAfter = time.Second
	}
	if o.DNSCacheTTL == 0 {
		o.DNSCacheTTL = 30 * time.Second
	}
	if o.DNSCacheTTL > 0 {
		o.Resolver = newCachingResolver(o.Resolver, o.DNSCacheTTL)
	}
	if o.Port <= 0 {
		o.Port = 25
	}
	if len(o.RetrySchedule) == 0 {
		o.RetrySchedule = DefaultRetrySchedule
	}
	if o.MaxQueueAge <= 0 {
		o.MaxQueueAge = 120 * time.Hour
	}
	if o.DelayNotice == 0 {
		o.DelayNotice = 4 * time.Hour
	}
	if o.MaxPerDomain <= 0 {
		o.MaxPerDomain = 10
	}
	if o.SmarthostMaxConnections <= 0 {
		o.SmarthostMaxConnections = 50
	}
	if o.Workers <= 0 {
		o.Workers = 256
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Minute
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = 10 * time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Second
	}
	if o.MaxMessagesPerConn <= 0 {
		o.MaxMessagesPerConn = 100
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 30 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(metrics.NewRegistry())
	}
	if o.Smarthost != "" && o.SmarthostTLS == SmarthostTLSAuto {
		if _, port, _ := net.SplitHostPort(o.Smarthost); port == "465" {
			o.SmarthostTLS = SmarthostImplicitTLS
		}
	}
}

// Dispatcher delivers the outbox: local recipients into their mailboxes,
// remote ones over SMTP, with retries, DSNs and delay notices. Create it
// with New and start it with Run.
type Dispatcher struct {
	o   Options
	st  Store
	ob  Outbox
	q   *queue.Client
	log *slog.Logger
	t   *transport

	domains sync.Map // name -> cachedDomain
}

// New returns a Dispatcher over the mail store st, the outbox ob and the
// queue client q.
func New(opts Options, st Store, ob Outbox, q *queue.Client, log *slog.Logger) (*Dispatcher, error) {
	if st == nil || ob == nil || q == nil {
		return nil, errors.New("dispatcher: store, outbox and queue client are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.withDefaults()
	if opts.Smarthost != "" {
		if _, _, err := net.SplitHostPort(opts.Smarthost); err != nil {
			return nil, fmt.Errorf("dispatcher: smarthost %q must be host:port: %w", opts.Smarthost, err)
		}
		switch opts.SmarthostTLS {
		case SmarthostTLSAuto, SmarthostStartTLS, SmarthostImplicitTLS:
		default:
			return nil, fmt.Errorf("dispatcher: smarthost TLS mode %q: want %q, %q or %q", opts.SmarthostTLS, SmarthostTLSAuto, SmarthostStartTLS, SmarthostImplicitTLS)
		}
	}
	for _, d := range opts.RetrySchedule {
		if d <= 0 {
			return nil, fmt.Errorf("dispatcher: retry schedule has a non-positive delay %v", d)
		}
	}
	log = log.With("component", "dispatcher")
	if opts.Signer == nil {
		opts.Signer = dkim.NewSigner(st, log)
	}
	d := &Dispatcher{
		o: opts, st: st, ob: ob, q: q, log: log,
		t: newTransport(&opts, log),
	}
	d.t.o = &d.o
	return d, nil
}

// Source returns the sweeper's view of the outbox: entries due for
// delivery, as jobs of Queue. It answers nothing for other queues.
func (d *Dispatcher) Source() queue.Source { return source{d.ob} }

type source struct{ ob Outbox }

// Due implements queue.Source; the cursor is the last outbox ID returned.
func (s source) Due(ctx context.Context, q string, before time.Time, cursor string, limit int) ([]queue.Job, string, error) {
	if q != Queue {
		return nil, "", nil
	}
	var after int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("dispatcher: bad sweep cursor %q", cursor)
		}
		after = n
	}
	ids, err := s.ob.DuePage(ctx, before, after, limit)
	if err != nil {
		return nil, "", err
	}
	jobs := make([]queue.Job, len(ids))
	for i, id := range ids {
		jobs[i] = queue.Job{ID: JobID(id), Queue: Queue}
	}
	next := ""
	if len(ids) > 0 && len(ids) == limit {
		next = strconv.FormatInt(ids[len(ids)-1], 10)
	}
	return jobs, next, nil
}

// Run delivers until ctx is done: it takes jobs from the outbound queue
// with Workers workers, sweeps the store
// for entries Redis forgot, and closes idle connections. On shutdown it
// stops taking jobs, lets running deliveries finish for ShutdownTimeout
// (the rest stay pending in Redis and are reclaimed after the lease) and
// closes every connection.
func (d *Dispatcher) Run(ctx context.Context) error {
	w := queue.NewWorker(d.q, d.log, queue.WorkerOptions{ShutdownTimeout: d.o.ShutdownTimeout})
	if err := w.Handle(Queue, queue.HandlerFunc(d.handle), queue.HandlerOptions{
		Concurrency: d.o.Workers,
		Lease:       d.o.Lease,
		// Jobs end with RetryAt; a plain error (the store failing)
		// is retried soon.
		Backoff: func(attempt int) time.Duration { return min(time.Duration(attempt)*5*time.Second, time.Minute) },
	}); err != nil {
		return err
	}
	var wg sync.WaitGroup
	goSafe(&wg, d.log, "janitor", func() { d.janitor(ctx) })
	if d.o.SweepInterval > 0 {
		sw := queue.NewSweeper(d.q, d.Source(), d.log, queue.SweeperOptions{Queues: []string{Queue}, Interval: d.o.SweepInterval, Grace: time.Second})
		goSafe(&wg, d.log, "sweeper", func() { sw.Run(ctx) })
	}
	err := w.Run(ctx)

	wg.Wait()
	d.t.closeAll()
	return err
}

// goSafe runs fn in a goroutine counted by wg, logging a panic.
func goSafe(wg *sync.WaitGroup, log *slog.Logger, what string, fn func()) {
	safego.Go(wg, log, "dispatcher "+what, fn, nil)
}

func (d *Dispatcher) janitor(ctx context.Context) {
	tick := time.NewTicker(max(d.o.IdleTimeout/2, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			d.t.expire()
		}
	}
}

// record stores a job's outcomes (the store groups those of concurrent
// jobs in one transaction). It waits even if ctx ends: the outcomes are
// being written, and the job must not look unrecorded meanwhile.
func (d *Dispatcher) record(ctx context.Context, attempts []outbox.Attempt) error {
	return d.ob.RecordAttempts(context.WithoutCancel(ctx), attempts, !d.o.KeepFinished)
}

// retryDelay is the delay after the n-th failed attempt (n >= 1).
func (d *Dispatcher) retryDelay(n int) time.Duration {
	s := d.o.RetrySchedule
	return s[min(max(n, 1), len(s))-1]
}

// realTime converts a time on the Options.Now clock to the wall clock the
// queue schedules by.
func (d *Dispatcher) realTime(t time.Time) time.Time {
	return time.Now().Add(t.Sub(d.o.Now()))
}

// AttemptNow runs an attempt at one outbox entry in the caller's
// goroutine, as a job would (for tests and the CLI). It returns when the
// recipients due now were attempted and the outcomes recorded; the
// returned time is the next attempt of recipients still queued (zero when
// none are).
func (d *Dispatcher) AttemptNow(ctx context.Context, outboxID int64) (time.Time, error) {
	return d.attemptEntry(ctx, outboxID)
}

// handle is the job handler of Queue.
func (d *Dispatcher) handle(ctx context.Context, j *queue.Job) error {
	idText, ok := strings.CutPrefix(j.ID, "outbox:")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil {
		return queue.Permanent(fmt.Errorf("dispatcher: job ID %q does not name an outbox entry", j.ID))
	}
	next, err := d.attemptEntry(ctx, id)
	if err != nil {
		return err
	}
	if !next.IsZero() {
		return queue.RetryAt(d.realTime(next), nil)
	}
	return nil
}

// attemptEntry attempts every due recipient of an outbox entry and records
// the outcomes. See AttemptNow.
func (d *Dispatcher) attemptEntry(ctx context.Context, id int64) (time.Time, error) {
	st, err := d.ob.State(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil // delivered and removed by an earlier run
	}
	if err != nil {
		return time.Time{}, err
	}
	now := d.o.Now()
	var due []outbox.RecipientState
	var later time.Time
	for _, r := range st.Recipients {
		if r.Status != outbox.Queued {
			continue
		}
		if r.NextAttempt.After(now) {
			later = earliest(later, r.NextAttempt)
			continue
		}
		due = append(due, r)
	}
	if len(due) == 0 {
		return later, nil
	}
	raw := st.Raw
	log := d.log.With("outbox", id)
	var started time.Time // the entry's first attempt
	stopMark := func() {}
	if due[0].Attempts == 0 {
		started = time.Now()
		stopMark = d.markInProgressAfter(ctx, log, id, due, started)
		defer stopMark()
	}

	var outcomes []*DeliveryError
	// Each recipient's destination class, for the metrics: remote ones
	// by their domain, local ones as attempt finds them.
	dests := make([]destination, len(due))
	for i, r := range due {
		dests[i] = remoteClass(mailaddr.Domain(r.Address))
	}
	if len(raw) == 0 {
		// Composed when delivered, or, without Options.Compose,
		// nothing that could be sent.
		var cerr error
		if d.o.Compose != nil {
			raw, cerr = d.o.Compose(ctx, id)
			if cerr == nil && len(raw) == 0 {
				cerr = fmt.Errorf("the composed message is empty: %w", store.ErrInvalid)
			}
		} else {
			cerr = fmt.Errorf("the entry holds no message, and nothing is set to compose one: %w", store.ErrInvalid)
		}
		if cerr != nil {
			if !errors.Is(cerr, store.ErrInvalid) && !errors.Is(cerr, store.ErrNotFound) {
				return time.Time{}, fmt.Errorf("dispatcher: compose outbox %d: %w", id, cerr)
			}
			log.Error("dispatcher: cannot compose the message", "err", cerr)
			outcomes = make([]*DeliveryError, len(due))
			for i := range due {
				outcomes[i] = permanent("5.3.0", "cannot compose the message: %v", cerr)
			}
		}
	}
	if outcomes == nil {
		outcomes = d.attempt(ctx, log, st, raw, due, dests)
	}
	stopMark()
	if ctx.Err() != nil {
		// Shutting down: record nothing, the job stays pending and
		// the recipients are tried again.
		return time.Time{}, ctx.Err()
	}

	// Decide each recipient's new state.
	now = d.o.Now()
	deadline := st.CreatedAt.Add(d.o.MaxQueueAge)
	attempts := make([]outbox.Attempt, len(due))
	var failed, delayed []dsnRecipient
	for i, r := range due {
		e := outcomes[i]
		a := outbox.Attempt{OutboxID: id, Address: r.Address, Started: started}
		switch {
		case e == nil:
			a.Status = outbox.Delivered
		case e.Permanent:
			a.Status, a.LastError = outbox.Failed, e.Error()
			failed = append(failed, dsnRecipient{addr: r.Address, action: "failed", err: e})
		case !now.Before(deadline):
			a.Status, a.LastError = outbox.Expired, e.Error()
			failed = append(failed, dsnRecipient{addr: r.Address, action: "failed", err: e, expired: true})
		default:
			a.Status, a.LastError = outbox.Queued, e.Error()
			a.NextAttempt = now.Add(d.retryDelay(r.Attempts + 1))
			if a.NextAttempt.After(deadline) {
				a.NextAttempt = deadline // one last try when the message expires
			}
			later = earliest(later, a.NextAttempt)
			if d.o.DelayNotice > 0 && !r.DelayNotified && now.Sub(st.CreatedAt) >= d.o.DelayNotice {
				a.DelayNotified = true
				delayed = append(delayed, dsnRecipient{addr: r.Address, action: "delayed", err: e, retryUntil: deadline})
			}
		}
		attempts[i] = a
	}

	// Reports first, then the record: a crash in between repeats the
	// report (at least once) rather than losing it.
	hdr := raw[:mailhdr.SectionLen(raw)]
	if len(failed) > 0 {
		d.report(ctx, log, st, hdr, failed, now)
	}
	if len(delayed) > 0 {
		d.report(ctx, log, st, hdr, delayed, now)
	}
	if err := d.record(ctx, attempts); err != nil {
		return time.Time{}, fmt.Errorf("dispatcher: record outcomes of outbox %d: %w", id, err)
	}
	for i, a := range attempts {
		d.o.Metrics.outcome(a.Status, dests[i])
		switch a.Status {
		case outbox.Delivered:
			log.Info("dispatcher: delivered", "rcpt", a.Address)
		case outbox.Failed, outbox.Expired:
			log.Warn("dispatcher: not delivered", "rcpt", a.Address, "status", a.Status, "err", a.LastError)
		default:
			log.Info("dispatcher: deferred", "rcpt", a.Address, "next", a.NextAttempt, "err", a.LastError)
		}
	}
	return later, nil
}

// markInProgressAfter tells the outbox hooks that the first attempt of
// entry id, begun at started, is in progress, if it is still running after
// Options.SendingAfter. The returned stop cancels that, or waits for one
// under way: it is then recorded before the outcome. Calling stop again
// does nothing.
func (d *Dispatcher) markInProgressAfter(ctx context.Context, log *slog.Logger, id int64, due []outbox.RecipientState, started time.Time) (stop func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	t := time.AfterFunc(d.o.SendingAfter, func() {
		defer wg.Done()
		defer func() {
			if p := recover(); p != nil {
				log.Error("dispatcher: recording the attempt in progress panicked", "panic", p, "stack", string(debug.Stack()))
			}
		}()
		rcpts := make([]string, len(due))
		for i, r := range due {
			rcpts[i] = r.Address
		}
		if err := d.ob.RecordInProgress(ctx, id, rcpts, started); err != nil {
			log.Warn("dispatcher: cannot record the attempt in progress", "err", err)
		}
	})
	return func() {
		if t.Stop() {
			wg.Done()
		}
		wg.Wait()
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// attempt transfers raw to the due recipients (local ones are delivered
// into their mailboxes), grouped by domain, domains in parallel, and
// returns each recipient's outcome (nil: delivered). It marks the
// recipients it delivered locally destLocal in dests.
func (d *Dispatcher) attempt(ctx context.Context, log *slog.Logger, st *outbox.State, raw []byte, due []outbox.RecipientState, dests []destination) []*DeliveryError {
	out := make([]*DeliveryError, len(due))
	byDomain := map[string][]int{}
	var domains []string
	for i, r := range due {
		dom := mailaddr.Domain(r.Address)
		if dom == "" {
			out[i] = permanent("5.1.3", "bad recipient address %q", r.Address)
			continue
		}
		if byDomain[dom] == nil {
			domains = append(domains, dom)
		}
		byDomain[dom] = append(byDomain[dom], i)
	}
	sort.Strings(domains)

	// Submitted mail was signed when accepted (see Sign); what reaches
	// the queue without our signature (API notifications, DSNs, mail
	// queued before an upgrade) is signed here, once per message.
	var signed []byte
	var signOnce sync.Once
	sign := func() []byte {
		signOnce.Do(func() { signed = d.o.Signer.SignUnlessSigned(ctx, log, st.MailFrom, raw) })
		return signed
	}

	// A group that does not finish (a panic) leaves its recipients
	// deferred, never "delivered".
	for _, idx := range byDomain {
		for _, i := range idx {
			out[i] = temporary("4.3.0", "internal error: delivery did not finish")
		}
	}
	var wg sync.WaitGroup
	run := func(dom string) {
		idx := byDomain[dom]
		rcpts := make([]string, len(idx))
		for k, i := range idx {
			rcpts[k] = due[i].Address
		}
		var res []*DeliveryError
		local, err := d.isLocal(ctx, dom)
		switch {
		case err != nil:
			res = fill(len(rcpts), temporary("4.3.0", "store: %v", err))
		case local:
			for _, i := range idx {
				dests[i] = destLocal
			}
			res = d.deliverLocal(ctx, rcpts, raw)
		default:
			msg := sign()
			res = make([]*DeliveryError, 0, len(rcpts))
			for start := 0; start < len(rcpts); start += maxRcptsPerTransaction {
				end := min(start+maxRcptsPerTransaction, len(rcpts))
				res = append(res, d.t.transfer(ctx, dom, st.MailFrom, rcpts[start:end], msg)...)
			}
		}
		for k, i := range idx {
			out[i] = res[k]
		}
	}
	if len(domains) == 1 {
		run(domains[0])
		return out
	}
	for _, dom := range domains {
		goSafe(&wg, log, "delivery to "+dom, func() { run(dom) })
	}
	wg.Wait()
	return out
}

func fill(n int, e *DeliveryError) []*DeliveryError {
	out := make([]*DeliveryError, n)
	for i := range out {
		out[i] = e
	}
	return out
}

func (d *Dispatcher) isLocal(ctx context.Context, domain string) (bool, error) {
	dm, err := d.domain(ctx, domain)
	return dm != nil, err
}

// domainCacheTTL is how long the dispatcher remembers a domain (local or
// not): a domain that became local is used within this time.
const domainCacheTTL = 5 * time.Second

type cachedDomain struct {
	d  *store.Domain // nil: not local
	at time.Time
}

// domain returns the local domain name, or nil when it is not local.
func (d *Dispatcher) domain(ctx context.Context, name string) (*store.Domain, error) {
	c, err := d.cachedDomain(ctx, name)
	return c.d, err
}

// cachedDomain returns what the dispatcher remembers of a domain, reading
// it from the store (and parsing its DKIM key once) when it is older than
// domainCacheTTL.
func (d *Dispatcher) cachedDomain(ctx context.Context, name string) (cachedDomain, error) {
	if v, ok := d.domains.Load(name); ok {
		c := v.(cachedDomain)
		if time.Since(c.at) < domainCacheTTL {
			return c, nil
		}
	}
	dm, err := d.st.Domain(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		dm, err = nil, nil
	}
	if err != nil {
		return cachedDomain{}, err
	}
	c := cachedDomain{d: dm, at: time.Now()}
	d.domains.Store(name, c)
	return c, nil
}

// deliverLocal puts the message into the INBOX of recipients whose domain
// is local (it became local after the message was queued).
func (d *Dispatcher) deliverLocal(ctx context.Context, rcpts []string, raw []byte) []*DeliveryError {
	out := make([]*DeliveryError, len(rcpts))
	var targets []store.LocalTarget
	var which []int
	seen := map[int64]bool{}
	for i, r := range rcpts {
		acc, err := d.st.ResolveRecipient(ctx, r)
		if errors.Is(err, store.ErrNotFound) {
			out[i] = &DeliveryError{Code: 550, Status: "5.1.1", Message: "no such local recipient", RemoteMTA: d.o.Hostname, Permanent: true}
			continue
		} else if err != nil {
			out[i] = temporary("4.3.0", "store: %v", err)
			continue
		}
		which = append(which, i)
		if !seen[acc.ID] {
			seen[acc.ID] = true
			targets = append(targets, store.LocalTarget{AccountID: acc.ID})
		}
	}
	if len(targets) > 0 {
		if _, err := d.st.Deliver(ctx, &store.Delivery{Raw: raw, Local: targets}); err != nil {
			for _, i := range which {
				out[i] = temporary("4.3.0", "store: %v", err)
			}
		}
	}
	return out
}
