// Package route sends an SMS through one of two providers: a preferred
// (primary) one and a standby (secondary) that takes over while the primary
// keeps failing. It also holds the one error model of SMS sending
// (*SendError) that the SMPP and HTTP providers' errors are mapped to.
//
// # Switching
//
// Each provider has a circuit breaker. A provider failure (SendError.Fault
// is FaultProvider: the SMSC or API is down, throttling past its retries,
// refusing our account) counts against it; FailuresToSwitch failures in a
// row open its circuit for Cooldown, during which it gets no traffic. When
// the Cooldown is over, the next message probes it (half-open): success
// closes the circuit, failure opens it for another Cooldown. Any answer
// that shows the provider working, including a refusal of the message
// itself (FaultMessage: a bad number), closes the circuit and resets the
// count: bad numbers never make us switch.
//
// A message whose provider failed is handed to the other provider at once
// when it provably was not accepted. It is not when the outcome is unknown
// (timeout after the request was written) or some parts were accepted:
// sending it again elsewhere could put it twice on the handset, so the
// error goes back to the caller, who may retry later or wait for a receipt.
//
// With one provider (secondary nil) there is nothing to switch to: every
// message goes to it, whatever its failures.
package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"congthu/phone"
	"congthu/sms"
)

// Message is one SMS to send.
type Message struct {
	// To is the destination in E.164, as phone.Parse returns it.
	To string
	// Text is the message; Fold removes Vietnamese diacritics first.
	Text string
	Fold bool
	// Reference is the caller's id for the message (a notification id);
	// providers that carry one (HTTP) send it along.
	Reference string
}

// Result tells which provider accepted a message and under what ids.
type Result struct {
	// Provider names the provider that accepted it (see Named); receipts
	// come back from it and are matched by its ids.
	Provider string
	// ProviderID is the provider's id of the message: the first part's
	// message_id over SMPP, the API's message id over HTTP.
	ProviderID string
	// MessageIDs holds every part's id (SMPP gives one per part; HTTP one
	// in all).
	MessageIDs []string
	// Encoding and Parts describe what was sent.
	Encoding sms.Encoding
	Parts    int
}

// Sender is a provider that sends one SMS. It returns a *SendError on
// failure; other errors are read as temporary provider failures.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// Named is implemented by Senders that have a name for Result.Provider and
// logs; others are called "primary" and "secondary".
type Named interface {
	Name() string
}

// Fault says what a failed send is about.
type Fault int

const (
	// FaultProvider: the provider or the way to it failed (down, timing
	// out, throttling, refusing our account or sender). Counts toward
	// switching; another provider may succeed.
	FaultProvider Fault = iota
	// FaultMessage: the provider refused the message itself (a number that
	// does not exist, a text it will not carry). Any provider would; it
	// does not count against the provider.
	FaultMessage
)

// String names the fault.
func (f Fault) String() string {
	if f == FaultMessage {
		return "message"
	}
	return "provider"
}

// ErrPermanent is matched (errors.Is) by every *SendError that is not
// Temporary: the dispatcher must not retry the message.
var ErrPermanent = errors.New("sms: permanent failure")

// ErrNoProvider: every provider's circuit is open; try again at
// SendError.RetryAfter.
var ErrNoProvider = errors.New("sms: no provider available")

// SendError is why a message was not sent. The dispatcher decides with it
// once: retry later (Temporary), give up (permanent), or, with
// UnknownOutcome, wait for a receipt before sending again.
type SendError struct {
	// Provider names the provider that failed ("" when none was tried).
	Provider string
	// Temporary: sending again later may work.
	Temporary bool
	// Fault says whether the provider or the message is at fault.
	Fault Fault
	// UnknownOutcome: the request reached the provider but its answer did
	// not reach us, so it may have been accepted.
	UnknownOutcome bool
	// MessageIDs are the ids of the parts accepted before the failure.
	MessageIDs []string
	// RetryAfter is how long to wait before trying again, when known.
	RetryAfter time.Duration
	// Err is the provider's error (*smpp.StatusError, *httpsms.Error...).
	Err error
}

// Error describes the failure; it holds no number or text.
func (e *SendError) Error() string {
	kind := "permanent"
	if e.Temporary {
		kind = "temporary"
	}
	s := fmt.Sprintf("sms: %s %s failure", kind, e.Fault)
	if e.Provider != "" {
		s += " at " + e.Provider
	}
	if e.UnknownOutcome {
		s += " (outcome unknown)"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the provider's error.
func (e *SendError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermanent) true for permanent errors.
func (e *SendError) Is(target error) bool { return target == ErrPermanent && !e.Temporary }

// asSendError reads any Send error as a *SendError of provider name.
func asSendError(err error, name string) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		if se.Provider == "" {
			c := *se
			c.Provider = name
			return &c
		}
		return se
	}
	return &SendError{Provider: name, Temporary: true, Fault: FaultProvider, Err: err}
}

// Options tune a Router. Zero values take the defaults named.
type Options struct {
	// FailuresToSwitch is how many provider failures in a row open a
	// provider's circuit; default 3.
	FailuresToSwitch int
	// Cooldown is how long an open circuit keeps a provider out; default 1m.
	Cooldown time.Duration
	// AttemptTimeout bounds one provider's attempt at one message, so that
	// a provider that hangs (an SMSC that cannot be reached waits for its
	// bind) gives way to the other; default 30s.
	AttemptTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets circuit changes; nil discards them.
	Logger *slog.Logger
}

// Router sends through the primary provider while it works and through
// the secondary while the primary's circuit is open. It is safe for
// concurrent use.
type Router struct {
	opts  Options
	log   *slog.Logger
	provs []*provider
	mu    sync.Mutex // guards the providers' circuits
}

