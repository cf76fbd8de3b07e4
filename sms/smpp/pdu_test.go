package smpp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// samplePDUs are valid PDUs, also the seeds of FuzzDecode.
func samplePDUs() []*PDU {
	return []*PDU{
		{ID: EnquireLink, Seq: 1},
		{ID: EnquireLinkResp, Seq: 1},
		{ID: Unbind, Seq: 7},
		{ID: UnbindResp, Seq: 7},
		{ID: GenericNack, Status: StatusInvCmdID, Seq: 9},
		{ID: BindTransceiver, Seq: 1, Body: &Bind{SystemID: "congthu", Password: "secret", SystemType: "VMA", InterfaceVersion: 0x34}},
		{ID: BindTransmitter, Seq: 2, Body: &Bind{SystemID: "congthu", Password: "pw", InterfaceVersion: 0x34, AddrTON: 1, AddrNPI: 1, AddressRange: "84*"}},
		{ID: BindReceiver, Seq: 3, Body: &Bind{SystemID: "x", InterfaceVersion: 0x34}},
		{ID: BindTransceiverResp, Seq: 1, Body: &BindResp{SystemID: "SMSC", TLVs: []TLV{{TagSCInterfaceVersion, []byte{0x34}}}}},
		{ID: BindTransmitterResp, Status: StatusInvPaswd, Seq: 2, Body: &BindResp{}},
		{ID: SubmitSM, Seq: 42, Body: &ShortMessage{
			SourceTON: 5, Source: "UBND-HN", DestTON: 1, DestNPI: 1, Dest: "84912345678",
			ESMClass: ESMClassUDHI, RegisteredDelivery: 1, DataCoding: 8,
			Message: append([]byte{5, 0, 3, 1, 2, 1}, 0x1E, 0xD3),
		}},
		{ID: SubmitSMResp, Seq: 42, Body: &SMResp{MessageID: "1A2B3C"}},
		{ID: SubmitSMResp, Status: StatusThrottled, Seq: 43, Body: &SMResp{}},
		{ID: DeliverSM, Seq: 5, Body: &ShortMessage{
			SourceTON: 1, SourceNPI: 1, Source: "84912345678", Dest: "UBND-HN", ESMClass: ESMClassReceipt,
			Message: []byte("id:1715004 sub:001 dlvrd:001 submit date:2603150830 done date:2603150831 stat:DELIVRD err:000 text:Ho so"),
			TLVs:    []TLV{{TagReceiptedMessageID, []byte("1A2B3C\x00")}, {TagMessageState, []byte{2}}},
		}},
		{ID: DeliverSMResp, Seq: 5, Body: &SMResp{}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range samplePDUs() {
		t.Run(p.ID.String(), func(t *testing.T) {
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(% X): %v", b, err)
			}
			if !reflect.DeepEqual(got, p) {
				t.Fatalf("got %#v, want %#v", got, p)
			}
			if f, err := ReadFrame(bytes.NewReader(append(b, 0xEE))); err != nil || !bytes.Equal(f, b) {
				t.Fatalf("ReadFrame = % X, %v; want % X", f, err, b)
			}
		})
	}
}

// TestWireBytes checks encodings against octets written out by hand from
// SMPP 3.4 §4.
func TestWireBytes(t *testing.T) {
	tests := []struct {
		name string
		pdu  *PDU
		hex  string
	}{
		{"enquire_link", &PDU{ID: EnquireLink, Seq: 1}, "00000010 00000015 00000000 00000001"},
		{"generic_nack", &PDU{ID: GenericNack, Status: StatusInvCmdID, Seq: 0x0A}, "00000010 80000000 00000003 0000000A"},
		{"bind_transceiver", &PDU{ID: BindTransceiver, Seq: 1, Body: &Bind{SystemID: "ab", Password: "pw", InterfaceVersion: 0x34}},
			"0000001B 00000009 00000000 00000001 616200 707700 00 34 00 00 00"},
		{"submit_sm_resp", &PDU{ID: SubmitSMResp, Seq: 2, Body: &SMResp{MessageID: "A1"}}, "00000013 80000004 00000000 00000002 413100"},
		{"submit_sm", &PDU{ID: SubmitSM, Seq: 3, Body: &ShortMessage{SourceTON: 5, Source: "UB", DestTON: 1, DestNPI: 1, Dest: "849", RegisteredDelivery: 1, Message: []byte("hi")}},
			"00000028 00000004 00000000 00000003 00 05 00 554200 01 01 38343900 00 00 00 00 00 01 00 00 00 02 6869"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pdu.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.hex); !bytes.Equal(got, want) {
				t.Fatalf("got % X, want % X", got, want)
			}
		})
	}
}

