// Package webhook delivers signed status callbacks to the services that
// registered a callback URL (congthu service callback set NAME --url URL
// --secret SECRET).
//
// Every status change after "created" is POSTed as JSON (Payload) with
//
//	Content-Type: application/json
//	X-Congthu-Timestamp: <Unix seconds>
//	X-Congthu-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// The receiver recomputes the HMAC over the timestamp, a dot and the raw
// body, compares in constant time, and rejects timestamps too far from its
// clock (Verify does all three). Any 2xx answer acknowledges; anything else,
// a timeout or a connection failure is retried with exponential backoff
// (Backoff: 10 s doubling up to 1 h) for MaxAge (24 h) after the status
// change, through the queue: queue Queue, job ID "callback:<event cursor>"
// (JobID), handled by Handler; the store's pending callbacks are the
// sweeper's source (notify.Tracker.Source). Deliveries are at least once:
// receivers deduplicate on cursor.
//
// A callback goes only to public addresses, or to networks the operator
// allows, and never follows a redirect (see CheckURL and NewClient).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"congthu/notify/notifydb"
	"congthu/queue"
)

// Queue is the queue of callback jobs.
const Queue = "callback"

// MaxAge is how long a callback is retried after its status change.
const MaxAge = 24 * time.Hour

// Header names.
const (
	HeaderTimestamp = "X-Congthu-Timestamp"
	HeaderSignature = "X-Congthu-Signature"
)

// JobID is the job ID of the callback of status event eventID.
func JobID(eventID int64) string { return "callback:" + strconv.FormatInt(eventID, 10) }

// Payload is the JSON body of a callback, and an item of GET /v1/events.
type Payload struct {
	ID        string    `json:"id"` // notification ID
	Reference string    `json:"reference"`
	Dossier   string    `json:"dossier"`
	Channel   string    `json:"channel"`
	Status    string    `json:"status"`
	Final     bool      `json:"final"`
	StatusAt  time.Time `json:"status_at"`
	Detail    string    `json:"detail,omitempty"`
	Cursor    int64     `json:"cursor"`
	Test      bool      `json:"test"`
	URI       string    `json:"uri"` // the notification in the API
}

// PayloadOf builds the payload of a status event.
func PayloadOf(ev notifydb.NotificationEvent) Payload {
	return Payload{ID: ev.NotificationID, Reference: ev.Reference, Dossier: ev.DossierCode, Channel: ev.Channel,
		Status: ev.Status, Final: notifydb.NotificationStatusFinal(ev.Status), StatusAt: ev.At.UTC(),
		Detail: ev.Detail, Cursor: ev.ID, Test: ev.Test, URI: "/v1/notifications/" + ev.NotificationID}
}

// Sign returns the X-Congthu-Signature value for body sent at ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify.
var ErrBadSignature = errors.New("webhook: bad signature")

// Verify checks a received callback: the signature over timestamp and
// body, and that the timestamp is within tolerance of now (replay guard).
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside tolerance", ErrBadSignature)
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// Backoff is the delay before retry number attempt (1 after the first
// failure): 10 s doubling up to one hour, with up to 10% jitter. Over 24 h
// that is about 30 attempts.
func Backoff(attempt int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d + rand.N(d/10+1)
}

// Options configure a Handler.
type Options struct {
	// Client makes the requests; default NewClient(10 s, Allow): public
	// addresses and Allow only, no redirects. A Client given here is
	// used as it is.
	Client *http.Client
	// Allow lists the networks callbacks may reach besides public
	// addresses (CONGTHU_API_CALLBACK_ALLOW), for the default Client.
	Allow []netip.Prefix
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Backoff; default Backoff.
	Backoff func(attempt int) time.Duration
	// MaxAge; default MaxAge.
	MaxAge time.Duration
}

// Handler is the queue.Handler of Queue.
type Handler struct {
	st   *notifydb.Store
	log  *slog.Logger
	opts Options
}

