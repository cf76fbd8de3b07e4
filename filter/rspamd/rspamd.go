// Package rspamd asks an rspamd daemon for its verdict on a message and
// teaches it spam and ham, over rspamd's HTTP protocol:
//
//	POST /checkv2            the message; envelope in headers (From, Rcpt,
//	                         IP, Helo, Hostname, Queue-Id, User)
//	POST /learnspam, /learnham   the message; the controller's Password
//
// The answer of /checkv2 is JSON: {"action": "reject", "score": 15,
// "required_score": 15, "symbols": {"GTUBE": {"score": 0, ...}},
// "messages": {"smtp_message": "..."}}. The caller acts on Action.
package rspamd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Actions rspamd answers.
const (
	ActionNoAction   = "no action"
	ActionGreylist   = "greylist"
	ActionAddHeader  = "add header"
	ActionRewrite    = "rewrite subject"
	ActionSoftReject = "soft reject"
	ActionReject     = "reject"
)

// Client talks to one rspamd. The zero value is not usable: set URL.
type Client struct {
	// URL is the worker or the controller (which also checks), e.g.
	// http://127.0.0.1:11334.
	URL string
	// Password is the controller's: learning needs it, and a check
	// through the controller from an address it does not trust.
	Password string
	// Timeout bounds one call; default 20 s.
	Timeout time.Duration
	// HTTP is the client used; nil is a default one.
	HTTP *http.Client
}

// Envelope is what rspamd is told of a message besides its content.
type Envelope struct {
	From     string   // envelope sender, "" for the null sender
	Rcpts    []string // envelope recipients
	IP       string   // the client's address
	Helo     string
	Hostname string // the client's name (reverse DNS), "" if none
	QueueID  string
	// User is the authenticated account (submission); "" at the MX.
	User string
}

// Result is rspamd's verdict.
type Result struct {
	Action        string
	Score         float64
	RequiredScore float64
	// Symbols are the rules that matched, with their scores.
	Symbols map[string]float64
	// SMTPMessage is the reply text rspamd suggests, "" if none.
	SMTPMessage string
}

// SymbolList is the symbols with scores, by name, for a header or a log:
// "ARC_NA(0.00),MISSING_MID(2.50)".
func (r Result) SymbolList() string {
	names := make([]string, 0, len(r.Symbols))
	for n := range r.Symbols {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		names[i] = fmt.Sprintf("%s(%.2f)", n, r.Symbols[n])
	}
	return strings.Join(names, ",")
}

// Error is a failed call: rspamd unreachable, a non-2xx answer, or one
// that cannot be read.
type Error struct {
	Status int // HTTP status, 0 when there was no answer
	Err    error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("rspamd: HTTP %d: %v", e.Status, e.Err)
	}
	return "rspamd: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// maxAnswer bounds what is read of an answer.
const maxAnswer = 1 << 20

// do sends one request (a GET when msg is nil) and returns the answer's
// body, at most maxAnswer; a non-2xx answer is an *Error with the body.
func (c *Client) do(ctx context.Context, path string, msg []byte, hdr http.Header) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method, body := http.MethodGet, io.Reader(nil)
	if msg != nil {
		method, body = http.MethodPost, bytes.NewReader(msg)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, body)
	if err != nil {
		return nil, &Error{Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &Error{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, &Error{Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		return b, &Error{Status: resp.StatusCode, Err: fmt.Errorf("%.200s", bytes.TrimSpace(b))}
	}
	return b, nil
}

// Check asks for rspamd's verdict on msg.
func (c *Client) Check(ctx context.Context, msg []byte, env Envelope) (Result, error) {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set("From", env.From)
	for _, r := range env.Rcpts {
		h.Add("Rcpt", r)
	}
	set("IP", env.IP)
	set("Helo", env.Helo)
	set("Hostname", env.Hostname)
	set("Queue-Id", env.QueueID)
	set("User", env.User)
	set("Password", c.Password) // a controller asks for it
	if msg == nil {
		msg = []byte{}
	}
	body, err := c.do(ctx, "/checkv2", msg, h)
	if err != nil {
		return Result{}, err
	}
	var a struct {
		Action        string  `json:"action"`
		Score         float64 `json:"score"`
		RequiredScore float64 `json:"required_score"`
		Symbols       map[string]struct {
			Score float64 `json:"score"`
		} `json:"symbols"`
		Messages map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Action == "" {
		return Result{}, &Error{Status: http.StatusOK, Err: fmt.Errorf("unreadable answer: %.200q", body)}
	}
	res := Result{Action: a.Action, Score: a.Score, RequiredScore: a.RequiredScore, Symbols: map[string]float64{}}
	for n, s := range a.Symbols {
		res.Symbols[n] = s.Score
	}
	if raw, ok := a.Messages["smtp_message"]; ok {
		json.Unmarshal(raw, &res.SMTPMessage)
	}
	return res, nil
}

// Learn teaches rspamd that msg is spam (or ham). Learning a message
// already learnt the same way is not an error.
func (c *Client) Learn(ctx context.Context, msg []byte, spam bool) error {
	path := "/learnham"
	if spam {
		path = "/learnspam"
	}
	if msg == nil {
		msg = []byte{}
	}
	body, err := c.do(ctx, path, msg, http.Header{"Password": {c.Password}})
	if err != nil && strings.Contains(string(body), "already learned") {
		return nil // rspamd answers an error naming it
	}
	return err
}

// Ping checks that rspamd answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, "/ping", nil, nil)
	return err
}

// Learned returns how many messages rspamd has learnt (the controller's
// /stat), for tests and checks.
func (c *Client) Learned(ctx context.Context) (int, error) {
	body, err := c.do(ctx, "/stat", nil, http.Header{"Password": {c.Password}})
	if err != nil {
		return 0, err
	}
	var st struct {
		Learned *int `json:"learned"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Learned == nil {
		return 0, &Error{Status: http.StatusOK, Err: fmt.Errorf("unreadable stat")}
	}
	return *st.Learned, nil
}
