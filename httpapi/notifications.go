package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/queue"
	"congthu/store"
	"congthu/webhook"
)

// templateRef names a template and version in responses.
type templateRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// eventView is one entry of a notification's timeline.
type eventView struct {
	Cursor int64     `json:"cursor"`
	Status string    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	At     time.Time `json:"at"`
}

// notificationView is a notification in responses.
type notificationView struct {
	ID           string      `json:"id"`
	Reference    string      `json:"reference"`
	DossierCode  string      `json:"dossier_code,omitempty"`
	EventID      string      `json:"event_id,omitempty"`
	Channel      string      `json:"channel"`
	Status       string      `json:"status"`
	StatusDetail string      `json:"status_detail,omitempty"`
	Test         bool        `json:"test"`
	Template     templateRef `json:"template"`
	EmailAddress string      `json:"email_address,omitempty"`
	PhoneNumber  string      `json:"phone_number,omitempty"`
	Subject      string      `json:"subject,omitempty"`
	Body         string      `json:"body"`
	HTML         string      `json:"html,omitempty"`
	SMSText      string      `json:"sms_text,omitempty"`
	SMSEncoding  string      `json:"sms_encoding,omitempty"`
	SMSParts     int         `json:"sms_parts,omitempty"`
	// Zalo: the ZNS template and the parameters sent.
	ZNSTemplateID string            `json:"zns_template_id,omitempty"`
	ZNSData       map[string]string `json:"zns_data,omitempty"`
	// CostVND is what sending it cost, recorded when it was sent.
	CostVND int64 `json:"cost_vnd"`
	// ScheduledFor is when a scheduled notification (a reminder) is due.
	ScheduledFor *time.Time  `json:"scheduled_for,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	SentAt       *time.Time  `json:"sent_at,omitempty"`
	CompletedAt  *time.Time  `json:"completed_at,omitempty"`
	URI          string      `json:"uri"`
	Attempts     *attempts   `json:"attempts,omitempty"`
	Events       []eventView `json:"events,omitempty"`
}

// attempts is the delivery state of a live email's outbox entry.
type attempts struct {
	Count       int        `json:"count"`
	LastError   string     `json:"last_error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) viewOf(n *notifydb.Notification, full bool) notificationView {
	v := notificationView{ID: n.ID, Reference: n.Reference, DossierCode: n.DossierCode, EventID: n.EventID, Channel: n.Channel,
		Status: n.Status, StatusDetail: n.StatusDetail, Test: n.Test, Template: templateRef{n.TemplateID, n.TemplateVersion},
		Subject: n.Subject, Body: n.Text, SMSText: n.SMSText, SMSEncoding: n.SMSEncoding, SMSParts: n.SMSParts,
		CreatedAt: n.CreatedAt.UTC(), SentAt: optTime(n.SentAt), CompletedAt: optTime(n.CompletedAt), URI: "/v1/notifications/" + n.ID}
	if n.ZNSTemplateID != "" {
		v.ZNSTemplateID = n.ZNSTemplateID
		_ = json.Unmarshal([]byte(n.ZNSData), &v.ZNSData) // written by us: an object of strings
	}
	v.CostVND, v.ScheduledFor = n.PriceVND, optTime(n.ScheduledFor)
	if c, _ := s.channels.Contact(n.Channel); c == dossier.ContactEmail {
		v.EmailAddress = n.Recipient
	} else {
		v.PhoneNumber = n.Recipient
	}
	if full {
		v.HTML = n.HTML
	}
	return v
}

// readBody reads the request body up to the limit: 413 above it.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErrors(w, http.StatusRequestEntityTooLarge, fieldError{Message: fmt.Sprintf("request body over %d bytes", s.opts.MaxBodyBytes)})
		} else {
			writeErrors(w, http.StatusBadRequest, fieldError{Message: "could not read the request body"})
		}
		return nil, false
	}
	return body, true
}

