package sms

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Encoding is the alphabet a message is sent in.
type Encoding int

// The two alphabets the gateway sends in.
const (
	// GSM7 is the GSM 7-bit default alphabet with its extension table
	// (3GPP TS 23.038 §6.2.1); SMPP data_coding 0x00.
	GSM7 Encoding = iota + 1
	// UCS2 is UCS-2 / UTF-16BE (3GPP TS 23.038 §6.2.3); SMPP data_coding 0x08.
	UCS2
)

// String returns "GSM-7" or "UCS-2", the names the HTTP API shows.
func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM-7"
	case UCS2:
		return "UCS-2"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// DefaultMaxParts is the part limit Encode applies when Options.MaxParts is 0.
const DefaultMaxParts = 4

// maxUserData is the TP-User-Data of one SMS: 140 octets (TS 23.040 §9.2.3.24).
const maxUserData = 140

// Errors of Encode.
var (
	// ErrEmpty: there is no text to send.
	ErrEmpty = errors.New("sms: empty message")
	// ErrInvalidUTF8: the text is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("sms: text is not valid UTF-8")
	// ErrTooManyParts is matched (errors.Is) by every *TooManyPartsError.
	ErrTooManyParts = errors.New("sms: too many parts")
)

// TooManyPartsError says a text needs more parts than allowed.
type TooManyPartsError struct {
	Encoding Encoding // alphabet the text needs
	Parts    int      // parts the text needs
	Max      int      // parts allowed
}

// Error reports the counts, e.g. "sms: message needs 5 UCS-2 parts, at most 4 allowed".
func (e *TooManyPartsError) Error() string {
	return fmt.Sprintf("sms: message needs %d %s parts, at most %d allowed", e.Parts, e.Encoding, e.Max)
}

// Is makes errors.Is(err, ErrTooManyParts) true.
func (e *TooManyPartsError) Is(target error) bool { return target == ErrTooManyParts }

// Options tune Encode.
type Options struct {
	// Fold removes Vietnamese diacritics first (see Fold).
	Fold bool
	// MaxParts is the most parts allowed; 0 means DefaultMaxParts.
	MaxParts int
	// Ref16 sizes parts for a 16-bit concatenation reference (IEI 0x08,
	// 7-octet UDH: 152 septets or 66 units a part) instead of the 8-bit
	// one (IEI 0x00, 6-octet UDH: 153 septets or 67 units a part).
	Ref16 bool
	// UCS2 forces UCS-2 even when the text fits GSM-7.
	UCS2 bool
}

// Encoded is a text ready to send.
type Encoded struct {
	// Encoding is GSM7 whenever the whole text fits the GSM 7-bit alphabet
	// (with its extension table), else UCS2.
	Encoding Encoding
	// Parts holds each part's payload, without UDH: for GSM7 unpacked
	// septets, one per octet, escape pairs never split; for UCS2 UTF-16BE,
	// surrogate pairs never split. One part means no concatenation.
	Parts [][]byte
	// Units is the length of the whole text in septets (GSM7, escape
	// pairs count two) or UTF-16 code units (UCS2).
	Units int
	// Ref16 tells the sender to use the 16-bit reference UDH (IEI 0x08);
	// the parts were sized for it.
	Ref16 bool
}

// Encode picks the alphabet for text (GSM-7 when it fits, else UCS-2),
// encodes it and splits it into parts: one part holds up to 160 septets or
// 70 UCS-2 units; a longer text is cut into parts of 153 septets or 67 units
// (152/66 with Options.Ref16), each to be sent with a concatenation UDH
// (ConcatUDH).
//
// When the text needs more than the allowed parts, Encode returns the full
// Encoded value together with a *TooManyPartsError, so a caller can still
// report the counts.
func Encode(text string, opts Options) (Encoded, error) {
	if !utf8.ValidString(text) {
		return Encoded{}, ErrInvalidUTF8
	}
	if opts.Fold {
		text = Fold(text)
	}
	if text == "" {
		return Encoded{}, ErrEmpty
	}
	enc := Encoded{Encoding: GSM7, Ref16: opts.Ref16}
	payload, err := EncodeGSM7(text)
	if err != nil || opts.UCS2 {
		enc.Encoding = UCS2
		payload = EncodeUCS2(text)
	}
	enc.Units = len(payload)
	if enc.Encoding == UCS2 {
		enc.Units /= 2
	}
	enc.Parts, err = Split(enc.Encoding, payload, opts.Ref16)
	if err != nil {
		return Encoded{}, err
	}
	max := opts.MaxParts
	if max <= 0 {
		max = DefaultMaxParts
	}
	if len(enc.Parts) > max {
		return enc, &TooManyPartsError{Encoding: enc.Encoding, Parts: len(enc.Parts), Max: max}
	}
	return enc, nil
}