// NewHandler returns the callback handler.
func NewHandler(st *notifydb.Store, log *slog.Logger, opts Options) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Client == nil {
		opts.Client = NewClient(10*time.Second, opts.Allow)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Backoff == nil {
		opts.Backoff = Backoff
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = MaxAge
	}
	return &Handler{st: st, log: log, opts: opts}
}

// Handle delivers one callback. Idempotent: a callback already delivered
// or given up is not sent again.
func (h *Handler) Handle(ctx context.Context, j *queue.Job) error {
	s, ok := strings.CutPrefix(j.ID, "callback:")
	id, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil {
		return queue.Permanent(fmt.Errorf("webhook: bad job ID %q", j.ID))
	}
	cb, err := h.st.Callback(ctx, id)
	if errors.Is(err, notifydb.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if cb.State != notifydb.CallbackPending {
		return nil
	}
	ev, err := h.st.NotificationEvent(ctx, id)
	if err != nil {
		return err
	}
	svc, err := h.st.APIService(ctx, ev.Service)
	if err != nil {
		return err
	}
	now := h.opts.Now()
	if svc.CallbackURL == "" {
		return h.st.UpdateCallback(ctx, id, notifydb.CallbackDone, now, "no callback URL registered")
	}
	body, err := json.Marshal(PayloadOf(*ev))
	if err != nil {
		return queue.Permanent(err)
	}
	sendErr := h.post(ctx, svc, body, now)
	if sendErr == nil {
		return h.st.UpdateCallback(ctx, id, notifydb.CallbackDone, now, "")
	}
	log := h.log.With("event", id, "service", svc.Name, "attempt", cb.Attempts+1)
	if now.Sub(ev.CreatedAt) >= h.opts.MaxAge {
		log.Warn("webhook: giving up on callback", "err", sendErr)
		if err := h.st.UpdateCallback(ctx, id, notifydb.CallbackFailed, now, sendErr.Error()); err != nil {
			return err
		}
		return queue.Permanent(sendErr)
	}
	next := now.Add(h.opts.Backoff(cb.Attempts + 1))
	log.Info("webhook: callback failed; will retry", "err", sendErr, "next", next)
	if err := h.st.UpdateCallback(ctx, id, notifydb.CallbackPending, next, sendErr.Error()); err != nil {
		return err
	}
	return queue.RetryAt(next, sendErr)
}

func (h *Handler) post(ctx context.Context, svc *notifydb.APIService, body []byte, now time.Time) error {
	_, err := Send(ctx, h.opts.Client, svc.CallbackURL, svc.CallbackSecret, body, now)
	return err
}

// Send POSTs body to url signed with secret at now, as every callback is
// sent, with client (NewClient's: public addresses and the allowed
// networks only). It returns the receiver's HTTP status (0 when there
// was no answer) and an error unless the status is 2xx. The receiver's
// body is read up to 64 KiB and dropped.
func Send(ctx context.Context, client *http.Client, url, secret string, body []byte, now time.Time) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("callback URL: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "congthu-webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("callback: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("callback: HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// TestStatus is the status of a test event.
const TestStatus = "test"

// TestPayload is the body of a test event (the console's "Gửi sự kiện
// thử"): status "test", test true, cursor 0 and no notification ID, so
// that a receiver can tell it from every real event.
func TestPayload(now time.Time) Payload {
	return Payload{Status: TestStatus, StatusAt: now.UTC(), Test: true, Detail: "test event sent from the operator console"}
}

// SendTest sends a test event (TestPayload) to svc's callback URL,
// signed with its secret, the way Handler sends a real one. It records
// nothing. See Send for the status and the error.
func SendTest(ctx context.Context, client *http.Client, svc *notifydb.APIService, now time.Time) (int, error) {
	if svc.CallbackURL == "" {
		return 0, errors.New("callback: no callback URL registered")
	}
	body, err := json.Marshal(TestPayload(now))
	if err != nil {
		return 0, err
	}
	return Send(ctx, client, svc.CallbackURL, svc.CallbackSecret, body, now)
}
