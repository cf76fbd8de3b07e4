package zns_test

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

	"congthu/zns"
	"congthu/zns/znstest"
)

var ctx = context.Background()

func peer(t *testing.T, o znstest.Options) (*znstest.Server, *zns.Client) {
	t.Helper()
	if o.AppID == "" {
		o.AppID, o.AppSecret, o.OASecret, o.RefreshToken = "app-1", "app-secret", "oa-secret", "refresh-0"
	}
	s := znstest.New(o)
	t.Cleanup(s.Close)
	return s, &zns.Client{APIURL: s.URL(), OAuthURL: s.URL(), AppID: o.AppID, AppSecret: o.AppSecret}
}

func zerr(t *testing.T, err error) *zns.Error {
	t.Helper()
	var e *zns.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *zns.Error", err, err)
	}
	return e
}

// TestRefreshRotates: the refresh token is single-use; the answer's
// replaces it and the used one is refused as our account's fault.
func TestRefreshRotates(t *testing.T) {
	s, c := peer(t, znstest.Options{})
	now := time.Now()
	tok, err := c.Refresh(ctx, "refresh-0", now)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Access == "" || tok.Refresh == "" || tok.Refresh == "refresh-0" || !tok.Expires.Equal(now.Add(25*time.Hour)) {
		t.Fatalf("token %+v", tok)
	}
	_, err = c.Refresh(ctx, "refresh-0", now)
	if e := zerr(t, err); e.Class != zns.Permanent || !e.Account || !strings.Contains(e.Error(), "Invalid refresh token") {
		t.Errorf("used refresh token: %v %+v", err, e)
	}
	if _, err := c.Refresh(ctx, tok.Refresh, now); err != nil {
		t.Errorf("rotated refresh token: %v", err)
	}
	bad := *c
	bad.AppSecret = "wrong"
	if _, err := bad.Refresh(ctx, s.RefreshToken(), now); zerr(t, err).Class != zns.Permanent {
		t.Errorf("wrong secret: %v", err)
	}
	if ok, refused := s.Refreshes(); ok != 2 || refused != 2 {
		t.Errorf("refreshes %d ok, %d refused; want 2, 2", ok, refused)
	}
}

func TestSend(t *testing.T) {
	s, c := peer(t, znstest.Options{DailyQuota: 2})
	tok, err := c.Refresh(ctx, "refresh-0", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := zns.Message{Phone: "+84912345678", TemplateID: "tpl-1", Data: map[string]string{"customer_name": "Nguyễn Văn An"}, TrackingID: "n-1"}
	res, err := c.Send(ctx, tok.Access, m)
	if err != nil {
		t.Fatal(err)
	}
	if res.MsgID == "" || res.SentTime.IsZero() || res.Quota == nil || res.Quota.Daily != 2 || res.Quota.Remaining != 1 {
		t.Errorf("result %+v quota %+v", res, res.Quota)
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].Phone != "84912345678" || sent[0].TrackingID != "n-1" || sent[0].Data["customer_name"] != "Nguyễn Văn An" || sent[0].MsgID != res.MsgID {
		t.Errorf("sent %+v", sent)
	}

	for _, tc := range []struct {
		code    int
		class   zns.Class
		account bool
	}{
		{-118, zns.NotOnZalo, false},
		{-119, zns.NotOnZalo, false},
		{-108, zns.NotOnZalo, false},
		{-100, zns.Temporary, false},
		{-109, zns.Permanent, true},
		{-112, zns.Permanent, false},
		{-199, zns.Permanent, false}, // a code missing from the table
	} {
		s.Fail("+84900000003", tc.code)
		_, err := c.Send(ctx, tok.Access, zns.Message{Phone: "+84900000003", TemplateID: "tpl-1"})
		if e := zerr(t, err); e.Code != tc.code || e.Class != tc.class || e.Account != tc.account || e.UnknownOutcome {
			t.Errorf("code %d: %+v, want %v account %v", tc.code, e, tc.class, tc.account)
		}
	}
	if _, err := c.Send(ctx, tok.Access, m); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(ctx, tok.Access, m)
	if e := zerr(t, err); e.Code != -115 || e.Class != zns.Permanent || !e.Account {
		t.Errorf("out of quota: %+v", e)
	}
	s.ExpireAccess()
	_, err = c.Send(ctx, tok.Access, m)
	if e := zerr(t, err); e.Code != -124 || e.Class != zns.TokenInvalid {
		t.Errorf("expired token: %+v", e)
	}
	_, err = c.Send(ctx, tok.Access, zns.Message{Phone: "+33612345678", TemplateID: "x"})
	if e := zerr(t, err); e.Class != zns.Permanent || e.Status != 0 {
		t.Errorf("foreign number: %+v", e)
	}
}

// TestSendFailures: what comes back when Zalo cannot be reached, answers
// garbage, or takes the request and never answers.
func TestSendFailures(t *testing.T) {
	m := zns.Message{Phone: "+84912345678", TemplateID: "t"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &zns.Client{APIURL: "http://" + addr}
	_, err = c.Send(ctx, "tok", m)
	if e := zerr(t, err); e.Class != zns.Temporary || e.UnknownOutcome {
		t.Errorf("connection refused: %+v", e)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html>bad gateway</html>")
	}))
	defer down.Close()
	c.APIURL = down.URL
	_, err = c.Send(ctx, "tok", m)
	if e := zerr(t, err); e.Class != zns.Temporary || e.Status != 502 || e.UnknownOutcome {
		t.Errorf("502: %+v", e)
	}

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: the handler returns, then the server closes
	c = &zns.Client{APIURL: hang.URL, HTTP: &http.Client{Timeout: 200 * time.Millisecond}}
	_, err = c.Send(ctx, "tok", m)
	if e := zerr(t, err); e.Class != zns.Temporary || !e.UnknownOutcome {
		t.Errorf("no answer: %+v", e)
	}
}

