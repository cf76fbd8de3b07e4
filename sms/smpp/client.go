package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"congthu/phone"
	"congthu/sms"
)

// BindMode chooses how the Client binds (§2.2, §4.1).
type BindMode int

// Bind modes.
const (
	// Transceiver binds once with bind_transceiver: submits and receipts
	// share one connection.
	Transceiver BindMode = iota
	// TransmitterReceiver binds twice: bind_transmitter for submits and
	// bind_receiver for receipts, for SMSCs without transceiver support.
	TransmitterReceiver
)

// Options configure a Client. Zero values take the defaults named.
type Options struct {
	// Addr is the SMSC's host:port.
	Addr string
	// SystemID, Password and SystemType identify the ESME (§4.1.1): at
	// most 15, 8 and 12 octets.
	SystemID, Password, SystemType string
	// Mode is Transceiver (default) or TransmitterReceiver.
	Mode BindMode
	// Source is the sender: a registered brandname such as "UBND-HN"
	// (sent alphanumeric, TON 5 NPI 0, at most 11 characters) or a number
	// of digits with an optional "+" (TON 1 NPI 1).
	Source string
	// Window is the most submit_sm outstanding on the bind; default 10.
	Window int
	// Rate caps submit_sm per second on the bind, shared by every
	// goroutine using the Client; 0 means no cap.
	Rate float64
	// EnquireLinkInterval is how often we send enquire_link (§4.11);
	// default 30s. A bind whose enquire_link goes unanswered for
	// ResponseTimeout is dropped and made again.
	EnquireLinkInterval time.Duration
	// ResponseTimeout bounds the wait for any response; default 10s.
	ResponseTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the exponential back-off between
	// bind attempts; defaults 500ms and 30s.
	ReconnectMin, ReconnectMax time.Duration
	// ThrottlePause is how long every submit on the bind waits after an
	// ESME_RTHROTTLED answer; default 1s. ThrottleFor is how long the rate
	// stays halved afterwards; default 30s.
	ThrottlePause, ThrottleFor time.Duration
	// MaxAttempts is how often one part is sent when the SMSC answers a
	// temporary status (throttled, queue full, system error); default 5.
	MaxAttempts int
	// RetryBackoff is the first wait before resending after a temporary
	// status other than throttling, doubled each attempt; default 200ms.
	RetryBackoff time.Duration
	// MaxParts and Ref16 are passed to sms.Encode for Message.Text.
	MaxParts int
	Ref16    bool
	// OnReceipt is called for every delivery receipt, from its own
	// goroutine. Returning an error makes us answer ESME_RX_T_APPN so the
	// SMSC delivers the receipt again later; so store it before returning
	// nil. Nil means receipts are acknowledged and dropped.
	OnReceipt func(ctx context.Context, r Receipt) error
	// Location reads receipt dates; nil means UTC+7.
	Location *time.Location
	// Logger gets connection events; nil discards them.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Window <= 0 {
		o.Window = 10
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	def(&o.EnquireLinkInterval, 30*time.Second)
	def(&o.ResponseTimeout, 10*time.Second)
	def(&o.ReconnectMin, 500*time.Millisecond)
	def(&o.ReconnectMax, 30*time.Second)
	def(&o.ThrottlePause, time.Second)
	def(&o.ThrottleFor, 30*time.Second)
	def(&o.RetryBackoff, 200*time.Millisecond)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Errors of Submit besides *StatusError.
var (
	// ErrUnknownOutcome: a submit_sm was written but its response never
	// came (connection lost, timeout, ctx ended). The SMSC may have
	// accepted it. Sending again is safe only if a duplicate is acceptable.
	ErrUnknownOutcome = errors.New("smpp: submit outcome unknown")
	// ErrClosed: the Client is closed.
	ErrClosed = errors.New("smpp: client closed")
	// ErrBadAddress: Message.To is not an E.164 number.
	ErrBadAddress = errors.New("smpp: destination is not an E.164 number")
)

// Message is one SMS to send.
type Message struct {
	// To is the destination in E.164 ("+84912345678"), as phone.Parse
	// returns it.
	To string
	// Text is encoded with sms.Encode (Fold, Options.MaxParts and
	// Options.Ref16 apply) unless Encoded is set.
	Text string
	Fold bool
	// Encoded, when not nil, is sent as is.
	Encoded *sms.Encoded
}

// SubmitResult tells what the SMSC accepted.
type SubmitResult struct {
	// MessageIDs holds the SMSC's message_id of each part accepted, in part
	// order; on error, the parts accepted before it. An SMSC may answer
	// with an empty message_id.
	MessageIDs []string
	// Encoding and Parts describe what was sent.
	Encoding sms.Encoding
	Parts    int
}

// Client is a bound SMPP session (or two, in TransmitterReceiver mode) that
// reconnects by itself. It is safe for concurrent use.
type Client struct {
	opts     Options
	log      *slog.Logger
	lim      *limiter
	tx, rx   *link
	srcTON   byte
	srcNPI   byte
	src      string
	ref      atomic.Uint32
	bg       context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	closing  atomic.Bool
	closeErr error
	once     sync.Once
}

// Dial binds to the SMSC and returns a Client that keeps the bind up until
// Close. The first bind is made before Dial returns, so wrong credentials
// or an unreachable SMSC are reported at once.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	opts.setDefaults()
	ton, npi, src, err := sourceAddr(opts.Source)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts, log: opts.Logger, lim: newLimiter(opts.Rate), srcTON: ton, srcNPI: npi, src: src}
	c.ref.Store(rand.Uint32())
	c.bg, c.stop = context.WithCancel(context.Background())
	if opts.Mode == TransmitterReceiver {
		c.tx = newLink(c, BindTransmitter)
		c.rx = newLink(c, BindReceiver)
	} else {
		c.tx = newLink(c, BindTransceiver)
	}
	for _, l := range c.links() {
		s, err := l.bind(ctx)
		if err != nil {
			c.stop()
			for _, l := range c.links() {
				if cur := l.current(); cur != nil {
					cur.close(ErrClosed)
				}
			}
			return nil, err
		}
		l.set(s)
	}
	for _, l := range c.links() {
		c.wg.Add(1)
		go l.run()
	}
	return c, nil
}

