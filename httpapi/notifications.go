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
	"congthu/queue"
	"congthu/sms"
	"congthu/store"
	"congthu/templates"
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

func viewOf(n *notifydb.Notification, full bool) notificationView {
	v := notificationView{ID: n.ID, Reference: n.Reference, DossierCode: n.DossierCode, EventID: n.EventID, Channel: n.Channel,
		Status: n.Status, StatusDetail: n.StatusDetail, Test: n.Test, Template: templateRef{n.TemplateID, n.TemplateVersion},
		Subject: n.Subject, Body: n.Text, SMSText: n.SMSText, SMSEncoding: n.SMSEncoding, SMSParts: n.SMSParts,
		CreatedAt: n.CreatedAt.UTC(), SentAt: optTime(n.SentAt), CompletedAt: optTime(n.CompletedAt), URI: "/v1/notifications/" + n.ID}
	if n.Channel == templates.Email {
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
	c        *caller
	idemKey  string // "" for none
	idemFld  string // the field that carries the key, for 409
	hash     string
	cost     int
	build    func() ([]notifydb.NewNotification, []fieldError, error)
	response func(notes []notifydb.NewNotification) any
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
		RequestHash: cr.hash, Status: http.StatusCreated, Response: body, Notifications: notes})
	if err != nil {
		s.unavailable(w, "store notifications", err)
		return
	}
	// The jobs name committed rows, so they are queued while the WAL sync
	// runs; the answer waits for both.
	if !res.Replayed && res.Err == nil {
		s.enqueue(ctx, notes)
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
// through the outbox: the store's OutboxAdded hook enqueues its jobs. A failure
// is only logged: the store holds the work and the sweeper restores the job.
func (s *Server) enqueue(ctx context.Context, notes []notifydb.NewNotification) {
	jobs := make([]queue.Job, 0, len(notes))
	for _, n := range notes {
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

// renderErrors maps a template error to 422 field errors (prefix is put
// before each field name), or returns it as an internal error.
func renderErrors(err error, prefix string) ([]fieldError, error) {
	var me *templates.MissingError
	var ve *templates.ValueError
	switch {
	case errors.As(err, &me):
		out := make([]fieldError, len(me.Fields))
		for i, f := range me.Fields {
			out[i] = fieldError{Field: prefix + f, Message: "required by the template"}
		}
		return out, nil
	case errors.As(err, &ve):
		return []fieldError{{Field: prefix + ve.Field, Message: ve.Err.Error()}}, nil
	}
	return nil, err
}

// message is one notification to render.
type message struct {
	t            *templates.Template
	data         map[string]any
	fieldPrefix  string
	c            *caller
	recipient    string // email or E.164
	recipientFld string
	toName       string
	toNameFld    string // the field toName comes from, for 422
	agency       string
	agencyFld    string // the field agency comes from, for 422
	replyTo      string
	reference    string
	code         string
	eventID      string
	status       string
	urgent       bool // SMS: bypass quiet hours
}

// render renders m into a notification (composing the email for the
// outbox), or returns 422 problems.
func (s *Server) render(m message) (notifydb.NewNotification, []fieldError, error) {
	var n notifydb.NewNotification
	r, err := m.t.Render(m.data)
	if err != nil {
		fe, err := renderErrors(err, m.fieldPrefix)
		return n, fe, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return n, nil, err
	}
	now := s.opts.Now()
	n.Notification = notifydb.Notification{ID: id.String(), Service: m.c.service, Test: m.c.test, Channel: m.t.Channel,
		TemplateID: r.ID, TemplateVersion: r.Version, Recipient: m.recipient, Reference: m.reference,
		DossierCode: m.code, EventID: m.eventID, DossierStatus: m.status, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		CreatedAt: now}
	if m.t.Channel == templates.SMS {
		enc, parts, err := sms.Count(r.SMSText, false)
		if err != nil {
			if errors.Is(err, sms.ErrTooManyParts) {
				return n, []fieldError{{Field: m.recipientFld, Message: fmt.Sprintf("the SMS would need %d parts (%s); at most %d are sent", parts, enc, sms.DefaultMaxParts)}}, nil
			}
			return n, []fieldError{{Field: m.recipientFld, Message: "the SMS text cannot be encoded: " + err.Error()}}, nil
		}
		n.SMSText, n.SMSEncoding, n.SMSParts, n.Urgent = r.SMSText, enc, parts, m.urgent
		return n, nil, nil
	}
	// The display names become header fields: checked here too, so that
	// a value that slipped past the request's validation is a 422 too.
	for _, f := range []struct{ name, v string }{{m.agencyFld, m.agency}, {m.toNameFld, m.toName}} {
		if p := dossier.TextProblem(f.v, dossier.OneLine); p != "" {
			return n, []fieldError{{Field: f.name, Message: p}}, nil
		}
	}
	from := s.sender(m.c.service)
	name := m.agency
	if name == "" {
		name = s.opts.SenderName
	}
	n.FromAddress, n.FromName, n.ToName, n.ReplyTo = from, name, m.toName, m.replyTo
	// Checked here, composed and DKIM-signed by the delivery workers
	// (notify.Tracker.ComposeOutbox, dispatcher): the acceptance path is
	// validation, rendering and the commit, as GOV.UK Notify's API
	// leaves building and sending the message to its workers.
	domain, err := notify.NotificationEmail(&n.Notification).Check()
	if err != nil {
		return n, nil, err
	}
	if !m.c.test {
		n.MailFrom = notify.EnvelopeSender(n.ID, domain)
	}
	return n, nil, nil
}

// createdView is the 201 response of the create endpoints.
type createdView struct {
	DossierCode   string             `json:"dossier_code,omitempty"`
	EventID       string             `json:"event_id,omitempty"`
	Status        string             `json:"status,omitempty"`
	Notifications []notificationView `json:"notifications"`
}

func views(notes []notifydb.NewNotification) []notificationView {
	out := make([]notificationView, len(notes))
	for i := range notes {
		n := notes[i].Notification
		n.Status = notifydb.NotificationCreated
		out[i] = viewOf(&n, false)
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
	ev, ferrs, err := dossier.ParseEvent(code, body)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, fieldError{Message: err.Error()})
		return
	}
	if len(ferrs) > 0 {
		writeErrors(w, http.StatusUnprocessableEntity, ferrs...)
		return
	}
	s.create(w, r, creation{
		c: c, idemKey: "event:" + ev.EventID, idemFld: "event_id", hash: requestHash("event "+code, ev), cost: len(ev.Channels),
		build: func() ([]notifydb.NewNotification, []fieldError, error) { return s.buildEvent(c, code, ev) },
		response: func(notes []notifydb.NewNotification) any {
			return createdView{DossierCode: code, EventID: ev.EventID, Status: ev.Status, Notifications: views(notes)}
		},
	})
}

// buildEvent renders a validated dossier event into its notifications
// (one per channel, the email with its SMS fallback), or the problems
// found (422).
func (s *Server) buildEvent(c *caller, code string, ev *dossier.Event) ([]notifydb.NewNotification, []fieldError, error) {
	data := ev.TemplateData(code)
	var notes []notifydb.NewNotification
	var all []fieldError
	seen := map[string]bool{}
	for _, ch := range ev.Channels {
		t, ok := s.set.ForStatus(ev.Status, ch)
		if !ok {
			all = append(all, fieldError{Field: "channels", Message: fmt.Sprintf("no %s template for status %s", ch, ev.Status)})
			continue
		}
		m := message{t: t, data: data, c: c, toName: ev.Applicant.Name, toNameFld: "applicant.name", agency: ev.Agency, agencyFld: "agency", replyTo: ev.HandlingUnit,
			reference: ev.Reference, code: code, eventID: ev.EventID, status: ev.Status, urgent: ev.Urgent}
		if ch == templates.Email {
			m.recipient, m.recipientFld = ev.Applicant.Email, "applicant.email"
		} else {
			m.recipient, m.recipientFld = ev.Applicant.Phone, "applicant.phone"
		}
		n, fe, err := s.render(m)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range fe {
			if !seen[f.Field] {
				seen[f.Field] = true
				all = append(all, f)
			}
		}
		notes = append(notes, n)
	}
	if len(all) > 0 {
		return nil, all, nil
	}
	s.addSMSFallback(notes, ev, data)
	return notes, nil, nil
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

func (s *Server) postEmail(w http.ResponseWriter, r *http.Request) {
	s.postTemplate(w, r, templates.Email)
}
func (s *Server) postSMS(w http.ResponseWriter, r *http.Request) { s.postTemplate(w, r, templates.SMS) }

func (s *Server) postTemplate(w http.ResponseWriter, r *http.Request, channel string) {
	c := callerOf(r.Context())
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	req, m, errs, err := s.parseTemplateRequest(c, channel, body, key)
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
			n, fe, err := s.render(m)
			if err != nil || len(fe) > 0 {
				return nil, fe, err
			}
			return []notifydb.NewNotification{n}, nil, nil
		},
		response: func(notes []notifydb.NewNotification) any { return views(notes)[0] },
	})
}