// requestHash identifies a request for idempotency: the endpoint and the
// canonical JSON of the parsed body (so whitespace and key order do not
// matter, but every value does).
func requestHash(endpoint string, v any) string {
	b, _ := json.Marshal(v)
	h := sha256.New()
	h.Write([]byte(endpoint))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// replay answers a request whose idempotency key was used before: the
// stored response (with status 200 and Idempotent-Replayed: true) for the
// same request, 409 for a different one.
func replay(w http.ResponseWriter, field, hash, storedHash string, body []byte) {
	if hash != storedHash {
		writeErrors(w, http.StatusConflict, fieldError{Field: field, Message: "already used for a different request"})
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	writeRaw(w, http.StatusOK, body)
}

// creation is what the create endpoints share: idempotency, rate limit,
// rendering (build), the group commit, the enqueues and the response.
type creation struct {
	c       *caller
	idemKey string // "" for none
	idemFld string // the field that carries the key, for 409
	hash    string
	cost    int
	// cancel, when set, cancels the dossier's scheduled reminders in
	// the same commit, with reason as their detail.
	cancel, reason string
	build          func() ([]notifydb.NewNotification, []fieldError, error)
	response       func(notes []notifydb.NewNotification) any
}

// create serves a creation request. The idempotency key is not looked up
// first: the commit inserts it or finds it taken (and then replays the
// first response or answers 409), so a new request, by far the common
// case, costs no extra read. A replay is rendered again before the commit
// finds it, and the rate-limit tokens it took are given back. Where a
// request stops before the commit (rate limited, the rate limiter
// unreachable, a rendering problem), the key is looked up then, so a
// reused key still gets its replay or its 409.
func (s *Server) create(w http.ResponseWriter, r *http.Request, cr creation) {
	ctx := r.Context()
	ok, wait, err := s.limiter.take(ctx, cr.c.keyID, cr.cost)
	if err != nil {
		// Redis is unreachable: a client retrying a request that
		// was answered still gets its answer.
		if !s.replayStored(ctx, w, cr) {
			s.unavailable(w, "rate limit", err)
		}
		return
	}
	if !ok {
		if s.replayStored(ctx, w, cr) {
			return
		}
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		writeErrors(w, http.StatusTooManyRequests, fieldError{Message: fmt.Sprintf("rate limit of %d messages per minute exceeded; retry after %d s", s.limiter.perMinute, max(secs, 1))})
		return
	}
	notes, ferrs, err := cr.build()
	if err != nil {
		if s.replayStored(ctx, w, cr) {
			s.refund(ctx, cr)
		} else {
			s.internal(w, "render", err)
		}
		return
	}
	if len(ferrs) > 0 {
		if s.replayStored(ctx, w, cr) {
			s.refund(ctx, cr)
			return
		}
		writeErrors(w, http.StatusUnprocessableEntity, ferrs...)
		return
	}
	body, err := json.Marshal(cr.response(notes))
	if err != nil {
		s.internal(w, "encode response", err)
		return
	}
	res, durable, err := s.nst.CreateNotificationCommitted(ctx, &notifydb.NotificationRequest{Service: cr.c.service, Test: cr.c.test, IdempotencyKey: cr.idemKey,
		RequestHash: cr.hash, Status: http.StatusCreated, Response: body, Notifications: notes, CancelScheduled: cr.cancel, CancelReason: cr.reason})
	if err != nil {
		s.unavailable(w, "store notifications", err)
		return
	}
	// The jobs name committed rows, so they are queued while the WAL sync
	// runs; the answer waits for both.
	if !res.Replayed && res.Err == nil {
		s.enqueue(ctx, notes)
		s.tracker.EnqueueCallbacks(ctx, res.Events) // the reminders it cancelled
	}
	if err := durable(); err != nil {
		s.unavailable(w, "store notifications", err)
		return
	}
	if res.Replayed {
		s.refund(ctx, cr)
		replay(w, cr.idemFld, cr.hash, res.RequestHash, res.Response)
		return
	}
	if res.Err != nil {
		s.internal(w, "store notifications", res.Err)
		return
	}
	writeRaw(w, http.StatusCreated, body)
}

// replayStored answers a request whose idempotency key is already stored
// (its first response, or 409) and reports whether it did; a failed lookup
// is answered 503.
func (s *Server) replayStored(ctx context.Context, w http.ResponseWriter, cr creation) bool {
	if cr.idemKey == "" {
		return false
	}
	h, _, body, err := s.nst.Idempotency(ctx, cr.c.service, cr.c.test, cr.idemKey)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		s.unavailable(w, "idempotency lookup", err)
		return true
	}
	replay(w, cr.idemFld, cr.hash, h, body)
	return true
}

// refund gives a replay's rate-limit tokens back; a failure is logged.
func (s *Server) refund(ctx context.Context, cr creation) {
	if err := s.limiter.refund(ctx, cr.c.keyID, cr.cost); err != nil {
		s.log.Warn("httpapi: rate limit refund failed", "err", err)
	}
}

// enqueue queues the work of committed notifications, in a Redis pipeline
// shared with concurrent requests (their jobs and rate limits). Email goes
// through the outbox: the outbox's Added callback enqueues its jobs. A failure
// is only logged: the store holds the work and the sweeper restores the job.
func (s *Server) enqueue(ctx context.Context, notes []notifydb.NewNotification) {
	jobs := make([]queue.Job, 0, len(notes))
	for _, n := range notes {
		if !n.ScheduledFor.IsZero() {
			continue // queued when its time comes (Tracker.RunReminders)
		}
		if j, ok := notify.JobOf(n.ID, n.Channel, n.Test); ok {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return
	}
	var check func(context.Context) error
	err := s.redis.Do(ctx, func(p redis.Pipeliner) {
		var err error
		if check, err = s.q.QueueMany(ctx, p, jobs); err != nil {
			check = func(context.Context) error { return err }
		}
	})
	if err == nil {
		err = check(ctx)
	}
	if err != nil {
		s.log.Warn("httpapi: enqueue failed; the sweeper will restore the jobs", "jobs", len(jobs), "err", err)
	}
}

// createdView is the 201 response of the create endpoints.
type createdView struct {
	DossierCode   string             `json:"dossier_code,omitempty"`
	EventID       string             `json:"event_id,omitempty"`
	Status        string             `json:"status,omitempty"`
	Notifications []notificationView `json:"notifications"`
}

func (s *Server) views(notes []notifydb.NewNotification) []notificationView {
	out := make([]notificationView, len(notes))
	for i := range notes {
		n := notes[i].Notification
		n.Status = notifydb.NotificationCreated
		if !n.ScheduledFor.IsZero() {
			n.Status = notifydb.NotificationScheduled
		}
		out[i] = s.viewOf(&n, false)
	}
	return out
}

func (s *Server) postDossierEvent(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	code := r.PathValue("code")
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	ev, ferrs, err := dossier.ParseEvent(code, body, s.channels)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, fieldError{Message: err.Error()})
		return
	}
	if len(ferrs) > 0 {
		writeErrors(w, http.StatusUnprocessableEntity, ferrs...)
		return
	}
	cancel := ""
	reason := notify.ReminderCancel(ev)
	if reason != "" {
		cancel = code
	}
	s.create(w, r, creation{
		c: c, idemKey: "event:" + ev.EventID, idemFld: "event_id", hash: requestHash("event "+code, ev), cost: len(ev.Channels),
		cancel: cancel, reason: reason,
		build: func() ([]notifydb.NewNotification, []fieldError, error) {
			return s.build.BuildEvent(c.service, c.test, code, ev)
		},
		response: func(notes []notifydb.NewNotification) any {
			return createdView{DossierCode: code, EventID: ev.EventID, Status: ev.Status, Notifications: s.views(notes)}
		},
	})
}