func (c *Client) links() []*link {
	if c.rx != nil {
		return []*link{c.tx, c.rx}
	}
	return []*link{c.tx}
}

// Close stops reconnecting, waits (until ctx ends) for outstanding submits
// to be answered, unbinds (§4.2) and closes the connections.
func (c *Client) Close(ctx context.Context) error {
	c.once.Do(func() {
		c.closing.Store(true)
		c.stop()
		for _, l := range c.links() {
			l.shut()
			if s := l.current(); s != nil {
				if err := s.unbind(ctx); err != nil && c.closeErr == nil {
					c.closeErr = err
				}
			}
		}
		c.wg.Wait()
	})
	return c.closeErr
}

// Bound reports whether the bind is up now: every link (one transceiver,
// or transmitter and receiver) has a live session. While a lost session
// is being re-bound, and after Close, it is false.
func (c *Client) Bound() bool {
	if c.closing.Load() {
		return false
	}
	for _, l := range c.links() {
		if s := l.current(); s == nil || s.isDone() {
			return false
		}
	}
	return true
}

// Rate returns the submit rate in force on the bind (lower than
// Options.Rate for a while after ESME_RTHROTTLED); 0 means no cap.
func (c *Client) Rate() float64 { return c.lim.current() }

// Submit sends m and returns once the SMSC answered every part. See the
// package documentation for the at-least-once semantics and the errors.
func (c *Client) Submit(ctx context.Context, m Message) (SubmitResult, error) {
	if c.closing.Load() {
		return SubmitResult{}, ErrClosed
	}
	dest, err := destAddr(m.To)
	if err != nil {
		return SubmitResult{}, err
	}
	var enc sms.Encoded
	if m.Encoded != nil {
		enc = *m.Encoded
	} else if enc, err = sms.Encode(m.Text, sms.Options{Fold: m.Fold, MaxParts: c.opts.MaxParts, Ref16: c.opts.Ref16}); err != nil {
		return SubmitResult{}, fmt.Errorf("smpp: encode: %w", err)
	}
	res := SubmitResult{Encoding: enc.Encoding, Parts: len(enc.Parts)}
	if len(enc.Parts) == 0 || len(enc.Parts) > 255 {
		return res, fmt.Errorf("smpp: %d parts", len(enc.Parts))
	}
	ref := uint16(c.ref.Add(1))
	for i, part := range enc.Parts {
		sm := &ShortMessage{
			SourceTON: c.srcTON, SourceNPI: c.srcNPI, Source: c.src,
			DestTON: 1, DestNPI: 1, Dest: dest,
			RegisteredDelivery: 1,
			DataCoding:         dataCoding(enc.Encoding),
			Message:            part,
		}
		if len(enc.Parts) > 1 {
			sm.ESMClass = ESMClassUDHI
			sm.Message = append(sms.ConcatUDH(ref, len(enc.Parts), i+1, enc.Ref16), part...)
		}
		id, err := c.submitPart(ctx, sm)
		if err != nil {
			c.log.WarnContext(ctx, "smpp submit failed", "to", phone.Mask(m.To), "part", i+1, "parts", len(enc.Parts), "err", err)
			return res, fmt.Errorf("smpp: submit part %d of %d: %w", i+1, len(enc.Parts), err)
		}
		res.MessageIDs = append(res.MessageIDs, id)
	}
	c.log.DebugContext(ctx, "smpp submitted", "to", phone.Mask(m.To), "parts", len(enc.Parts), "ids", res.MessageIDs)
	return res, nil
}

// dataCoding maps the alphabet to data_coding (§5.2.19).
func dataCoding(e sms.Encoding) byte {
	if e == sms.UCS2 {
		return 0x08
	}
	return 0x00
}

