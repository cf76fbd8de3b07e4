// Package httpsms sends SMS through the brandname APIs of Vietnamese SMS
// providers that take one JSON object over HTTPS per message, and receives
// their delivery receipts on a webhook.
//
// # Sending
//
// Send encodes the text with package sms only to know its alphabet and part
// count (the API gets the whole text, folded when Message.Fold is set, and
// does the splitting itself) and POSTs a JSON object whose field names come
// from Options.FieldMap:
//
//	{"to": "+84912345678", "from": "UBND-HN", "text": "...", "unicode": false, "reference": "notif-42"}
//
// The answer decides the outcome:
//
//   - 2xx: accepted; the provider's message id is read from the response
//     field FieldMap.ID (a dotted path such as "data.id" reaches into nested
//     objects; numbers are accepted and turned into their decimal text).
//   - 429, 5xx, 408, no answer at all: a temporary *Error (Temporary() is
//     true). When the request was written but no answer was read (timeout,
//     connection reset), UnknownOutcome() is also true: the provider may have
//     accepted it.
//   - any other 4xx: a permanent *Error matching ErrPermanent. 400, 413 and
//     422 are about the message (MessageRejected() is true); 401, 403, 404
//     and the rest are about our account or configuration.
//
// # Receipts
//
// ReceiptHandler serves the provider's delivery-report webhook. Requests must
// carry the shared secret in Options.ReceiptHeader; the body is one JSON
// object or an array of them:
//
//	{"id": "abc123", "status": "DELIVERED", "error_code": "000", "done_at": "2026-03-15T09:30:00+07:00"}
//
// Each is mapped to the same outcomes as SMPP receipts (smpp.Outcome), so
// the dispatcher handles receipts from both providers alike.
package httpsms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"congthu/internal/vntime"
	"congthu/phone"
	"congthu/sms"
)

// FieldMap names the JSON fields of the provider's API. Empty names take
// the defaults in brackets.
type FieldMap struct {
	// Request fields.
	To        string // destination in E.164 ["to"]
	From      string // sender brandname ["from"]
	Text      string // whole message text ["text"]
	Reference string // our reference, omitted when empty ["reference"]
	// Unicode is the boolean field set to true when the text needs UCS-2
	// and false for GSM-7 ["unicode"]. "-" leaves it out.
	Unicode string
	// ID is the response field holding the provider's message id; a dotted
	// path reaches into nested objects ["id"].
	ID string
	// Error is the response field holding the provider's error code or
	// text on failures; a dotted path as for ID ["error"].
	Error string
}

// withDefaults fills empty names.
func (f FieldMap) withDefaults() FieldMap {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&f.To, "to")
	def(&f.From, "from")
	def(&f.Text, "text")
	def(&f.Reference, "reference")
	def(&f.Unicode, "unicode")
	def(&f.ID, "id")
	def(&f.Error, "error")
	return f
}

// DefaultReceiptHeader is the header that carries the webhook secret when
// Options.ReceiptHeader is empty.
const DefaultReceiptHeader = "X-Webhook-Secret"

// Options configure a Provider.
type Options struct {
	// URL is the API endpoint messages are POSTed to (https, or http for
	// tests and local relays).
	URL string
	// AuthHeader is one header line added to every request, "Name: value",
	// e.g. "Authorization: Bearer s3cr3t". Empty sends none.
	AuthHeader string
	// Sender is the registered brandname (or number) sent in FieldMap.From.
	Sender string
	// FieldMap names the JSON fields; zero values take the defaults.
	FieldMap FieldMap
	// Timeout bounds one request, answer included; default 10s.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a client of our own.
	HTTPClient *http.Client
	// MaxParts is passed to sms.Encode: a longer text is refused before
	// anything is sent; 0 means sms.DefaultMaxParts.
	MaxParts int
	// ReceiptSecret is the shared secret the receipts webhook requires in
	// ReceiptHeader. When empty, the webhook refuses every request.
	ReceiptSecret string
	// ReceiptHeader names the header carrying ReceiptSecret;
	// default DefaultReceiptHeader.
	ReceiptHeader string
	// Location reads receipt times given without a zone; nil means UTC+7
	// (Asia/Ho_Chi_Minh, no DST).
	Location *time.Location
	// Logger gets request failures and refused webhooks; nil discards.
	Logger *slog.Logger
}

// Provider sends SMS through one HTTP brandname API. It is safe for
// concurrent use.
type Provider struct {
	opts       Options
	fields     FieldMap
	authName   string
	authValue  string
	client     *http.Client
	log        *slog.Logger
	warnSecret atomic.Bool
}

// New checks opts and returns a Provider.
func New(opts Options) (*Provider, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("httpsms: URL %q is not an http(s) URL", opts.URL)
	}
	p := &Provider{opts: opts, fields: opts.FieldMap.withDefaults(), client: opts.HTTPClient, log: opts.Logger}
	if opts.AuthHeader != "" {
		name, value, ok := strings.Cut(opts.AuthHeader, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return nil, errors.New(`httpsms: AuthHeader must read "Name: value"`)
		}
		p.authName, p.authValue = http.CanonicalHeaderKey(name), strings.TrimSpace(value)
	}
	if opts.Sender == "" {
		return nil, errors.New("httpsms: no Sender (brandname)")
	}
	if p.opts.Timeout <= 0 {
		p.opts.Timeout = 10 * time.Second
	}
	if p.opts.ReceiptHeader == "" {
		p.opts.ReceiptHeader = DefaultReceiptHeader
	}
	if p.opts.Location == nil {
		p.opts.Location = vntime.Zone
	}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Message is one SMS to send.