// templateRequest is the body of POST /v1/notifications/email and /sms.
type templateRequest struct {
	TemplateID      string         `json:"template_id"`
	EmailAddress    string         `json:"email_address,omitempty"`
	PhoneNumber     string         `json:"phone_number,omitempty"`
	Personalisation map[string]any `json:"personalisation,omitempty"`
	Reference       string         `json:"reference,omitempty"`
	ReplyTo         string         `json:"reply_to,omitempty"`
	// Urgent SMS bypass quiet hours.
	Urgent bool `json:"urgent,omitempty"`
}

// postTemplate serves POST /v1/notifications/{channel}.
func (s *Server) postTemplate(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	channel := r.PathValue("channel")
	k, ok := s.channels.Kind(channel)
	if !ok {
		writeErrors(w, http.StatusNotFound, fieldError{Field: "channel", Message: "no such channel"})
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	req, m, errs, err := s.parseTemplateRequest(c, k, body, key)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, fieldError{Message: err.Error()})
		return
	}
	if len(errs) > 0 {
		writeErrors(w, http.StatusUnprocessableEntity, errs...)
		return
	}
	idem := ""
	if key != "" {
		idem = "header:" + key
	}
	s.create(w, r, creation{
		c: c, idemKey: idem, idemFld: "Idempotency-Key", hash: requestHash(channel, req), cost: 1,
		build: func() ([]notifydb.NewNotification, []fieldError, error) {
			n, fe, err := s.build.Build(m)
			if err != nil || len(fe) > 0 {
				return nil, fe, err
			}
			return []notifydb.NewNotification{n}, nil, nil
		},
		response: func(notes []notifydb.NewNotification) any { return s.views(notes)[0] },
	})
}