// submitPart sends one submit_sm, retrying temporary statuses and submits
// that never reached the wire.
func (c *Client) submitPart(ctx context.Context, sm *ShortMessage) (string, error) {
	backoff := c.opts.RetryBackoff
	for attempt := 1; ; {
		if err := c.lim.wait(ctx); err != nil {
			return "", err
		}
		s, err := c.tx.session(ctx)
		if err != nil {
			return "", err
		}
		resp, err := s.request(ctx, &PDU{ID: SubmitSM, Body: sm}, true)
		if errors.Is(err, errNotSent) {
			continue // nothing reached the SMSC; wait for the next bind
		}
		if err != nil {
			return "", err
		}
		if resp.Status == StatusOK {
			if r, ok := resp.Body.(*SMResp); ok {
				return r.MessageID, nil
			}
			return "", nil // generic_nack with status 0: treat as accepted without id
		}
		serr := &StatusError{Command: resp.ID, Status: resp.Status}
		if !serr.Temporary() || attempt >= c.opts.MaxAttempts {
			return "", serr
		}
		attempt++
		if resp.Status == StatusThrottled {
			c.lim.throttle(c.opts.ThrottlePause, c.opts.ThrottleFor)
			c.log.InfoContext(ctx, "smpp throttled by SMSC, slowing down", "rate", c.lim.current())
			continue
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		}
		backoff *= 2
	}
}

// sourceAddr picks TON/NPI for the sender (§5.2.5, §5.2.6): digits are an
// international number, anything else an alphanumeric brandname.
func sourceAddr(s string) (ton, npi byte, addr string, err error) {
	digits := strings.TrimPrefix(s, "+")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		if len(digits) > 20 {
			return 0, 0, "", fmt.Errorf("smpp: source number %q longer than 20 digits", s)
		}
		return 1, 1, digits, nil
	}
	if s == "" || len(s) > 11 {
		return 0, 0, "", fmt.Errorf("smpp: source %q: want a brandname of 1 to 11 characters or a number", s)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7E {
			return 0, 0, "", fmt.Errorf("smpp: source %q: brandname must be printable ASCII", s)
		}
	}
	return 5, 0, s, nil
}

// destAddr turns E.164 "+84912345678" into "84912345678" (TON 1, NPI 1).
func destAddr(to string) (string, error) {
	d, ok := strings.CutPrefix(to, "+")
	if !ok || len(d) < 8 || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
		return "", ErrBadAddress
	}
	return d, nil
}

// link keeps one bind (transceiver, transmitter or receiver) up.
type link struct {
	c      *Client
	cmd    CommandID
	mu     sync.Mutex
	cur    *session
	ready  chan struct{} // closed while cur is usable
	shutCh chan struct{}
	shutOn bool
}

func newLink(c *Client, cmd CommandID) *link {
	return &link{c: c, cmd: cmd, ready: make(chan struct{}), shutCh: make(chan struct{})}
}

func (l *link) set(s *session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur = s
	close(l.ready)
}

func (l *link) current() *session {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// clear forgets s after it ended.
func (l *link) clear(s *session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == s {
		l.cur = nil
		l.ready = make(chan struct{})
	}
}

func (l *link) shut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.shutOn {
		l.shutOn = true
		close(l.shutCh)
	}
}

// session waits for a bound session.
func (l *link) session(ctx context.Context) (*session, error) {
	for {
		l.mu.Lock()
		cur, ready, shut := l.cur, l.ready, l.shutOn
		l.mu.Unlock()
		if shut {
			return nil, ErrClosed
		}
		if cur != nil && !cur.isDone() {
			return cur, nil
		}
		select {
		case <-ready:
		case <-l.shutCh:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// run re-binds whenever the session ends, with exponential back-off, until
// the Client closes.
func (l *link) run() {
	defer l.c.wg.Done()
	log := l.c.log.With("bind", l.cmd.String())
	backoff := l.c.opts.ReconnectMin
	for {
		s := l.current()
		if s != nil {
			bound := time.Now()
			select {
			case <-s.done:
			case <-l.c.bg.Done():
				return
			}
			l.clear(s)
			log.Warn("smpp bind lost", "err", s.cause())
			if time.Since(bound) > l.c.opts.ReconnectMax {
				backoff = l.c.opts.ReconnectMin
			}
		}
		// Jitter of ±20% so several nodes do not reconnect in step.
		d := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-l.c.bg.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, l.c.opts.ReconnectMax)
		ctx, cancel := context.WithTimeout(l.c.bg, l.c.opts.ResponseTimeout)
		ns, err := l.bind(ctx)
		cancel()
		if err != nil {
			log.Warn("smpp bind failed", "err", err, "retry_in", backoff)
			continue
		}
		if l.c.closing.Load() {
			ns.close(ErrClosed)
			return
		}
		log.Info("smpp bound again")
		l.set(ns)
	}
}
