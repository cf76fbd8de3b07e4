package httpsms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/sms"
	"congthu/sms/smpp"
)

// fakeAPI stands in for a brandname API: it records requests and answers
// with the status and body the test sets.
type fakeAPI struct {
	mu     sync.Mutex
	status int
	answer string
	header http.Header
	reqs   []map[string]any
	auth   []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	json.Unmarshal(body, &m)
	f.mu.Lock()
	f.reqs = append(f.reqs, m)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	status, answer := f.status, f.answer
	for k, v := range f.header {
		w.Header()[k] = v
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (f *fakeAPI) set(status int, answer string) {
	f.mu.Lock()
	f.status, f.answer = status, answer
	f.mu.Unlock()
}

func (f *fakeAPI) last(t *testing.T) (map[string]any, string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the API got no request")
	}
	return f.reqs[len(f.reqs)-1], f.auth[len(f.auth)-1]
}

func newProvider(t *testing.T, url string, mod func(*Options)) *Provider {
	t.Helper()
	o := Options{URL: url, AuthHeader: "Authorization: Bearer tok-1", Sender: "UBND-HN", Timeout: 2 * time.Second, ReceiptSecret: "hook-secret"}
	if mod != nil {
		mod(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendRequestMapping(t *testing.T) {
	api := &fakeAPI{status: 200, answer: `{"id":"abc-1"}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx := context.Background()

	tests := []struct {
		name        string
		fields      FieldMap
		answer      string
		msg         Message
		want        map[string]any
		wantID      string
		wantParts   int
		wantEncoded sms.Encoding
	}{
		{
			name:   "GSM-7 defaults",
			msg:    Message{To: "+84912345678", Text: "Ho so 000.12 da duoc tiep nhan", Reference: "n-1"},
			want:   map[string]any{"to": "+84912345678", "from": "UBND-HN", "text": "Ho so 000.12 da duoc tiep nhan", "unicode": false, "reference": "n-1"},
			answer: `{"id":"abc-1"}`, wantID: "abc-1", wantParts: 1, wantEncoded: sms.GSM7,
		},
		{
			name:   "UCS-2 sets the unicode flag, no reference",
			msg:    Message{To: "+84912345678", Text: "Hồ sơ của ông/bà đã được tiếp nhận"},
			want:   map[string]any{"to": "+84912345678", "from": "UBND-HN", "text": "Hồ sơ của ông/bà đã được tiếp nhận", "unicode": true},
			answer: `{"id":42}`, wantID: "42", wantParts: 1, wantEncoded: sms.UCS2,
		},
		{
			name:   "folded text is sent folded",
			msg:    Message{To: "+84912345678", Text: "Hồ sơ của ông/bà đã được tiếp nhận", Fold: true},
			want:   map[string]any{"to": "+84912345678", "from": "UBND-HN", "text": "Ho so cua ong/ba da duoc tiep nhan", "unicode": false},
			answer: `{"id":"x"}`, wantID: "x", wantParts: 1, wantEncoded: sms.GSM7,
		},
		{
			name:   "custom field map and nested id",
			fields: FieldMap{To: "phone", From: "brandname", Text: "message", Reference: "ref", Unicode: "is_unicode", ID: "data.msg_id"},
			msg:    Message{To: "+84912345678", Text: strings.Repeat("Hồ sơ ", 20), Reference: "n-2"},
			want: map[string]any{"phone": "+84912345678", "brandname": "UBND-HN", "message": strings.Repeat("Hồ sơ ", 20),
				"is_unicode": true, "ref": "n-2"},
			answer: `{"code":0,"data":{"msg_id":"m-77"}}`, wantID: "m-77", wantParts: 2, wantEncoded: sms.UCS2,
		},
		{
			name:   "unicode field left out",
			fields: FieldMap{Unicode: "-"},
			msg:    Message{To: "+84912345678", Text: "abc"},
			want:   map[string]any{"to": "+84912345678", "from": "UBND-HN", "text": "abc"},
			answer: `{"id":"y"}`, wantID: "y", wantParts: 1, wantEncoded: sms.GSM7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api.set(200, tt.answer)
			p := newProvider(t, srv.URL, func(o *Options) { o.FieldMap = tt.fields })
			res, err := p.Send(ctx, tt.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got, auth := api.last(t)
			if !equalJSON(got, tt.want) {
				t.Errorf("request body: got %v, want %v", got, tt.want)
			}
			if auth != "Bearer tok-1" {
				t.Errorf("Authorization: got %q, want %q", auth, "Bearer tok-1")
			}
			if res.ProviderID != tt.wantID || res.Parts != tt.wantParts || res.Encoding != tt.wantEncoded {
				t.Errorf("result: got %+v, want id %q, %d %v parts", res, tt.wantID, tt.wantParts, tt.wantEncoded)
			}
		})
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestSendOutcomes(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	p := newProvider(t, srv.URL, nil)
	msg := Message{To: "+84912345678", Text: "Ho so da duoc tiep nhan"}

	tests := []struct {
		status        int
		answer        string
		wantErr       bool
		temporary     bool
		rejected      bool
		code          string
		retryAfterHdr string
		retryAfter    time.Duration
	}{
		{status: 200, answer: `{"id":"a"}`},
		{status: 201, answer: `{"id":"b"}`},
		{status: 202, answer: ``}, // accepted without an id
		{status: 429, answer: `{"error":"rate"}`, wantErr: true, temporary: true, code: "rate", retryAfterHdr: "7", retryAfter: 7 * time.Second},
		{status: 500, answer: `oops`, wantErr: true, temporary: true},
		{status: 502, answer: ``, wantErr: true, temporary: true},
		{status: 503, answer: `{"error":"maintenance"}`, wantErr: true, temporary: true, code: "maintenance"},
		{status: 400, answer: `{"error":"INVALID_PHONE"}`, wantErr: true, rejected: true, code: "INVALID_PHONE"},
		{status: 422, answer: `{"error":"bad text"}`, wantErr: true, rejected: true, code: "bad text"},
		{status: 401, answer: `{"error":"auth"}`, wantErr: true, code: "auth"},
		{status: 403, answer: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			api.set(tt.status, tt.answer)
			api.mu.Lock()
			api.header = http.Header{}
			if tt.retryAfterHdr != "" {
				api.header.Set("Retry-After", tt.retryAfterHdr)
			}
			api.mu.Unlock()
			res, err := p.Send(context.Background(), msg)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if res.Parts != 1 {
					t.Errorf("parts: got %d, want 1", res.Parts)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %v, want *Error", err)
			}
			if e.Temporary() != tt.temporary || errors.Is(err, ErrPermanent) == tt.temporary {
				t.Errorf("Temporary: got %v (Is ErrPermanent %v), want %v", e.Temporary(), errors.Is(err, ErrPermanent), tt.temporary)
			}
			if e.MessageRejected() != tt.rejected {
				t.Errorf("MessageRejected: got %v, want %v", e.MessageRejected(), tt.rejected)
			}
			if e.UnknownOutcome() {
				t.Errorf("UnknownOutcome true for an answered request")
			}
			if e.StatusCode != tt.status || e.Code != tt.code || e.RetryAfter != tt.retryAfter {
				t.Errorf("got status %d code %q retry-after %v, want %d %q %v", e.StatusCode, e.Code, e.RetryAfter, tt.status, tt.code, tt.retryAfter)
			}
		})
	}
}

func TestSendNoAnswer(t *testing.T) {
	// A server that reads the request and never answers: timeout after
	// the write, outcome unknown.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	p := newProvider(t, srv.URL, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	_, err := p.Send(context.Background(), Message{To: "+84912345678", Text: "x"})
	var e *Error
	if !errors.As(err, &e) || !e.Temporary() || !e.UnknownOutcome() {
		t.Fatalf("timeout: got %v, want a temporary *Error with unknown outcome", err)
	}

	// Nobody listening: temporary, and nothing was sent.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	p = newProvider(t, "http://"+addr+"/send", nil)
	_, err = p.Send(context.Background(), Message{To: "+84912345678", Text: "x"})
	if !errors.As(err, &e) || !e.Temporary() || e.UnknownOutcome() {
		t.Fatalf("refused connection: got %v (unknown %v), want temporary, outcome known", err, e != nil && e.UnknownOutcome())
	}
}

func TestSendRefusedBeforeSending(t *testing.T) {
	api := &fakeAPI{status: 200, answer: `{"id":"a"}`}
	srv := httptest.NewServer(api)
	defer srv.Close()
	p := newProvider(t, srv.URL, func(o *Options) { o.MaxParts = 1 })
	if _, err := p.Send(context.Background(), Message{To: "+84912345678", Text: strings.Repeat("x", 161)}); !errors.Is(err, sms.ErrTooManyParts) {
		t.Errorf("too long: got %v, want ErrTooManyParts", err)
	}
	if _, err := p.Send(context.Background(), Message{To: "0912345678", Text: "x"}); err == nil {
		t.Errorf("non-E.164 number accepted")
	}
	if len(api.reqs) != 0 {
		t.Errorf("the API got %d requests, want 0", len(api.reqs))
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{
		{URL: "", Sender: "X"},
		{URL: "ftp://x/y", Sender: "X"},
		{URL: "https://api.example/send", Sender: ""},
		{URL: "https://api.example/send", Sender: "X", AuthHeader: "Bearer abc"},
		{URL: "https://api.example/send", Sender: "X", AuthHeader: "X-Key: a\r\nEvil: 1"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestReceiptHandler(t *testing.T) {
	p := newProvider(t, "https://api.example/send", nil)
	var mu sync.Mutex
	var got []Receipt
	fail := false
	h := p.ReceiptHandler(func(ctx context.Context, r Receipt) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return errors.New("store down")
		}
		got = append(got, r)
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	post := func(secret, body string) int {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		if secret != "" {
			req.Header.Set(DefaultReceiptHeader, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	one := `{"id":"abc-1","status":"DELIVERED","error_code":"000","done_at":"2026-03-15T09:30:00+07:00"}`
	if c := post("wrong", one); c != 401 {
		t.Errorf("wrong secret: got %d, want 401", c)
	}
	if c := post("", one); c != 401 {
		t.Errorf("no secret: got %d, want 401", c)
	}
	if c := post("hook-secret-and-more", one); c != 401 {
		t.Errorf("longer secret: got %d, want 401", c)
	}
	if len(got) != 0 {
		t.Fatalf("receipts passed on without the secret: %v", got)
	}
	if c := post("hook-secret", one); c != 200 {
		t.Fatalf("right secret: got %d, want 200", c)
	}
	batch := `[{"id":77,"status":"undeliverable","error_code":1,"done_at":1773541800},{"id":"c","status":"expired"},{"id":"d","status":"enroute"}]`
	if c := post("hook-secret", batch); c != 200 {
		t.Fatalf("batch: got %d, want 200", c)
	}
	want := []struct {
		id, code string
		outcome  smpp.Outcome
		done     time.Time
	}{
		{"abc-1", "000", smpp.Delivered, time.Date(2026, 3, 15, 2, 30, 0, 0, time.UTC)},
		{"77", "1", smpp.PermanentFailure, time.Unix(1773541800, 0)},
		{"c", "", smpp.TemporaryFailure, time.Time{}},
		{"d", "", smpp.Pending, time.Time{}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d receipts, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r.ProviderID != w.id || r.ErrorCode != w.code || r.Outcome() != w.outcome || !r.DoneAt.Equal(w.done) {
			t.Errorf("receipt %d: got %+v (%v), want %+v", i, r, r.Outcome(), w)
		}
	}
	for _, bad := range []string{`{`, `{"status":"delivered"}`, `{"id":"x"}`, `{"id":"x","status":"delivered","done_at":"yesterday"}`} {
		if c := post("hook-secret", bad); c != 400 {
			t.Errorf("body %s: got %d, want 400", bad, c)
		}
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	if c := post("hook-secret", one); c != 500 {
		t.Errorf("store failing: got %d, want 500 so the provider retries", c)
	}
	resp, _ := http.Get(srv.URL)
	if resp.StatusCode != 405 {
		t.Errorf("GET: got %d, want 405", resp.StatusCode)
	}
	resp.Body.Close()

	// No secret configured: every receipt is refused.
	p2 := newProvider(t, "https://api.example/send", func(o *Options) { o.ReceiptSecret = "" })
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", strings.NewReader(one))
	req.Header.Set(DefaultReceiptHeader, "")
	p2.ReceiptHandler(func(context.Context, Receipt) error { t.Error("called"); return nil }).ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("no secret configured: got %d, want 401", rec.Code)
	}
}

func TestReceiptOutcome(t *testing.T) {
	for status, want := range map[string]smpp.Outcome{
		"DELIVERED": smpp.Delivered, "delivrd": smpp.Delivered, "Success": smpp.Delivered,
		"temporary-failure": smpp.TemporaryFailure, "EXPIRED": smpp.TemporaryFailure, "whatever": smpp.TemporaryFailure,
		"permanent_failure": smpp.PermanentFailure, "UNDELIV": smpp.PermanentFailure, "rejected": smpp.PermanentFailure,
		"ENROUTE": smpp.Pending, "sent": smpp.Pending,
	} {
		if got := (Receipt{Status: status}).Outcome(); got != want {
			t.Errorf("%q: got %v, want %v", status, got, want)
		}
	}
}

func FuzzParseReceipts(f *testing.F) {
	f.Add([]byte(`{"id":"abc-1","status":"DELIVERED","error_code":"000","done_at":"2026-03-15T09:30:00+07:00"}`))
	f.Add([]byte(`[{"id":77,"status":"undeliverable","done_at":1773541800}]`))
	f.Add([]byte(`{"id":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseReceipts(b, nil)
		if err != nil {
			if !errors.Is(err, ErrBadReceipt) {
				t.Fatalf("error %v does not wrap ErrBadReceipt", err)
			}
			return
		}
		for _, r := range rs {
			if r.ProviderID == "" || r.Status == "" {
				t.Fatalf("receipt without id or status: %+v", r)
			}
			r.Outcome()
		}
	})
}
