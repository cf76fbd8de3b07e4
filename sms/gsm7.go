package sms

import (
	"errors"
	"fmt"
)

// esc is the escape to the extension table (3GPP TS 23.038 §6.2.1.1).
const esc = 0x1B

// gsmBasic is the GSM 7-bit default alphabet, 3GPP TS 23.038 §6.2.1,
// indexed by septet. 0x1B is the escape and maps to no character here.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', -1, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt is the default alphabet extension table, 3GPP TS 23.038 §6.2.1.1:
// each character is sent as the escape 0x1B followed by the septet here.
var gsmExt = map[byte]rune{
	0x0A: '\f', // page break
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

var (
	gsmFromRune    = map[rune]byte{}
	gsmExtFromRune = map[rune]byte{}
)

func init() {
	for i, r := range gsmBasic {
		if r >= 0 {
			gsmFromRune[r] = byte(i)
		}
	}
	for s, r := range gsmExt {
		gsmExtFromRune[r] = s
	}
}

// GSMSeptets returns how many septets r takes in the GSM 7-bit default
// alphabet: 1 for the basic table, 2 for the extension table (escape pair),
// 0 if r cannot be written in GSM-7 at all.
func GSMSeptets(r rune) int {
	if _, ok := gsmFromRune[r]; ok {
		return 1
	}
	if _, ok := gsmExtFromRune[r]; ok {
		return 2
	}
	return 0
}

// ErrNotGSM7 means the text holds a character outside the GSM 7-bit default
// alphabet and its extension table.
var ErrNotGSM7 = errors.New("sms: character not in the GSM 7-bit alphabet")

// EncodeGSM7 writes text as unpacked septets, one septet per octet, with
// extension characters as escape pairs (0x1B, septet). This is the form SMPP
// carries with data_coding 0x00. It fails with ErrNotGSM7 on the first
// character the alphabet lacks.
func EncodeGSM7(text string) ([]byte, error) {
	out := make([]byte, 0, len(text))
	for i, r := range text {
		if s, ok := gsmFromRune[r]; ok {
			out = append(out, s)
			continue
		}
		if s, ok := gsmExtFromRune[r]; ok {
			out = append(out, esc, s)
			continue
		}
		return nil, fmt.Errorf("%w: %U at byte %d", ErrNotGSM7, r, i)
	}
	return out, nil
}

// DecodeGSM7 reads unpacked septets (one per octet) back into text. An
// escape followed by a septet the extension table lacks decodes as the basic
// table's character for that septet, as TS 23.038 §6.2.1.1 tells receivers
// to do; a lone trailing escape or an octet above 0x7F is an error.
func DecodeGSM7(septets []byte) (string, error) {
	out := make([]rune, 0, len(septets))
	for i := 0; i < len(septets); i++ {
		s := septets[i]
		if s > 0x7F {
			return "", fmt.Errorf("sms: octet 0x%02X at %d is not a septet", s, i)
		}
		if s != esc {
			out = append(out, gsmBasic[s])
			continue
		}
		i++
		if i == len(septets) {
			return "", errors.New("sms: escape septet at the end of the text")
		}
		n := septets[i]
		if n > 0x7F {
			return "", fmt.Errorf("sms: octet 0x%02X at %d is not a septet", n, i)
		}
		if r, ok := gsmExt[n]; ok {
			out = append(out, r)
		} else if n == esc {
			out = append(out, ' ') // 0x1B 0x1B: reserved, shown as a space
		} else {
			out = append(out, gsmBasic[n])
		}
	}
	return string(out), nil
}

// PackSeptets packs septets (one per octet, high bit ignored) into the
// 7-bit packed form of 3GPP TS 23.038 §6.1.2.1.1, as used on the air
// interface and by SMPP peers that want packed GSM. fillBits (0–6) is the
// number of zero bits to put first, to align the text on a septet boundary
// after a user data header (TS 23.040 §9.2.3.24): for a 6-octet UDH it is 1.
//
// "hellohello" packs to E8 32 9B FD 46 97 D9 EC 37.
func PackSeptets(septets []byte, fillBits int) []byte {
	nbits := fillBits + 7*len(septets)
	out := make([]byte, (nbits+7)/8)
	bit := fillBits
	for _, s := range septets {
		v := uint16(s&0x7F) << (bit % 8)
		out[bit/8] |= byte(v)
		if bit%8 > 1 {
			out[bit/8+1] |= byte(v >> 8)
		}
		bit += 7
	}
	return out
}

// UnpackSeptets is the inverse of PackSeptets: it reads n septets from
// packed after skipping fillBits bits. It returns an error when packed is
// too short for n septets.
func UnpackSeptets(packed []byte, n, fillBits int) ([]byte, error) {
	if n < 0 || fillBits < 0 || fillBits > 6 || fillBits+7*n > 8*len(packed) {
		return nil, fmt.Errorf("sms: %d packed octets cannot hold %d septets after %d fill bits", len(packed), n, fillBits)
	}
	out := make([]byte, n)
	bit := fillBits
	for i := range out {
		v := uint16(packed[bit/8])
		if bit/8+1 < len(packed) {
			v |= uint16(packed[bit/8+1]) << 8
		}
		out[i] = byte(v>>(bit%8)) & 0x7F
		bit += 7
	}
	return out, nil
}