// provider is one Sender and its circuit.
type provider struct {
	s    Sender
	name string

	// guarded by Router.mu
	failures  int
	openUntil time.Time // zero: closed
	probing   bool      // a half-open probe is in flight
}

// New returns a Router over primary and, when not nil, secondary.
func New(primary, secondary Sender, opts Options) *Router {
	if opts.FailuresToSwitch <= 0 {
		opts.FailuresToSwitch = 3
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = time.Minute
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Router{opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.provs = append(r.provs, &provider{s: primary, name: nameOf(primary, "primary")})
	if secondary != nil {
		r.provs = append(r.provs, &provider{s: secondary, name: nameOf(secondary, "secondary")})
	}
	return r
}

func nameOf(s Sender, def string) string {
	if n, ok := s.(Named); ok && n.Name() != "" {
		return n.Name()
	}
	return def
}

// Send sends m through the first provider whose circuit lets it, falling
// over to the other when that one fails before accepting anything. Errors
// are *SendError.
func (r *Router) Send(ctx context.Context, m Message) (Result, error) {
	cands, retryAt := r.pick()
	if len(cands) == 0 {
		return Result{}, &SendError{Temporary: true, Fault: FaultProvider, Err: ErrNoProvider,
			RetryAfter: max(retryAt.Sub(r.opts.Now()), 0)}
	}
	tried := 0
	defer func() {
		// A probe taken for a provider we did not get to stays available.
		for _, c := range cands[tried:] {
			if c.probe {
				r.release(c.p)
			}
		}
	}()
	var last *SendError
	anyTemporary := false
	for _, c := range cands {
		p := c.p
		if tried > 0 {
			r.log.InfoContext(ctx, "sms falling over", "from", cands[tried-1].p.name, "to", p.name, "dest", phone.Mask(m.To), "err", last)
		}
		tried++
		res, err := r.attempt(ctx, p, m)
		if err == nil {
			r.done(ctx, c, true)
			if res.Provider == "" {
				res.Provider = p.name
			}
			return res, nil
		}
		se := asSendError(err, p.name)
		if ctx.Err() != nil {
			// Our caller gave up: says nothing about the provider.
			if c.probe {
				r.release(p)
			}
			return res, se
		}
		if se.Fault == FaultMessage {
			r.done(ctx, c, true) // it answered: it works
			return res, se
		}
		r.done(ctx, c, false)
		anyTemporary = anyTemporary || se.Temporary
		last = se
		if se.UnknownOutcome || len(se.MessageIDs) > 0 {
			return res, se // may be on its way: never send it twice
		}
	}
	if anyTemporary && !last.Temporary {
		// The other provider may take it later.
		c := *last
		c.Temporary = true
		last = &c
	}
	return Result{}, last
}

// attempt runs one provider's Send under AttemptTimeout.
func (r *Router) attempt(ctx context.Context, p *provider, m Message) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.AttemptTimeout)
	defer cancel()
	return p.s.Send(ctx, m)
}

// candidate is a provider to try and whether this message is its
// half-open probe.
type candidate struct {
	p     *provider
	probe bool
}

// pick returns the providers to try, in order, taking the half-open probe
// of a provider whose cooldown is over. With none, it also returns when to
// try again.
func (r *Router) pick() ([]candidate, time.Time) {
	if len(r.provs) == 1 {
		return []candidate{{p: r.provs[0]}}, time.Time{}
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []candidate
	var next time.Time
	for _, p := range r.provs {
		switch {
		case p.openUntil.IsZero():
			out = append(out, candidate{p: p})
		case now.Before(p.openUntil) || p.probing:
			if next.IsZero() || p.openUntil.Before(next) {
				next = p.openUntil
			}
		default: // half-open: this message is the probe
			p.probing = true
			out = append(out, candidate{p: p, probe: true})
		}
	}
	if next.Before(now) {
		next = now // only a probe in flight; try again soon
	}
	return out, next
}

// done records an attempt's verdict on p's circuit.
func (r *Router) done(ctx context.Context, c candidate, ok bool) {
	if len(r.provs) == 1 {
		return
	}
	p, wasProbe := c.p, c.probe
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if wasProbe {
		p.probing = false
	}
	if ok {
		if !p.openUntil.IsZero() {
			r.log.InfoContext(ctx, "sms provider back", "provider", p.name)
		}
		p.failures, p.openUntil = 0, time.Time{}
		return
	}
	p.failures++
	if wasProbe || p.failures >= r.opts.FailuresToSwitch {
		if p.openUntil.IsZero() || wasProbe {
			r.log.WarnContext(ctx, "sms provider circuit open", "provider", p.name, "failures", p.failures, "until", now.Add(r.opts.Cooldown))
		}
		p.openUntil = now.Add(r.opts.Cooldown)
	}
}

// release ends a probe that was interrupted without a verdict.
func (r *Router) release(p *provider) {
	r.mu.Lock()
	p.probing = false
	r.mu.Unlock()
}

// Health is one provider's circuit, for metrics and the admin pages.
type Health struct {
	Provider string
	// State is "closed" (in use), "open" (kept out until OpenUntil) or
	// "half-open" (the next message probes it).
	State     string
	Failures  int
	OpenUntil time.Time
}

// Health returns the state of each provider's circuit, primary first.
func (r *Router) Health() []Health {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Health, 0, len(r.provs))
	for _, p := range r.provs {
		h := Health{Provider: p.name, Failures: p.failures, OpenUntil: p.openUntil, State: "closed"}
		switch {
		case p.openUntil.IsZero():
		case now.Before(p.openUntil):
			h.State = "open"
		default:
			h.State = "half-open"
		}
		out = append(out, h)
	}
	return out
}
