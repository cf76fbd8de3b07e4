package route

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"congthu/sms/httpsms"
	"congthu/sms/smpp"
	"congthu/sms/smpp/smpptest"
)

func dialSMSC(t *testing.T, addr string, onReceipt func(context.Context, smpp.Receipt) error) *smpp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := smpp.Dial(ctx, smpp.Options{
		Addr: addr, SystemID: "congthu", Password: "secret", Source: "UBND-HN",
		ResponseTimeout: 2 * time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		MaxAttempts: 1, RetryBackoff: 10 * time.Millisecond, OnReceipt: onReceipt,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// brandnameAPI is an httptest stand-in for an HTTP SMS provider.
func brandnameAPI(t *testing.T) (*httpsms.Provider, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"id":"api-%d"}`, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	p, err := httpsms.New(httpsms.Options{URL: srv.URL, Sender: "UBND-HN", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p, &n
}

// TestFailoverSMPPToHTTP: an SMSC that answers every submit with
// ESME_RSYSERR as primary, the HTTP API as secondary.
func TestFailoverSMPPToHTTP(t *testing.T) {
	sick := smpptest.Start(t, "--status", "0x08")
	receipts := make(chan smpp.Receipt, 10)
	client := dialSMSC(t, sick.Addr, func(ctx context.Context, r smpp.Receipt) error {
		receipts <- r
		return nil
	})
	api, apiCalls := brandnameAPI(t)
	clk := &fakeClock{t: time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)}
	r := New(NewSMPP("smsc", client), NewHTTP("api", api), Options{
		FailuresToSwitch: 3, Cooldown: time.Minute, AttemptTimeout: 5 * time.Second, Now: clk.now,
	})
	ctx := context.Background()
	msg := Message{To: "+84912345678", Text: "Ho so 000.12 da duoc tiep nhan", Reference: "n-1"}

	// Each of the first three fails at the SMSC and goes out through the API.
	for i := 1; i <= 3; i++ {
		res, err := r.Send(ctx, msg)
		if err != nil || res.Provider != "api" || res.ProviderID != fmt.Sprintf("api-%d", i) {
			t.Fatalf("message %d: got %+v, %v, want sent through api", i, res, err)
		}
		if n := sick.Settled("NACK", i); n != i {
			t.Fatalf("message %d: SMSC answered %d submits, want %d", i, n, i)
		}
	}
	// The circuit is open: the SMSC sees nothing more.
	for i := 4; i <= 6; i++ {
		if res, err := r.Send(ctx, msg); err != nil || res.Provider != "api" {
			t.Fatalf("message %d: got %+v, %v", i, res, err)
		}
	}
	if n := sick.Settled("SUBMIT", 3); n != 3 {
		t.Fatalf("SMSC got %d submits while the circuit was open, want 3", n)
	}
	// After the cooldown one message probes the SMSC, fails, and goes
	// through the API; the next one does not probe.
	clk.add(time.Minute)
	if res, err := r.Send(ctx, msg); err != nil || res.Provider != "api" || sick.Settled("SUBMIT", 4) != 4 {
		t.Fatalf("probe: got %+v, %v, SMSC submits %d, want 4", res, err, sick.Count("SUBMIT"))
	}
	r.Send(ctx, msg)
	if n := sick.Settled("SUBMIT", 4); n != 4 {
		t.Fatalf("SMSC got %d submits, want 4 (probed twice in one cooldown)", n)
	}
	if got := apiCalls.Load(); got != 8 {
		t.Fatalf("API got %d messages, want 8", got)
	}

	// The SMSC comes back healthy on the same port; the client rebinds by
	// itself, and the next probe after the cooldown closes the circuit.
	sick.Stop()
	port := strings.TrimPrefix(sick.Addr, "127.0.0.1:")
	healthy := smpptest.Start(t, "--port", port, "--dlr", "delivered")
	clk.add(time.Minute)
	probe, err := r.Send(ctx, msg)
	if err != nil || probe.Provider != "smsc" || probe.ProviderID == "" || len(probe.MessageIDs) != 1 {
		t.Fatalf("probe of the healthy SMSC: got %+v, %v", probe, err)
	}
	if h := r.Health(); h[0].State != "closed" {
		t.Fatalf("health after good probe: %+v", h)
	}
	next, err := r.Send(ctx, msg)
	if err != nil || next.Provider != "smsc" {
		t.Fatalf("after recovery: got %+v, %v", next, err)
	}
	if n := healthy.Settled("ACK", 2); n != 2 {
		t.Fatalf("healthy SMSC acknowledged %d submits, want 2", n)
	}
	// Receipts map back to the messages by provider and id (the SMSC
	// gives ids in hex in the response and in decimal in the receipt).
	for range 2 {
		select {
		case rc := <-receipts:
			got := SMPPReceipt("smsc", rc)
			if got.Outcome != smpp.Delivered || got.Provider != probe.Provider ||
				!smpp.SameMessageID(got.ProviderID, probe.ProviderID) && !smpp.SameMessageID(got.ProviderID, next.ProviderID) {
				t.Fatalf("receipt %+v matches neither %q nor %q, or is not delivered", got, probe.ProviderID, next.ProviderID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no receipt")
		}
	}
}

// TestBadNumberDoesNotSwitch: an SMSC that answers ESME_RINVDSTADR is
// working; the message fails for good and the API is never used.
func TestBadNumberDoesNotSwitch(t *testing.T) {
	smsc := smpptest.Start(t, "--status", "0x0B")
	client := dialSMSC(t, smsc.Addr, nil)
	api, apiCalls := brandnameAPI(t)
	r := New(NewSMPP("smsc", client), NewHTTP("api", api), Options{FailuresToSwitch: 3, Cooldown: time.Minute})
	for i := 1; i <= 5; i++ {
		_, err := r.Send(context.Background(), Message{To: "+84912345678", Text: "Ho so da duoc tiep nhan"})
		var se *SendError
		var st *smpp.StatusError
		if !errors.As(err, &se) || se.Fault != FaultMessage || se.Temporary || !errors.Is(err, ErrPermanent) ||
			!errors.As(err, &st) || st.Status != smpp.StatusInvDstAdr {
			t.Fatalf("message %d: got %v, want a permanent message fault with ESME_RINVDSTADR", i, err)
		}
	}
	if n := apiCalls.Load(); n != 0 {
		t.Fatalf("API got %d messages, want 0", n)
	}
	if n := smsc.Settled("NACK", 5); n != 5 {
		t.Fatalf("SMSC answered %d, want 5", n)
	}
	if h := r.Health(); h[0].State != "closed" || h[0].Failures != 0 {
		t.Fatalf("health: %+v", h)
	}
}

// TestFailoverHTTPToSMPP: the other way round, an API answering 503 as
// primary and the SMSC as secondary; 400 from the API is a message fault.
func TestFailoverHTTPToSMPP(t *testing.T) {
	smsc := smpptest.Start(t)
	client := dialSMSC(t, smsc.Addr, nil)
	var status atomic.Int32
	status.Store(503)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, `{"error":"E"}`)
	}))
	defer srv.Close()
	api, err := httpsms.New(httpsms.Options{URL: srv.URL, Sender: "UBND-HN"})
	if err != nil {
		t.Fatal(err)
	}
	r := New(NewHTTP("api", api), NewSMPP("smsc", client), Options{FailuresToSwitch: 2, Cooldown: time.Minute})
	msg := Message{To: "+84912345678", Text: "Hồ sơ của ông/bà đã được tiếp nhận"}
	for range 3 {
		res, err := r.Send(context.Background(), msg)
		if err != nil || res.Provider != "smsc" || res.Parts != 1 {
			t.Fatalf("got %+v, %v, want sent through the SMSC", res, err)
		}
	}
	if h := r.Health(); h[0].State != "open" {
		t.Fatalf("health: %+v", h)
	}
	status.Store(400)
	r2 := New(NewHTTP("api", api), NewSMPP("smsc", client), Options{})
	_, err = r2.Send(context.Background(), msg)
	var se *SendError
	if !errors.As(err, &se) || se.Fault != FaultMessage || se.Temporary || se.Provider != "api" {
		t.Fatalf("400: got %v, want a permanent message fault from api", err)
	}
	if n := smsc.Settled("SUBMIT", 3); n != 3 {
		t.Fatalf("SMSC got %d submits, want 3", n)
	}
}
