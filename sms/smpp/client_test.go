package smpp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/sms"
	"congthu/sms/smpp/smpptest"
)

const to = "+84912345678"

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestBindAndGSM7Submit(t *testing.T) {
	tests := []struct {
		name, source, ton, npi, src string
	}{
		{"brandname", "UBND-HN", "5", "0", "UBND-HN"},
		{"number", "+842438251234", "1", "1", "842438251234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smpptest.Start(t, "--password", "secret")
			c := dial(t, s.Addr, func(o *Options) { o.Source = tt.source })
			s.WaitEvent(t, 5*time.Second, "BIND", smpptest.Event{"cmd": "bind_transceiver", "system_id": "congthu", "password": "secret", "system_type": "VMA", "version": "34", "status": "0x00"})

			const text = "Ho so 000.12 da duoc tiep nhan {OK} 100€"
			res, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: text})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := sms.EncodeGSM7(text)
			ev := s.WaitEvent(t, 5*time.Second, "SUBMIT", nil)
			wantEv := smpptest.Event{"src": tt.src, "ton": tt.ton, "npi": tt.npi, "dest": "84912345678", "dest_ton": "1", "dest_npi": "1",
				"dcs": "0x00", "esm": "0x00", "rd": "1", "sm": hex.EncodeToString(want)}
			for k, v := range wantEv {
				if ev[k] != v {
					t.Errorf("SMSC got %s=%s, want %s", k, ev[k], v)
				}
			}
			ack := s.WaitEvent(t, 5*time.Second, "ACK", nil)
			if len(res.MessageIDs) != 1 || res.MessageIDs[0] != ack["id"] || res.Encoding != sms.GSM7 {
				t.Errorf("got %+v, want one GSM-7 part with id %s", res, ack["id"])
			}
		})
	}
}

func TestUCS2MultipartSubmit(t *testing.T) {
	text := strings.Repeat("Hồ sơ của ông/bà đã được tiếp nhận. ", 4) // 144 UTF-16 units: 3 parts
	for _, ref16 := range []bool{false, true} {
		t.Run(fmt.Sprintf("ref16=%v", ref16), func(t *testing.T) {
			s := smpptest.Start(t)
			c := dial(t, s.Addr, func(o *Options) { o.Ref16 = ref16 })
			res, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: text})
			if err != nil {
				t.Fatal(err)
			}
			if res.Encoding != sms.UCS2 || res.Parts != 3 || len(res.MessageIDs) != 3 {
				t.Fatalf("got %+v, want 3 UCS-2 parts", res)
			}
			subs := s.WaitEvents(t, 5*time.Second, "SUBMIT", nil, 3)
			acks := s.WaitEvents(t, 5*time.Second, "ACK", nil, 3)
			var joined strings.Builder
			var ref string
			for i, ev := range subs {
				if ev["dcs"] != "0x08" || ev["esm"] != "0x40" || ev["rd"] != "1" {
					t.Errorf("part %d: dcs=%s esm=%s rd=%s, want 0x08 0x40 1", i+1, ev["dcs"], ev["esm"], ev["rd"])
				}
				sm, _ := hex.DecodeString(ev["sm"])
				var udh []byte
				if ref16 {
					udh = []byte{0x06, 0x08, 0x04}
				} else {
					udh = []byte{0x05, 0x00, 0x03}
				}
				hl := int(sm[0]) + 1
				if !strings.HasPrefix(string(sm), string(udh)) || sm[hl-2] != 3 || int(sm[hl-1]) != i+1 {
					t.Fatalf("part %d: UDH % X, want % X .. 03 %02X", i+1, sm[:hl], udh, i+1)
				}
				if r := hex.EncodeToString(sm[3 : hl-2]); ref == "" {
					ref = r
				} else if r != ref {
					t.Errorf("part %d: reference %s, want %s as in part 1", i+1, r, ref)
				}
				_, multi := sms.PartLimits(sms.UCS2, ref16)
				if n := (len(sm) - hl) / 2; n > multi {
					t.Errorf("part %d: %d units, limit %d", i+1, n, multi)
				}
				part, err := sms.DecodeUCS2(sm[hl:])
				if err != nil {
					t.Fatal(err)
				}
				joined.WriteString(part)
				if res.MessageIDs[i] != acks[i]["id"] {
					t.Errorf("part %d: id %s, SMSC gave %s", i+1, res.MessageIDs[i], acks[i]["id"])
				}
			}
			if joined.String() != text {
				t.Errorf("SMSC parts join to %q, want %q", joined.String(), text)
			}
		})
	}
}

