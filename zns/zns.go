// Package zns speaks the Zalo Notification Service (ZNS) API as congthu
// uses it: sending an approved template message to a phone number
// (Client.Send), refreshing the Official Account's access token
// (Client.Refresh), and reading the signed events of its webhook
// (VerifyEvent). It is a leaf: storing tokens, choosing when to refresh and
// recording outcomes are the Zalo channel's.
//
// # Sending
//
//	POST {APIURL}/message/template
//	access_token: <the OA access token>
//	{"phone": "84912345678", "template_id": "…", "template_data": {…}, "tracking_id": "<notification id>"}
//
// answered {"error": 0, "message": "Success", "data": {"msg_id": "…",
// "sent_time": "…", "quota": {"dailyQuota": "…", "remainingQuota": "…"}}}.
// The phone goes in the 84… form made from our E.164.
//
// Every failure is an *Error with a Class that says what the caller does
// next: Temporary (send again later), Permanent (this message can never be
// sent this way), NotOnZalo (the number cannot be reached on Zalo: another
// channel may), TokenInvalid (refresh the access token, then send again).
// The codes of Zalo's "handle error code" table are mapped in codeClasses;
// a code missing from it counts as Permanent, so the notification goes on
// to its fallback instead of waiting. A request that was written but got
// no answer has UnknownOutcome set: Zalo may have sent it.
//
// # Access tokens
//
//	POST {OAuthURL}/v4/oa/access_token
//	secret_key: <app secret>
//	refresh_token=…&app_id=…&grant_type=refresh_token
//
// answered {"access_token": "…", "refresh_token": "…", "expires_in":
// "90000"}. The refresh token is single-use: the answer's replaces it, and
// a caller that loses it needs an operator to authorise the app again.
package zns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of Client's URLs.
const (
	DefaultAPIURL   = "https://business.openapi.zalo.me"
	DefaultOAuthURL = "https://oauth.zaloapp.com"
)

// maxAnswer bounds what is read of an answer.
const maxAnswer = 64 << 10

// Client calls the ZNS and OAuth APIs. The zero value is not usable: set
// AppID and AppSecret.
type Client struct {
	APIURL   string // "" is DefaultAPIURL
	OAuthURL string // "" is DefaultOAuthURL
	AppID    string
	// AppSecret is the app's secret key, sent with refreshes.
	AppSecret string
	// HTTP is the client used; nil is one with a 10 s timeout.
	HTTP *http.Client
}

var defaultHTTP = NewHTTPClient(0)

// NewHTTPClient returns a client for the ZNS API that keeps up to conns
// idle connections (0: a default of 16), so that as many concurrent
// senders reuse their connections instead of opening (and, over TLS,
// negotiating) one per message: net/http's default keeps two per host.
// Requests time out after 10 s.
func NewHTTPClient(conns int) *http.Client {
	if conns <= 0 {
		conns = 16
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Timeout: 10 * time.Second, Transport: t}
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return strings.TrimSuffix(s, "/")
}

// Message is one template message.
type Message struct {
	// Phone is the recipient in E.164 (+84…).
	Phone      string
	TemplateID string
	// Data are the template's parameters, already within their limits.
	Data map[string]string
	// TrackingID is ours (the notification id); Zalo echoes it.
	TrackingID string
}

// Quota is what Zalo last said of the OA's sending quota.
type Quota struct {
	Daily, Remaining int
}

// Result is an accepted message.
type Result struct {
	MsgID    string
	SentTime time.Time // zero when Zalo did not say
	Quota    *Quota    // nil when Zalo did not say
}

// Class says what to do after a failed send.
type Class int

// Classes.
const (
	Temporary    Class = iota + 1 // send again later
	Permanent                     // never sendable this way
	NotOnZalo                     // the number cannot receive ZNS
	TokenInvalid                  // refresh the access token, then send again
)