// parseTemplateRequest decodes and validates the body of POST
// /v1/notifications/email or /sms (with its Idempotency-Key header) into
// the message to render, or the problems found (422), or dossier.ErrMalformed
// (400).
func (s *Server) parseTemplateRequest(c *caller, channel string, body []byte, key string) (templateRequest, message, []fieldError, error) {
	var req templateRequest
	fe, err := dossier.DecodeStrict(body, &req)
	if err != nil {
		return req, message{}, nil, err
	}
	if fe != nil {
		return req, message{}, []fieldError{*fe}, nil
	}
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
	m := message{t: t, data: req.Personalisation, fieldPrefix: "personalisation.", c: c, reference: req.Reference,
		agencyFld: "personalisation.agency", toNameFld: "personalisation.applicant.name"}
	if m.data == nil {
		m.data = map[string]any{}
	}
	if v, ok := m.data["dossier_code"].(string); ok && dossier.ValidCode(v) {
		m.code = v
	}
	if v, ok := m.data["agency"].(string); ok {
		m.agency = v
	}
	if channel == templates.Email {
		m.recipientFld = "email_address"
		if a, ok := dossier.ParseEmail(req.EmailAddress); ok {
			m.recipient = a
		} else {
			errs = append(errs, fieldError{Field: "email_address", Message: "not a valid email address"})
		}
		if req.PhoneNumber != "" {
			errs = append(errs, fieldError{Field: "phone_number", Message: "not allowed for email"})
		}
		if req.ReplyTo != "" {
			if a, ok := dossier.ParseEmail(req.ReplyTo); ok {
				m.replyTo = a
			} else {
				errs = append(errs, fieldError{Field: "reply_to", Message: "not a valid email address"})
			}
		}
		if n, ok := m.data["applicant"].(map[string]any); ok {
			m.toName, _ = n["name"].(string)
		}
	} else {
		m.recipientFld = "phone_number"
		if p, err := sms.ParsePhone(req.PhoneNumber); err == nil {
			m.recipient = p
		} else {
			errs = append(errs, fieldError{Field: "phone_number", Message: err.Error()})
		}
		if req.EmailAddress != "" || req.ReplyTo != "" {
			errs = append(errs, fieldError{Field: "email_address", Message: "not allowed for sms"})
		}
		m.urgent = req.Urgent
	}
	if channel == templates.Email && req.Urgent {
		errs = append(errs, fieldError{Field: "urgent", Message: "only for sms"})
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
	v := viewOf(n, true)
	for _, e := range evs {
		v.Events = append(v.Events, eventView{Cursor: e.ID, Status: e.Status, Detail: e.Detail, At: e.At.UTC()})
	}
	if n.OutboxID != 0 {
		if ob, err := s.st.OutboxState(r.Context(), n.OutboxID); err == nil && len(ob.Recipients) > 0 {
			rc := ob.Recipients[0]
			a := &attempts{Count: rc.Attempts, LastError: rc.LastError}
			if rc.Status == store.OutboxQueued {
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
			notifydb.NotificationTemporaryFailure, notifydb.NotificationTechnicalFailure:
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
		out.Notifications[i] = viewOf(&ns[i], false)
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