func TestDeliveryReceipts(t *testing.T) {
	tests := []struct {
		name    string
		flags   []string
		mode    BindMode
		stat    string
		outcome Outcome
	}{
		{"delivered", []string{"--dlr", "delivered"}, Transceiver, "DELIVRD", Delivered},
		{"undeliverable", []string{"--dlr", "undeliverable"}, Transceiver, "UNDELIV", PermanentFailure},
		{"expired", []string{"--dlr", "expired"}, Transceiver, "EXPIRED", TemporaryFailure},
		{"text only, decimal id", []string{"--dlr", "delivered", "--dlr-no-tlv"}, Transceiver, "DELIVRD", Delivered},
		{"transmitter+receiver", []string{"--dlr", "delivered"}, TransmitterReceiver, "DELIVRD", Delivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := smpptest.Start(t, tt.flags...)
			got := make(chan Receipt, 1)
			c := dial(t, s.Addr, func(o *Options) {
				o.Mode = tt.mode
				o.OnReceipt = func(ctx context.Context, r Receipt) error { got <- r; return nil }
			})
			if tt.mode == TransmitterReceiver {
				s.WaitEvent(t, 5*time.Second, "BIND", smpptest.Event{"cmd": "bind_transmitter"})
				s.WaitEvent(t, 5*time.Second, "BIND", smpptest.Event{"cmd": "bind_receiver"})
			}
			res, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "Ho so da duoc tiep nhan"})
			if err != nil {
				t.Fatal(err)
			}
			var r Receipt
			select {
			case r = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("no receipt")
			}
			if !SameMessageID(res.MessageIDs[0], r.MessageID) {
				t.Errorf("receipt for %q, want %q", r.MessageID, res.MessageIDs[0])
			}
			if r.Stat != tt.stat || r.Outcome() != tt.outcome || r.Source != "84912345678" {
				t.Errorf("got stat %s outcome %v source %s, want %s %v 84912345678", r.Stat, r.Outcome(), r.Source, tt.stat, tt.outcome)
			}
			dlr := s.WaitEvent(t, 5*time.Second, "DLR", nil)
			s.WaitEvent(t, 5*time.Second, "DLR_RESP", smpptest.Event{"conn": dlr["conn"], "status": "0x00"})
		})
	}
}

func TestReceiptRefusedIsRedeliverable(t *testing.T) {
	s := smpptest.Start(t, "--dlr", "delivered")
	c := dial(t, s.Addr, func(o *Options) {
		o.OnReceipt = func(ctx context.Context, r Receipt) error { return errors.New("store down") }
	})
	if _, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	s.WaitEvent(t, 5*time.Second, "DLR_RESP", smpptest.Event{"status": "0x64"})
}

func TestThrottled(t *testing.T) {
	s := smpptest.Start(t, "--throttle-above", "5")
	c := dial(t, s.Addr, func(o *Options) { o.Rate = 100; o.MaxAttempts = 20 })
	const n = 15
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.Submit(ctxT(t, 20*time.Second), Message{To: to, Text: fmt.Sprintf("msg %02d", i)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s.WaitEvents(t, 5*time.Second, "ACK", nil, n)
	if len(s.Events("NACK", smpptest.Event{"status": "0x58"})) == 0 {
		t.Fatal("SMSC never throttled; the test proves nothing")
	}
	if r := c.Rate(); r > 50 || r < 100.0/16 {
		t.Errorf("rate after throttling %v, want halved at least once (50 or less, at least 100/16)", r)
	}
	for i := range n {
		sm := hex.EncodeToString([]byte(fmt.Sprintf("msg %02d", i)))
		if acks := s.Events("ACK", smpptest.Event{"sm": sm}); len(acks) != 1 {
			t.Errorf("msg %02d acknowledged %d times, want 1", i, len(acks))
		}
	}
}

func TestTemporaryAndPermanentStatus(t *testing.T) {
	t.Run("queue full then ok", func(t *testing.T) {
		s := smpptest.Start(t, "--msgqfull-first", "2")
		c := dial(t, s.Addr, nil)
		res, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "x"})
		if err != nil || len(res.MessageIDs) != 1 {
			t.Fatalf("got %+v, %v; want success after retries", res, err)
		}
		s.WaitEvent(t, 5*time.Second, "ACK", nil) // the SMSC prints after it answers
		if n := len(s.Events("NACK", smpptest.Event{"status": "0x14"})); n != 2 {
			t.Errorf("got %d ESME_RMSGQFUL answers, want 2", n)
		}
	})
	t.Run("queue full beyond MaxAttempts", func(t *testing.T) {
		s := smpptest.Start(t, "--status", "0x14")
		c := dial(t, s.Addr, func(o *Options) { o.MaxAttempts = 3 })
		_, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "x"})
		var se *StatusError
		if !errors.As(err, &se) || se.Status != StatusMsgQFul || !se.Temporary() || errors.Is(err, ErrPermanent) {
			t.Fatalf("got %v, want temporary ESME_RMSGQFUL", err)
		}
		s.WaitEvents(t, 5*time.Second, "NACK", nil, 3)
		if n := len(s.Events("SUBMIT", nil)); n != 3 {
			t.Errorf("SMSC got %d submits, want 3", n)
		}
	})
	for _, st := range []string{"0x0B", "0x0A", "0x01", "0x04"} {
		t.Run("permanent "+st, func(t *testing.T) {
			s := smpptest.Start(t, "--status", st)
			c := dial(t, s.Addr, nil)
			_, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "x"})
			var se *StatusError
			if !errors.Is(err, ErrPermanent) || !errors.As(err, &se) || fmt.Sprintf("0x%02X", uint32(se.Status)) != st {
				t.Fatalf("got %v, want permanent %s", err, st)
			}
			s.WaitEvent(t, 5*time.Second, "NACK", nil)
			if n := len(s.Events("SUBMIT", nil)); n != 1 {
				t.Errorf("SMSC got %d submits, want 1 (no retry)", n)
			}
		})
	}
}