// TestWebhook: a receipt from the peer verifies and names the message; a
// changed body, a wrong secret or no signature is refused.
func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []*zns.Event
	var refused []error
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, zns.MaxEventBytes+1))
		ev, err := zns.VerifyEvent("app-1", "oa-secret", body, r.Header.Get("X-ZEvent-Signature"))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			refused = append(refused, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = append(got, ev)
	}))
	defer hook.Close()
	s, c := peer(t, znstest.Options{AppID: "app-1", AppSecret: "s", OASecret: "oa-secret", RefreshToken: "r", Webhook: hook.URL, AutoReceipt: true})
	tok, err := c.Refresh(ctx, "r", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Send(ctx, tok.Access, zns.Message{Phone: "+84912345678", TemplateID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"app_id":"app-1","event_name":"user_received_message","timestamp":"1765000000000","message":{"msg_id":"m1"}}`)
	sig := zns.Sign("app-1", "oa-secret", body, "1765000000000")
	if err := s.Post(body, sig); err != nil {
		t.Errorf("a signed event: %v", err)
	}
	forged := []byte(strings.Replace(string(body), "m1", "m2", 1))
	if s.Post(forged, sig) == nil {
		t.Error("a changed body was taken")
	}
	if s.Post(body, zns.Sign("app-1", "other-secret", body, "1765000000000")) == nil {
		t.Error("a signature with another secret was taken")
	}
	if s.Post(body, "") == nil {
		t.Error("an unsigned event was taken")
	}
	s.Close() // waits for the automatic receipt
	mu.Lock()
	defer mu.Unlock()
	var auto, m1 bool
	for _, ev := range got {
		auto = auto || (ev.MsgID == res.MsgID && ev.Name == zns.EventUserReceived && !ev.DeliveryTime.IsZero())
		m1 = m1 || (ev.MsgID == "m1" && ev.Timestamp.Equal(time.UnixMilli(1765000000000)))
	}
	if !auto || !m1 || len(got) != 2 {
		t.Errorf("events %+v", got)
	}
	if len(refused) != 3 {
		t.Errorf("refused %v, want 3", refused)
	}
	for _, e := range refused {
		if !errors.Is(e, zns.ErrSignature) {
			t.Errorf("refused with %v, want ErrSignature", e)
		}
	}
}

func TestVerifyEventNotAnEvent(t *testing.T) {
	body := []byte(`[1,2]`)
	if _, err := zns.VerifyEvent("a", "s", body, zns.Sign("a", "s", body, "")); !errors.Is(err, zns.ErrEvent) {
		t.Errorf("signed non-event: %v", err)
	}
	if _, err := zns.VerifyEvent("a", "s", body, "mac=00"); !errors.Is(err, zns.ErrSignature) {
		t.Errorf("unsigned non-event: %v", err)
	}
	if _, err := zns.VerifyEvent("", "", body, zns.Sign("", "", body, "")); !errors.Is(err, zns.ErrSignature) {
		t.Errorf("no secret configured: %v", err)
	}
}

// FuzzVerifyEvent: any body and signature: no panic, and an event only
// when the signature is the one Sign makes.
func FuzzVerifyEvent(f *testing.F) {
	body := `{"app_id":"a","event_name":"user_received_message","timestamp":"1","message":{"msg_id":"m"}}`
	f.Add([]byte(body), zns.Sign("a", "s", []byte(body), "1"))
	f.Add([]byte(`{"event_name":"x","timestamp":12}`), "mac=")
	f.Add([]byte(`{"event_name":"x","timestamp":"-9999999999999999999"}`), "")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		ev, err := zns.VerifyEvent("a", "s", body, sig)
		if err == nil {
			if ev == nil || ev.Name == "" {
				t.Fatalf("no event: %+v", ev)
			}
			ok := false
			for _, ts := range []string{strings.Trim(tsOf(body), `"`)} {
				ok = ok || strings.EqualFold(strings.TrimSpace(sig), zns.Sign("a", "s", body, ts))
			}
			if !ok {
				t.Fatalf("accepted signature %q", sig)
			}
		}
	})
}

// tsOf returns the raw timestamp field of an event body.
func tsOf(body []byte) string {
	var v struct {
		Timestamp json.RawMessage `json:"timestamp"`
	}
	json.Unmarshal(body, &v)
	return string(v.Timestamp)
}