// parseTemplateRequest decodes and validates the body of POST
// /v1/notifications/{channel} (with its Idempotency-Key header) into the
// message to build, or the problems found (422), or dossier.ErrMalformed
// (400). The recipient field is the channel's contact: email_address or
// phone_number; reply_to is for email, urgent for the phone channels.
func (s *Server) parseTemplateRequest(c *caller, k notify.Kind, body []byte, key string) (templateRequest, *notify.Message, []fieldError, error) {
	var req templateRequest
	fe, err := dossier.DecodeStrict(body, &req)
	if err != nil {
		return req, nil, nil, err
	}
	if fe != nil {
		return req, nil, []fieldError{*fe}, nil
	}
	channel := k.Name()
	var errs []fieldError
	if len(key) > 255 || !dossier.Printable(key) {
		errs = append(errs, fieldError{Field: "Idempotency-Key", Message: "at most 255 printable characters"})
	}
	t, ok := s.set.Get(req.TemplateID)
	switch {
	case req.TemplateID == "":
		errs = append(errs, fieldError{Field: "template_id", Message: "required"})
	case !ok:
		errs = append(errs, fieldError{Field: "template_id", Message: "no such template"})
	case t.Channel != channel:
		errs = append(errs, fieldError{Field: "template_id", Message: fmt.Sprintf("template is for %s, not %s", t.Channel, channel)})
	}
	if len(req.Reference) > 1000 || !dossier.Printable(req.Reference) || dossier.TextProblem(req.Reference, dossier.OneLine) != "" {
		errs = append(errs, fieldError{Field: "reference", Message: "at most 1000 printable characters"})
	}
	errs = append(errs, dossier.CheckPersonalisation(req.Personalisation)...)
	m := &notify.Message{Service: c.service, Test: c.test, Channel: k, Template: t, Data: req.Personalisation,
		FieldPrefix: "personalisation.", Reference: req.Reference,
		AgencyField: "personalisation.agency", ToNameField: "personalisation.applicant.name"}
	if m.Data == nil {
		m.Data = map[string]any{}
	}
	if v, ok := m.Data["dossier_code"].(string); ok && dossier.ValidCode(v) {
		m.DossierCode = v
	}
	if v, ok := m.Data["agency"].(string); ok {
		m.Agency = v
	}
	given, other := req.EmailAddress, "phone_number"
	m.ToField = "email_address"
	if k.Contact() == dossier.ContactPhone {
		given, other = req.PhoneNumber, "email_address"
		m.ToField = "phone_number"
	}
	if a, err := dossier.ParseContact(k.Contact(), given); err == nil {
		m.To = a
	} else {
		errs = append(errs, fieldError{Field: m.ToField, Message: err.Error()})
	}
	if (other == "phone_number" && req.PhoneNumber != "") || (other == "email_address" && req.EmailAddress != "") {
		errs = append(errs, fieldError{Field: other, Message: "not allowed for " + channel})
	}
	if k.Contact() == dossier.ContactEmail {
		if req.ReplyTo != "" {
			if a, ok := dossier.ParseEmail(req.ReplyTo); ok {
				m.ReplyTo = a
			} else {
				errs = append(errs, fieldError{Field: "reply_to", Message: "not a valid email address"})
			}
		}
		if n, ok := m.Data["applicant"].(map[string]any); ok {
			m.ToName, _ = n["name"].(string)
		}
		if req.Urgent {
			errs = append(errs, fieldError{Field: "urgent", Message: "only for phone channels"})
		}
	} else {
		if req.ReplyTo != "" {
			errs = append(errs, fieldError{Field: "reply_to", Message: "not allowed for " + channel})
		}
		m.Urgent = req.Urgent
	}
	return req, m, errs, nil
}

