package smpp

import (
	"congthu/internal/vntime"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseReceipt(t *testing.T) {
	text := "id:1715004 sub:001 dlvrd:001 submit date:2603150830 done date:2603150831 stat:DELIVRD err:000 text:Ho so 000.12 da"
	tests := []struct {
		name    string
		sm      ShortMessage
		id      string
		stat    string
		err     string
		outcome Outcome
	}{
		{"text only", ShortMessage{ESMClass: 0x04, Message: []byte(text)}, "1715004", "DELIVRD", "000", Delivered},
		{"TLVs win", ShortMessage{ESMClass: 0x04, Message: []byte(text), TLVs: []TLV{{TagReceiptedMessageID, []byte("1A2B3C\x00")}, {TagMessageState, []byte{5}}}}, "1A2B3C", "UNDELIV", "000", PermanentFailure},
		{"TLVs only", ShortMessage{ESMClass: 0x04, TLVs: []TLV{{TagReceiptedMessageID, []byte("abc")}, {TagMessageState, []byte{3}}}}, "abc", "EXPIRED", "", TemporaryFailure},
		{"payload TLV", ShortMessage{ESMClass: 0x04, TLVs: []TLV{{TagMessagePayload, []byte("id:77 stat:REJECTD err:0B")}}}, "77", "REJECTD", "0B", PermanentFailure},
		{"lower case, odd order", ShortMessage{ESMClass: 0x04, Message: []byte("stat:enroute id:9 err:0")}, "9", "ENROUTE", "0", Pending},
		{"UDHI bit set too", ShortMessage{ESMClass: 0x44, Message: []byte("id:5 stat:UNKNOWN")}, "5", "UNKNOWN", "", TemporaryFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseReceipt(&tt.sm, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.MessageID != tt.id || r.Stat != tt.stat || r.Err != tt.err || r.Outcome() != tt.outcome {
				t.Errorf("got %q %q %q %v, want %q %q %q %v", r.MessageID, r.Stat, r.Err, r.Outcome(), tt.id, tt.stat, tt.err, tt.outcome)
			}
		})
	}
	r, _ := ParseReceipt(&tests[0].sm, nil)
	want := time.Date(2026, 3, 15, 8, 31, 0, 0, vntime.Zone)
	if !r.Done.Equal(want) {
		t.Errorf("got done %v, want %v", r.Done, want)
	}
	for _, sm := range []ShortMessage{{ESMClass: 0, Message: []byte(text)}, {ESMClass: 4, Message: []byte("hello")}} {
		if _, err := ParseReceipt(&sm, nil); !errors.Is(err, ErrNotReceipt) {
			t.Errorf("ParseReceipt(%q, esm %d): got %v, want ErrNotReceipt", sm.Message, sm.ESMClass, err)
		}
	}
}

func TestSameMessageID(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1A2B3C", "1715004", true}, // hex resp, decimal receipt
		{"1715004", "1a2b3c", true}, // the reverse
		{"0001A2B3C", "1a2b3c", true},
		{"abc", "ABC", true},
		{"1A2B3C", "1715005", false},
		{"", "", false},
		{"x-1", "x-1", true},
		{"x-1", "x-2", false},
	}
	for _, tt := range tests {
		if got := SameMessageID(tt.a, tt.b); got != tt.want {
			t.Errorf("SameMessageID(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if got, want := MessageIDForms("1A2B3C"), []string{"1a2b3c", "1715004"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MessageIDForms = %q, want %q", got, want)
	}
	if got, want := MessageIDForms("7"), []string{"7"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MessageIDForms = %q, want %q", got, want)
	}
	if got, want := MessageIDForms("100"), []string{"100", "256", "64"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MessageIDForms = %q, want %q", got, want)
	}
}

func FuzzParseReceipt(f *testing.F) {
	f.Add([]byte("id:1715004 sub:001 dlvrd:001 submit date:2603150830 done date:2603150831 stat:DELIVRD err:000 text:x"), []byte("1A\x00"))
	f.Add([]byte("id: stat:"), []byte{})
	f.Fuzz(func(t *testing.T, msg, rid []byte) {
		sm := &ShortMessage{ESMClass: 4, Message: msg, TLVs: []TLV{{TagReceiptedMessageID, rid}}}
		r, err := ParseReceipt(sm, nil)
		if err == nil && r.MessageID == "" {
			t.Fatal("receipt without id accepted")
		}
		_ = r.Outcome()
	})
}