func TestDecodeTolerates(t *testing.T) {
	// submit_sm_resp with no body at all: accepted, empty message_id.
	p, err := Decode(mustHex(t, "00000010 80000004 00000000 00000005"))
	if err != nil {
		t.Fatalf("empty submit_sm_resp: %v", err)
	}
	if r, ok := p.Body.(*SMResp); !ok || r.MessageID != "" {
		t.Fatalf("got body %#v, want empty *SMResp", p.Body)
	}
	// A failed submit_sm_resp with a garbled body: the status is what counts.
	p, err = Decode(mustHex(t, "00000012 80000004 00000058 00000006 4142"))
	if err != nil || p.Status != StatusThrottled {
		t.Fatalf("got %v, %v; want ESME_RTHROTTLED", p, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
		seq  uint32
	}{
		// Cases from "bind without NUL" on get the right command_length
		// set below, so that only the body is at fault.
		{"short header", "00000010 000000", ErrBadLength, 0},
		{"length too small", "0000000C 00000015 00000000 00000001", ErrBadLength, 1},
		{"length mismatch", "00000020 00000015 00000000 00000002", ErrBadLength, 2},
		{"unknown command", "00000010 00000777 00000000 00000003", ErrUnknownCommand, 3},
		{"bind without NUL", "00000014 00000009 00000000 00000004 61626364", ErrMalformed, 4},
		{"system_id too long", "00000025 00000009 00000000 00000005 6161616161616161616161616161616161616100 00 00 00 00 00 00", ErrMalformed, 5},
		{"submit_sm truncated message", "00000023 00000004 00000000 00000006 00 05 00 554200 01 01 38343900 00 00 00 00 00 01 00 00 00 09 6869", ErrMalformed, 6},
		{"truncated TLV", "00000025 00000004 00000000 00000007 00 05 00 554200 01 01 38343900 00 00 00 00 00 01 00 00 00 00 0424", ErrMalformed, 7},
		{"ok submit_sm_resp without NUL", "00000012 80000004 00000000 00000008 4142", ErrMalformed, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.hex)
			if tt.want == ErrMalformed {
				binary.BigEndian.PutUint32(b, uint32(len(b)))
			}
			p, err := Decode(b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if p != nil && p.Seq != tt.seq {
				t.Errorf("got seq %d, want %d", p.Seq, tt.seq)
			}
		})
	}
}

func TestReadFrameBounds(t *testing.T) {
	for _, h := range []string{"00000004 00000015 00000000 00000001", "00010001 00000004 00000000 00000001", "FFFFFFFF 00000004 00000000 00000001"} {
		if _, err := ReadFrame(bytes.NewReader(mustHex(t, h))); !errors.Is(err, ErrBadLength) {
			t.Errorf("ReadFrame(%s): got %v, want ErrBadLength", h, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(mustHex(t, "00000014 00000015 00000000 00000001 00"))); err == nil {
		t.Error("ReadFrame of a truncated PDU: got no error")
	}
}

func TestMarshalRejects(t *testing.T) {
	tests := []*PDU{
		{ID: BindTransceiver, Body: &Bind{SystemID: strings.Repeat("a", 16)}},
		{ID: BindTransceiver, Body: &Bind{Password: "123456789"}},
		{ID: SubmitSM, Body: &ShortMessage{Dest: strings.Repeat("1", 21)}},
		{ID: SubmitSM, Body: &ShortMessage{Message: make([]byte, 255)}},
		{ID: SubmitSM, Body: &ShortMessage{Source: "a\x00b"}},
	}
	for i, p := range tests {
		if b, err := p.Marshal(); err == nil {
			t.Errorf("case %d: got % X, want an error", i, b)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, p := range samplePDUs() {
		b, err := p.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(mustHex(f, "00000010 80000004 00000000 00000005"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes, and decodes to the same thing.
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("Marshal of decoded %#v: %v", p, err)
		}
		p2, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(Marshal(p)): %v", err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("got %#v, want %#v", p2, p)
		}
		if _, err := ReadFrame(bytes.NewReader(b)); err != nil {
			t.Fatalf("ReadFrame rejects what Decode accepts: %v", err)
		}
	})
}
