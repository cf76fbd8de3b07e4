// Package znstest is a ZNS peer for tests: an HTTP server that follows
// the documented Zalo API as package zns speaks it. It sends template
// messages (answering chosen error codes for chosen numbers), refreshes
// tokens the way Zalo does (the refresh token is single-use and rotates; a
// used one is refused), lets a test expire the access token, and posts
// signed user_received_message events to a webhook.
package znstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"congthu/zns"
)

// Options configure a Server.
type Options struct {
	AppID, AppSecret, OASecret string
	// RefreshToken is the refresh token the operator authorised with.
	RefreshToken string
	// AccessTTL is the lifetime of an access token; default 25 h.
	AccessTTL time.Duration
	// DailyQuota is reported in answers; default 1000.
	DailyQuota int
	// Webhook, if set, receives the signed events; with AutoReceipt a
	// user_received_message follows every accepted message after
	// ReceiptDelay.
	Webhook      string
	AutoReceipt  bool
	ReceiptDelay time.Duration
}

// Sent is an accepted message.
type Sent struct {
	Phone, TemplateID, TrackingID, MsgID string
	Data                                 map[string]string
	At                                   time.Time
}

// Server is the peer. Its methods are safe for concurrent use.
type Server struct {
	o  Options
	ts *httptest.Server

	mu        sync.Mutex
	access    string
	expires   time.Time
	refresh   string
	used      map[string]bool // refresh tokens already exchanged
	refreshes int
	refused   int
	fail      map[string]int // 84… number -> error code
	sent      []Sent
	remaining int
	receipts  sync.WaitGroup
	// hooks posts the events with connections kept alive, as a
	// provider's webhook sender does.
	hooks *http.Client
}

// New starts a Server; Close stops it.
func New(o Options) *Server {
	if o.AccessTTL <= 0 {
		o.AccessTTL = 25 * time.Hour
	}
	if o.DailyQuota <= 0 {
		o.DailyQuota = 1000
	}
	s := &Server{o: o, refresh: o.RefreshToken, used: map[string]bool{}, fail: map[string]int{}, remaining: o.DailyQuota,
		hooks: zns.NewHTTPClient(256)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /message/template", s.send)
	mux.HandleFunc("POST /v4/oa/access_token", s.token)
	s.ts = httptest.NewServer(mux)
	return s
}

// URL is the base of both APIs (zns.Client's APIURL and OAuthURL).
func (s *Server) URL() string { return s.ts.URL }

// Close stops the server after the receipts in flight.
func (s *Server) Close() {
	s.receipts.Wait()
	s.ts.Close()
}

// Fail makes messages to phone (E.164 or 84…) answer code; 0 clears it.
func (s *Server) Fail(phone string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := trimPlus(phone)
	if code == 0 {
		delete(s.fail, p)
	} else {
		s.fail[p] = code
	}
}

// ExpireAccess invalidates the current access token, as its expiry would.
func (s *Server) ExpireAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expires = time.Time{}
}

// Sent returns the accepted messages.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Refreshes returns how many refreshes succeeded and how many were
// refused.
func (s *Server) Refreshes() (ok, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes, s.refused
}

// RefreshToken returns the refresh token that is valid now.
func (s *Server) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

func trimPlus(p string) string {
	if len(p) > 0 && p[0] == '+' {
		return p[1:]
	}
	return p
}

func token() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func zerr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"error": code, "message": msg})
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone        string            `json:"phone"`
		TemplateID   string            `json:"template_id"`
		TemplateData map[string]string `json:"template_data"`
		TrackingID   string            `json:"tracking_id"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &req) != nil {
		zerr(w, -111, "Template data empty")
		return
	}
	s.mu.Lock()
	now := time.Now()
	if tok := r.Header.Get("access_token"); tok == "" || tok != s.access || !now.Before(s.expires) {
		s.mu.Unlock()
		zerr(w, -124, "Access token invalid")
		return
	}
	if len(req.Phone) != 11 || req.Phone[:2] != "84" {
		s.mu.Unlock()
		zerr(w, -108, "Phone number invalid")
		return
	}
	if req.TemplateID == "" {
		s.mu.Unlock()
		zerr(w, -109, "Template ID invalid")
		return
	}
	if code := s.fail[req.Phone]; code != 0 {
		s.mu.Unlock()
		zerr(w, code, "simulated failure")
		return
	}
	if s.remaining == 0 {
		s.mu.Unlock()
		zerr(w, -115, "Out of quota")
		return
	}
	s.remaining--
	m := Sent{Phone: req.Phone, TemplateID: req.TemplateID, TrackingID: req.TrackingID, MsgID: token(), Data: req.TemplateData, At: now}
	s.sent = append(s.sent, m)
	rem := s.remaining
	auto := s.o.AutoReceipt && s.o.Webhook != ""
	if auto {
		s.receipts.Add(1)
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"error": 0, "message": "Success", "data": map[string]any{
		"msg_id": m.MsgID, "sent_time": strconv.FormatInt(now.UnixMilli(), 10),
		"quota": map[string]any{"dailyQuota": strconv.Itoa(s.o.DailyQuota), "remainingQuota": strconv.Itoa(rem)}}})
	if auto {
		go func() {
			defer s.receipts.Done()
			time.Sleep(s.o.ReceiptDelay)
			s.Receipt(m.MsgID) // a failed post is the test's to notice
		}()
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(reason string) {
		s.refused++
		// A refused refresh answers an error object and no tokens; the
		// code is this peer's own.
		writeJSON(w, map[string]any{"error": -14014, "error_name": "Invalid refresh token", "error_reason": reason})
	}
	switch {
	case r.Header.Get("secret_key") != s.o.AppSecret:
		refuse("secret_key")
	case r.PostForm.Get("app_id") != s.o.AppID:
		refuse("app_id")
	case r.PostForm.Get("grant_type") != "refresh_token":
		refuse("grant_type")
	case s.used[r.PostForm.Get("refresh_token")]:
		refuse("refresh token already used")
	case r.PostForm.Get("refresh_token") != s.refresh || s.refresh == "":
		refuse("unknown refresh token")
	default:
		s.used[s.refresh] = true
		s.refresh, s.access = token(), token()
		s.expires = time.Now().Add(s.o.AccessTTL)
		s.refreshes++
		writeJSON(w, map[string]any{"access_token": s.access, "refresh_token": s.refresh,
			"expires_in": strconv.Itoa(int(s.o.AccessTTL / time.Second))})
	}
}

// Receipt posts a signed user_received_message for msgID to the webhook.
func (s *Server) Receipt(msgID string) error {
	now := time.Now()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	body, _ := json.Marshal(map[string]any{"app_id": s.o.AppID, "event_name": zns.EventUserReceived, "timestamp": ts,
		"message": map[string]any{"msg_id": msgID, "delivery_time": ts}})
	return s.Post(body, zns.Sign(s.o.AppID, s.o.OASecret, body, ts))
}

// Post posts body with the given signature header to the webhook, for
// tests of forged or malformed events.
func (s *Server) Post(body []byte, signature string) error {
	req, err := http.NewRequest(http.MethodPost, s.o.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-ZEvent-Signature", signature)
	resp, err := s.hooks.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("znstest: webhook answered %s", resp.Status)
	}
	return nil
}
