package sms

import (
	"errors"
	"unicode/utf16"
)

// EncodeUCS2 writes text as UTF-16BE, the form SMPP carries with
// data_coding 0x08. Characters outside the Basic Multilingual Plane (emoji)
// become surrogate pairs: strictly speaking UCS-2 (TS 23.038 §6.2.3) cannot
// hold them, but handsets decode the octets as UTF-16 and show them.
func EncodeUCS2(text string) []byte {
	units := utf16.Encode([]rune(text))
	out := make([]byte, 2*len(units))
	for i, u := range units {
		out[2*i] = byte(u >> 8)
		out[2*i+1] = byte(u)
	}
	return out
}

// DecodeUCS2 reads UTF-16BE back into text. An odd length is an error;
// unpaired surrogates decode as U+FFFD.
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("sms: UCS-2 text of odd length")
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(units)), nil
}