func TestEmptySubmitResp(t *testing.T) {
	s := smpptest.Start(t, "--empty-resp")
	c := dial(t, s.Addr, nil)
	res, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: "x"})
	if err != nil || len(res.MessageIDs) != 1 || res.MessageIDs[0] != "" {
		t.Fatalf("got %+v, %v; want one empty id", res, err)
	}
}

// TestDropMidWindow: the SMSC drops the connection with submits
// outstanding. Every message must end accepted (after the caller resends
// the ones whose outcome is unknown), and none may reach the SMSC again
// once it was acknowledged.
func TestDropMidWindow(t *testing.T) {
	s := smpptest.Start(t, "--drop-after", "5")
	c := dial(t, s.Addr, nil)
	const n = 30
	type outcome struct {
		ids      []string
		unknowns int
	}
	results := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := ctxT(t, 30*time.Second)
			for {
				res, err := c.Submit(ctx, Message{To: to, Text: fmt.Sprintf("drop %02d", i)})
				if errors.Is(err, ErrUnknownOutcome) {
					results[i].unknowns++
					continue // the dispatcher's choice: resend
				}
				if err != nil {
					t.Errorf("msg %d: %v", i, err)
					return
				}
				results[i].ids = res.MessageIDs
				return
			}
		})
	}
	wg.Wait()
	s.WaitEvent(t, 5*time.Second, "DROP", nil)
	s.WaitEvents(t, 5*time.Second, "ACK", nil, n)
	if binds := s.Events("BIND", nil); len(binds) < 2 {
		t.Errorf("got %d binds, want a re-bind after the drop", len(binds))
	}
	unknown := 0
	seen := map[string]int{}
	for i, r := range results {
		unknown += r.unknowns
		sm := hex.EncodeToString([]byte(fmt.Sprintf("drop %02d", i)))
		acks := s.Events("ACK", smpptest.Event{"sm": sm})
		if len(acks) != 1 {
			t.Errorf("msg %d acknowledged by the SMSC %d times, want exactly 1", i, len(acks))
			continue
		}
		if len(r.ids) != 1 || r.ids[0] != acks[0]["id"] {
			t.Errorf("msg %d: client reports %v, SMSC acknowledged %s", i, r.ids, acks[0]["id"])
		}
		seen[acks[0]["id"]]++
		// Sent again only after an unknown outcome; a copy the SMSC
		// read after the drop is logged as DISCARD.
		reached := len(s.Events("SUBMIT", smpptest.Event{"sm": sm})) + len(s.Events("DISCARD", smpptest.Event{"sm": sm}))
		if reached < 1 || reached > 1+r.unknowns {
			t.Errorf("msg %d reached the SMSC %d times with %d unknown outcomes", i, reached, r.unknowns)
		}
	}
	if unknown == 0 {
		t.Error("no submit had an unknown outcome: the drop was not mid-window")
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("id %s reported for %d messages", id, k)
		}
	}
	t.Logf("%d submits ended with an unknown outcome and were resent", unknown)
}

func TestEnquireLinkBothWays(t *testing.T) {
	s := smpptest.Start(t, "--enquire-interval", "0.2")
	dial(t, s.Addr, func(o *Options) { o.EnquireLinkInterval = 150 * time.Millisecond })
	s.WaitEvents(t, 5*time.Second, "ENQUIRE_LINK", smpptest.Event{"conn": "1"}, 2)      // ours, answered
	s.WaitEvents(t, 5*time.Second, "ENQUIRE_LINK_RESP", smpptest.Event{"conn": "1"}, 2) // the SMSC's, answered by us
	if n := len(s.Events("BIND", nil)); n != 1 {
		t.Errorf("got %d binds, want 1: answered enquire_links must keep the bind", n)
	}
}