func (c Class) String() string {
	switch c {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case NotOnZalo:
		return "not on Zalo"
	case TokenInvalid:
		return "access token invalid"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Error is a failed call.
type Error struct {
	// Code is Zalo's error code (negative), 0 when there was none (an
	// HTTP failure or no answer).
	Code    int
	Message string
	// Status is the HTTP status, 0 when no answer was read.
	Status int
	Class  Class
	// Account is set when the fault is our account's or configuration's
	// (the app, the OA, the template mapping, the quota): every message
	// will fail alike until an operator acts.
	Account bool
	// UnknownOutcome: the request was written and no answer read; Zalo
	// may have sent the message.
	UnknownOutcome bool
	Err            error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("zns: ")
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "error %d", e.Code)
		if e.Message != "" {
			fmt.Fprintf(&b, " %q", e.Message)
		}
	case e.Status != 0:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	fmt.Fprintf(&b, " (%s)", e.Class)
	if e.UnknownOutcome {
		b.WriteString(", outcome unknown")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// codeClass is how one of Zalo's error codes is handled.
type codeClass struct {
	class   Class
	account bool
}

// codeClasses maps the codes of Zalo's "handle error code" table
// (zalo.cloud/zns/guidelines/handle-error-code) that congthu has read.
var codeClasses = map[int]codeClass{
	-100: {Temporary, false},   // unknown error: "try again later"
	-101: {Permanent, true},    // application invalid
	-102: {Permanent, true},    // application not existed
	-103: {Permanent, true},    // application not activated
	-104: {Permanent, true},    // app secret key invalid
	-105: {Permanent, true},    // application not linked to any OA
	-106: {Permanent, true},    // method unsupported
	-107: {Permanent, false},   // message id invalid
	-108: {NotOnZalo, false},   // phone number invalid (for Zalo)
	-109: {Permanent, true},    // template id invalid
	-110: {NotOnZalo, false},   // the user's Zalo version is unsupported
	-111: {Permanent, true},    // template data empty
	-112: {Permanent, false},   // template data invalid
	-115: {Permanent, true},    // out of quota
	-118: {NotOnZalo, false},   // Zalo account not existed
	-119: {NotOnZalo, false},   // account cannot receive ZNS
	-124: {TokenInvalid, true}, // access token invalid
}

// Classify returns how code is handled: an unlisted code is Permanent.
func Classify(code int) (c Class, account bool) {
	if cc, ok := codeClasses[code]; ok {
		return cc.class, cc.account
	}
	return Permanent, false
}

// answer is the envelope of every ZNS answer.
type answer struct {
	Error   *int            `json:"error"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// Send sends m with accessToken.
func (c *Client) Send(ctx context.Context, accessToken string, m Message) (Result, error) {
	p, ok := strings.CutPrefix(m.Phone, "+")
	if !ok || !strings.HasPrefix(p, "84") {
		return Result{}, &Error{Class: Permanent, Err: errors.New("recipient is not a Vietnamese E.164 number")}
	}
	data := m.Data
	if data == nil {
		data = map[string]string{}
	}
	body, err := json.Marshal(struct {
		Phone        string            `json:"phone"`
		TemplateID   string            `json:"template_id"`
		TemplateData map[string]string `json:"template_data"`
		TrackingID   string            `json:"tracking_id,omitempty"`
	}{p, m.TemplateID, data, m.TrackingID})
	if err != nil {
		return Result{}, &Error{Class: Permanent, Err: err}
	}
	raw, status, err := c.post(ctx, orDefault(c.APIURL, DefaultAPIURL)+"/message/template", "application/json", body,
		http.Header{"access_token": {accessToken}})
	if err != nil {
		return Result{}, err
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil || a.Error == nil {
		return Result{}, httpError(status, fmt.Errorf("unreadable answer: %.100q", raw))
	}
	if *a.Error != 0 {
		cl, acct := Classify(*a.Error)
		return Result{}, &Error{Code: *a.Error, Message: a.Message, Status: status, Class: cl, Account: acct}
	}
	var d struct {
		MsgID    string          `json:"msg_id"`
		SentTime json.RawMessage `json:"sent_time"`
		Quota    *struct {
			Daily     json.RawMessage `json:"dailyQuota"`
			Remaining json.RawMessage `json:"remainingQuota"`
		} `json:"quota"`
	}
	if err := json.Unmarshal(a.Data, &d); err != nil || d.MsgID == "" {
		// Sent, but without an id no receipt will match: the outcome
		// is as good as unknown.
		return Result{}, &Error{Status: status, Class: Temporary, UnknownOutcome: true, Err: fmt.Errorf("success without a msg_id: %.100q", raw)}
	}
	res := Result{MsgID: d.MsgID}
	if ms, ok := number(d.SentTime); ok && ms > 0 {
		res.SentTime = time.UnixMilli(ms)
	}
	if d.Quota != nil {
		daily, ok1 := number(d.Quota.Daily)
		rem, ok2 := number(d.Quota.Remaining)
		if ok1 && ok2 {
			res.Quota = &Quota{Daily: int(daily), Remaining: int(rem)}
		}
	}
	return res, nil
}

// number reads a JSON number or a string holding one.
func number(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Token is an access token with the refresh token that replaces the one
// used.
type Token struct {
	Access, Refresh string
	Expires         time.Time
}

// Refresh exchanges refreshToken (single-use) for a new pair. A refused
// refresh token is a Permanent *Error with Account set: an operator must
// authorise the app again.
func (c *Client) Refresh(ctx context.Context, refreshToken string, now time.Time) (Token, error) {
	form := url.Values{"refresh_token": {refreshToken}, "app_id": {c.AppID}, "grant_type": {"refresh_token"}}
	raw, status, err := c.post(ctx, orDefault(c.OAuthURL, DefaultOAuthURL)+"/v4/oa/access_token", "application/x-www-form-urlencoded",
		[]byte(form.Encode()), http.Header{"secret_key": {c.AppSecret}})
	if err != nil {
		return Token{}, err
	}
	var a struct {
		Access    string          `json:"access_token"`
		Refresh   string          `json:"refresh_token"`
		ExpiresIn json.RawMessage `json:"expires_in"`
		Error     *int            `json:"error"`
		Name      string          `json:"error_name"`
		Reason    string          `json:"error_reason"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return Token{}, httpError(status, fmt.Errorf("unreadable answer: %.100q", raw))
	}
	if a.Access == "" || a.Refresh == "" {
		e := &Error{Status: status, Class: Permanent, Account: true, Message: strings.TrimSpace(a.Name + " " + a.Reason)}
		if a.Error != nil {
			e.Code = *a.Error
		}
		if status >= 500 {
			e.Class, e.Account = Temporary, false
		}
		if e.Message == "" {
			e.Err = errors.New("no token in the answer")
		}
		return Token{}, e
	}
	secs, ok := number(a.ExpiresIn)
	if !ok || secs <= 0 {
		secs = 3600 // unstated: assume short rather than long
	}
	return Token{Access: a.Access, Refresh: a.Refresh, Expires: now.Add(time.Duration(secs) * time.Second)}, nil
}

// post sends one request and reads the answer (at most maxAnswer). A
// failure before an answer is a Temporary *Error, with UnknownOutcome when
// the request had been written; a 5xx or 429 is Temporary, another non-2xx
// status without a readable answer Permanent.
func (c *Client) post(ctx context.Context, u, ctype string, body []byte, hdr http.Header) ([]byte, int, error) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, 0, &Error{Class: Permanent, Account: true, Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v // Zalo's header names are lower case with "_": set them as they are
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, 0, &Error{Class: Temporary, UnknownOutcome: wrote.Load(), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, resp.StatusCode, &Error{Status: resp.StatusCode, Class: Temporary, UnknownOutcome: true, Err: err}
	}
	if resp.StatusCode/100 != 2 && !json.Valid(raw) {
		return nil, resp.StatusCode, httpError(resp.StatusCode, nil)
	}
	return raw, resp.StatusCode, nil
}

// httpError is the *Error of an answer without a usable body.
func httpError(status int, err error) *Error {
	e := &Error{Status: status, Class: Permanent, Err: err}
	if status == http.StatusTooManyRequests || status >= 500 {
		e.Class = Temporary
	}
	if status/100 == 2 {
		// A 200 we cannot read: it may have been sent.
		e.Class, e.UnknownOutcome = Temporary, true
	}
	return e
}