// getNotification: the notification with its content and timeline.
func (s *Server) getNotification(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such notification"})
		return
	}
	n, err := s.nst.Notification(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such notification"})
		return
	} else if err != nil {
		s.unavailable(w, "read notification", err)
		return
	}
	if n.Service != c.service {
		writeErrors(w, http.StatusForbidden, fieldError{Field: "id", Message: "the notification belongs to another service"})
		return
	}
	if c.test && !n.Test {
		// Test keys live in a world of their own: a live notification
		// (the citizen's address, the rendered body) does not exist
		// for them.
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such notification"})
		return
	}
	evs, err := s.nst.NotificationEvents(r.Context(), id)
	if err != nil {
		s.unavailable(w, "read notification events", err)
		return
	}
	v := s.viewOf(n, true)
	for _, e := range evs {
		v.Events = append(v.Events, eventView{Cursor: e.ID, Status: e.Status, Detail: e.Detail, At: e.At.UTC()})
	}
	if n.OutboxID != 0 {
		if ob, err := s.ob.State(r.Context(), n.OutboxID); err == nil && len(ob.Recipients) > 0 {
			rc := ob.Recipients[0]
			a := &attempts{Count: rc.Attempts, LastError: rc.LastError}
			if rc.Status == outbox.Queued {
				a.NextAttempt = optTime(rc.NextAttempt)
			}
			v.Attempts = a
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// listView is a page of notifications.
type listView struct {
	Notifications []notificationView `json:"notifications"`
	Links         map[string]string  `json:"links"`
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, r.URL.Query().Get("dossier"), "/v1/notifications")
}

func (s *Server) listDossierNotifications(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if !dossier.ValidCode(code) {
		writeErrors(w, http.StatusUnprocessableEntity, fieldError{Field: "code", Message: "dossier code must be 1 to 64 letters, digits, '.' or '-'"})
		return
	}
	s.list(w, r, code, "/v1/dossiers/"+code+"/notifications")
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, dossier, path string) {
	c := callerOf(r.Context())
	q := r.URL.Query()
	f := notifydb.NotificationFilter{Service: c.service, Reference: q.Get("reference"), Status: q.Get("status"),
		DossierCode: dossier, OlderThan: q.Get("older_than"), TestOnly: c.test, LiveOnly: !c.test}
	var errs []fieldError
	if f.Status != "" {
		switch f.Status {
		case notifydb.NotificationCreated, notifydb.NotificationSending, notifydb.NotificationDelivered, notifydb.NotificationPermanentFailure,
			notifydb.NotificationTemporaryFailure, notifydb.NotificationTechnicalFailure, notifydb.NotificationScheduled, notifydb.NotificationCancelled:
		default:
			errs = append(errs, fieldError{Field: "status", Message: "unknown status"})
		}
	}
	if f.OlderThan != "" {
		if _, err := uuid.Parse(f.OlderThan); err != nil {
			errs = append(errs, fieldError{Field: "older_than", Message: "must be a notification id"})
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 250 {
			errs = append(errs, fieldError{Field: "limit", Message: "must be 1 to 250"})
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		writeErrors(w, http.StatusUnprocessableEntity, errs...)
		return
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	ns, err := s.nst.Notifications(r.Context(), f)
	if err != nil {
		s.unavailable(w, "list notifications", err)
		return
	}
	out := listView{Notifications: make([]notificationView, len(ns)), Links: map[string]string{}}
	for i := range ns {
		out.Notifications[i] = s.viewOf(&ns[i], false)
	}
	out.Links["current"] = path + "?" + q.Encode()
	if len(ns) == f.Limit {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("older_than", ns[len(ns)-1].ID)
		out.Links["next"] = path + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

// eventsView is a page of GET /v1/events.
type eventsView struct {
	Events     []webhook.Payload `json:"events"`
	NextCursor int64             `json:"next_cursor"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	q := r.URL.Query()
	var after int64
	limit := 100
	var errs []fieldError
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fieldError{Field: "after", Message: "must be a cursor (a non-negative integer)"})
		}
		after = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, fieldError{Field: "limit", Message: "must be 1 to 1000"})
		}
		limit = n
	}
	if len(errs) > 0 {
		writeErrors(w, http.StatusUnprocessableEntity, errs...)
		return
	}
	evs, err := s.nst.EventsAfterFor(r.Context(), c.service, c.test, after, limit)
	if err != nil {
		s.unavailable(w, "list events", err)
		return
	}
	out := eventsView{Events: []webhook.Payload{}, NextCursor: after}
	for _, e := range evs {
		out.NextCursor = e.ID
		out.Events = append(out.Events, webhook.PayloadOf(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// cancelNotification serves DELETE /v1/notifications/{id}: a scheduled
// notification (a reminder) of the caller's service becomes cancelled and
// is never sent. Any other is 409: what was sent cannot be unsent.
func (s *Server) cancelNotification(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	id := r.PathValue("id")
	n, err := s.nst.Notification(r.Context(), id)
	if errors.Is(err, notifydb.ErrNotFound) || (err == nil && (n.Service != c.service || n.Test != c.test)) {
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such notification"})
		return
	} else if err != nil {
		s.unavailable(w, "notification", err)
		return
	}
	ev, err := s.nst.CancelScheduled(r.Context(), c.service, id, "cancelled through the API")
	switch {
	case errors.Is(err, notifydb.ErrNotScheduled):
		writeErrors(w, http.StatusConflict, fieldError{Field: "id", Message: "only a scheduled notification can be cancelled; this one is " + n.Status})
		return
	case errors.Is(err, notifydb.ErrNotFound):
		writeErrors(w, http.StatusNotFound, fieldError{Field: "id", Message: "no such notification"})
		return
	case err != nil:
		s.unavailable(w, "cancel notification", err)
		return
	}
	if ev != nil {
		s.tracker.EnqueueCallbacks(r.Context(), []notifydb.NotificationEvent{*ev})
	}
	if n, err = s.nst.Notification(r.Context(), id); err != nil {
		s.unavailable(w, "notification", err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewOf(n, false))
}