type Message struct {
	// To is the destination in E.164, as phone.Parse returns it.
	To string
	// Text is the message; Fold removes Vietnamese diacritics first.
	Text string
	Fold bool
	// Reference is our own id for the message (a notification id), sent
	// in FieldMap.Reference when not empty.
	Reference string
}

// Result tells what the provider accepted.
type Result struct {
	// ProviderID is the provider's message id, the key of its receipts.
	// It is empty when the answer had none.
	ProviderID string
	// Encoding and Parts are what the text needs (the provider bills it
	// so).
	Encoding sms.Encoding
	Parts    int
}

// ErrPermanent is matched (errors.Is) by every *Error that is not
// temporary: sending the same message again will fail the same way.
var ErrPermanent = errors.New("httpsms: permanent failure")

// Error is a failed Send: the provider answered with a status other than
// 2xx, or did not answer.
type Error struct {
	// StatusCode is the HTTP status, 0 when no answer was read.
	StatusCode int
	// Code is the provider's error code or text from FieldMap.Error, if any.
	Code string
	// RetryAfter is the provider's Retry-After on 429 and 503, if given.
	RetryAfter time.Duration
	// Err is the transport error when there was no answer.
	Err error

	temporary, unknown bool
}

// Error describes the failure without the message or number.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("httpsms: ")
	if e.StatusCode == 0 {
		b.WriteString("no answer")
		if e.unknown {
			b.WriteString(" (outcome unknown)")
		}
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the transport error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermanent) true for permanent errors.
func (e *Error) Is(target error) bool { return target == ErrPermanent && !e.temporary }

// Temporary reports whether sending again later may work: 408, 429, 5xx
// and no answer.
func (e *Error) Temporary() bool { return e.temporary }

// UnknownOutcome reports whether the request was sent but no answer read,
// so the provider may have accepted the message.
func (e *Error) UnknownOutcome() bool { return e.unknown }

// MessageRejected reports whether the provider refused this message itself
// (400, 413, 422: a bad number, a text it will not carry), as opposed to
// refusing our account or being unwell. Another provider would likely
// refuse it too.
func (e *Error) MessageRejected() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// maxBody bounds the answers we read.
const maxBody = 64 << 10

// Send submits m and returns once the provider answered.
func (p *Provider) Send(ctx context.Context, m Message) (Result, error) {
	text := m.Text
	if m.Fold {
		text = sms.Fold(text)
	}
	enc, err := sms.Encode(text, sms.Options{MaxParts: p.opts.MaxParts})
	if err != nil {
		return Result{}, fmt.Errorf("httpsms: encode: %w", err)
	}
	res := Result{Encoding: enc.Encoding, Parts: len(enc.Parts)}
	if !strings.HasPrefix(m.To, "+") {
		return res, errors.New("httpsms: destination is not an E.164 number")
	}
	body := map[string]any{
		p.fields.To:   m.To,
		p.fields.From: p.opts.Sender,
		p.fields.Text: text,
	}
	if p.fields.Unicode != "-" {
		body[p.fields.Unicode] = enc.Encoding == sms.UCS2
	}
	if m.Reference != "" {
		body[p.fields.Reference] = m.Reference
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return res, fmt.Errorf("httpsms: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.URL, bytes.NewReader(buf))
	if err != nil {
		return res, fmt.Errorf("httpsms: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if p.authName != "" {
		req.Header.Set(p.authName, p.authValue)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		e := &Error{Err: err, temporary: true, unknown: wrote.Load()}
		p.log.WarnContext(ctx, "httpsms send failed", "to", phone.Mask(m.To), "err", e)
		return res, e
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	var answer any
	if len(bytes.TrimSpace(raw)) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&answer) != nil {
			answer = nil
		}
	}
	if resp.StatusCode/100 == 2 {
		if rerr != nil {
			// Accepted, but we lost the id: the receipt will not match.
			p.log.WarnContext(ctx, "httpsms answer unreadable", "to", phone.Mask(m.To), "err", rerr)
		}
		res.ProviderID = lookup(answer, p.fields.ID)
		if res.ProviderID == "" {
			p.log.WarnContext(ctx, "httpsms answer has no message id", "to", phone.Mask(m.To), "field", p.fields.ID)
		}
		return res, nil
	}
	e := &Error{StatusCode: resp.StatusCode, Code: lookup(answer, p.fields.Error)}
	// Everything else, 3xx the client did not follow included, fails
	// the same way when sent again.
	e.temporary = resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(time.Until(t), 0)
		}
	}
	p.log.WarnContext(ctx, "httpsms send refused", "to", phone.Mask(m.To), "status", resp.StatusCode, "code", e.Code, "temporary", e.temporary)
	return res, e
}

// lookup reads a dotted path from a decoded JSON value as text: strings as
// they are, numbers in their JSON spelling; anything else gives "".
func lookup(v any, path string) string {
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[k]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}