// PartLimits returns how many septets (GSM7) or UTF-16 units (UCS2) fit in
// a single unconcatenated SMS and in one part of a concatenated one. A UDH
// of h octets leaves 140-h octets: (140-h)*8/7 septets or (140-h)/2 units
// (TS 23.040 §9.2.3.16, §9.2.3.24).
func PartLimits(e Encoding, ref16 bool) (single, multi int) {
	h := 6
	if ref16 {
		h = 7
	}
	if e == GSM7 {
		return maxUserData * 8 / 7, (maxUserData - h) * 8 / 7
	}
	return maxUserData / 2, (maxUserData - h) / 2
}

// Split cuts a whole payload (unpacked GSM-7 septets or UTF-16BE, as from
// EncodeGSM7 or EncodeUCS2) into parts sized by PartLimits. It never
// separates an escape pair or a surrogate pair. It fails only for UCS-2
// payloads of odd length.
func Split(e Encoding, payload []byte, ref16 bool) ([][]byte, error) {
	single, multi := PartLimits(e, ref16)
	unit := 1
	if e == UCS2 {
		unit = 2
		if len(payload)%2 != 0 {
			return nil, errors.New("sms: UCS-2 payload of odd length")
		}
	}
	if len(payload) <= single*unit {
		return [][]byte{payload}, nil
	}
	limit := multi * unit
	var parts [][]byte
	for len(payload) > 0 {
		n := min(limit, len(payload))
		if n < len(payload) && splitsPair(e, payload, n) {
			n -= unit
		}
		parts = append(parts, payload[:n:n])
		payload = payload[n:]
	}
	return parts, nil
}

// splitsPair reports whether cutting payload before offset n would separate
// an escape pair (GSM7) or a surrogate pair (UCS2).
func splitsPair(e Encoding, payload []byte, n int) bool {
	if e == UCS2 {
		hi := uint16(payload[n-2])<<8 | uint16(payload[n-1])
		return hi >= 0xD800 && hi <= 0xDBFF
	}
	// Walk from the start: an escape opens a pair with the next septet.
	for i := 0; i < n; i++ {
		if payload[i] == esc {
			if i == n-1 {
				return true
			}
			i++
		}
	}
	return false
}

// Decode turns one payload (a part or a whole text) back into text.
func Decode(e Encoding, payload []byte) (string, error) {
	switch e {
	case GSM7:
		return DecodeGSM7(payload)
	case UCS2:
		return DecodeUCS2(payload)
	}
	return "", fmt.Errorf("sms: unknown encoding %d", int(e))
}

// ConcatUDH returns the user data header for part seq (1-based) of total
// parts of the message with reference ref: 05 00 03 ref total seq with an
// 8-bit reference (IEI 0x00, TS 23.040 §9.2.3.24.1), or 06 08 04 refHi refLo
// total seq with a 16-bit one (IEI 0x08, §9.2.3.24.8).
func ConcatUDH(ref uint16, total, seq int, ref16 bool) []byte {
	if ref16 {
		return []byte{0x06, 0x08, 0x04, byte(ref >> 8), byte(ref), byte(total), byte(seq)}
	}
	return []byte{0x05, 0x00, 0x03, byte(ref), byte(total), byte(seq)}
}

// Count tells which alphabet text needs and in how many parts, with the
// default limits. encoding is "GSM-7" or "UCS-2". When the text needs more
// than DefaultMaxParts parts, err is a *TooManyPartsError and encoding and
// parts are still set.
func Count(text string, fold bool) (encoding string, parts int, err error) {
	enc, err := Encode(text, Options{Fold: fold})
	if enc.Encoding == 0 {
		return "", 0, err
	}
	return enc.Encoding.String(), len(enc.Parts), err
}