func TestEnquireLinkUnansweredDropsBind(t *testing.T) {
	s := smpptest.Start(t, "--no-enquire-resp")
	c := dial(t, s.Addr, func(o *Options) {
		o.EnquireLinkInterval = 100 * time.Millisecond
		o.ResponseTimeout = 300 * time.Millisecond
	})
	s.WaitEvent(t, 5*time.Second, "CLOSED", smpptest.Event{"conn": "1"})
	s.WaitEvent(t, 5*time.Second, "BIND", smpptest.Event{"conn": "2"})
	if _, err := c.Submit(ctxT(t, 5*time.Second), Message{To: to, Text: "after rebind"}); err != nil {
		t.Fatal(err)
	}
}

func TestGarbageGetsGenericNack(t *testing.T) {
	s := smpptest.Start(t, "--garbage-after-bind")
	c := dial(t, s.Addr, nil)
	s.WaitEvent(t, 5*time.Second, "GENERIC_NACK", smpptest.Event{"seq": "999", "status": "0x03"})
	if _, err := c.Submit(ctxT(t, 5*time.Second), Message{To: to, Text: "still bound"}); err != nil {
		t.Fatal(err)
	}
}

func TestCloseUnbinds(t *testing.T) {
	s := smpptest.Start(t)
	c := dial(t, s.Addr, nil)
	if !c.Bound() {
		t.Error("Bound() = false after Dial")
	}
	if err := c.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.WaitEvent(t, 5*time.Second, "UNBIND", smpptest.Event{"conn": "1"})
	if c.Bound() {
		t.Error("Bound() = true after Close")
	}
	if _, err := c.Submit(ctxT(t, time.Second), Message{To: to, Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: got %v, want ErrClosed", err)
	}
}

func TestBindRefused(t *testing.T) {
	s := smpptest.Start(t, "--password", "other")
	_, err := Dial(ctxT(t, 5*time.Second), Options{Addr: s.Addr, SystemID: "congthu", Password: "secret", Source: "UBND-HN"})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != StatusInvPaswd {
		t.Fatalf("got %v, want ESME_RINVPASWD", err)
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	s := smpptest.Start(t)
	c := dial(t, s.Addr, nil)
	for _, m := range []Message{{To: "0912345678", Text: "x"}, {To: "+84abc", Text: "x"}, {To: to, Text: ""}, {To: to, Text: strings.Repeat("ư", 500)}} {
		if _, err := c.Submit(ctxT(t, time.Second), m); err == nil {
			t.Errorf("Submit(%q, %d chars): got no error", m.To, len(m.Text))
		}
	}
	if n := len(s.Events("SUBMIT", nil)); n != 0 {
		t.Errorf("SMSC got %d submits, want 0", n)
	}
}

func TestSourceAddr(t *testing.T) {
	tests := []struct {
		in       string
		ton, npi byte
		addr     string
		ok       bool
	}{
		{"UBND-HN", 5, 0, "UBND-HN", true},
		{"So TP Ha Noi", 0, 0, "", false}, // 12 characters
		{"+84912345678", 1, 1, "84912345678", true},
		{"8419001234", 1, 1, "8419001234", true},
		{"", 0, 0, "", false},
		{"Sở", 0, 0, "", false},
	}
	for _, tt := range tests {
		ton, npi, addr, err := sourceAddr(tt.in)
		if (err == nil) != tt.ok || ton != tt.ton || npi != tt.npi || addr != tt.addr {
			t.Errorf("sourceAddr(%q) = %d %d %q %v, want %d %d %q ok=%v", tt.in, ton, npi, addr, err, tt.ton, tt.npi, tt.addr, tt.ok)
		}
	}
}

// TestRateCap: 12 submits from 12 goroutines at a cap of 20/s take at
// least 11 intervals of 50ms, and the SMSC sees them spaced out.
func TestRateCap(t *testing.T) {
	s := smpptest.Start(t)
	c := dial(t, s.Addr, func(o *Options) { o.Rate = 20 })
	const n = 12
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.Submit(ctxT(t, 10*time.Second), Message{To: to, Text: fmt.Sprintf("rate %d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 11*50*time.Millisecond {
		t.Errorf("%d submits at 20/s took %v, want at least 550ms", n, d)
	}
	if got := len(s.WaitEvents(t, 5*time.Second, "ACK", nil, n)); got != n {
		t.Errorf("got %d acks, want %d", got, n)
	}
}
