package phone

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// Reasons a phone number is refused. Parse wraps one of them in a
// *Error; test with errors.Is. Their texts are fit to show to an API
// client (for example in a 422 response).
var (
	// ErrInvalid: the input is not a phone number at all.
	ErrInvalid = errors.New("not a valid Vietnamese phone number")
	// ErrNotVietnamese: a valid number of another country.
	ErrNotVietnamese = errors.New("not a Vietnamese phone number")
	// ErrNotMobile: a valid Vietnamese number that cannot receive SMS
	// (a landline or a service number).
	ErrNotMobile = errors.New("not a mobile number")
)

// Error tells why Parse refused its input. It never holds the
// input itself, so it is safe to log.
type Error struct {
	// Reason is one of ErrInvalid, ErrNotVietnamese, ErrNotMobile.
	Reason error
}

// Error returns the reason's text, fit to show to an API client.
func (e *Error) Error() string { return e.Reason.Error() }

// Unwrap returns the reason so that errors.Is(err, ErrNotMobile) works.
func (e *Error) Unwrap() error { return e.Reason }

// maxPhoneInput bounds the input handed to the phone number library.
const maxPhoneInput = 64

// Parse parses a Vietnamese mobile number written as `0912 345 678`,
// `0912.345.678`, `+84 912 345 678`, `84912345678` or `0912345678` and
// returns it in E.164 form (`+84912345678`). Only Vietnamese mobile numbers
// (9 digits after +84, starting with 3, 5, 7, 8 or 9) are accepted; anything
// else gives a *Error.
//
// The phone number library takes about 20 µs a number (it is built on
// regular expressions). Whether a Vietnamese number of 9 digits after +84
// is a valid mobile depends only on its leading digits (the library's
// patterns for them discriminate on at most three), so the usual forms
// are read here and the library is asked once per 5-digit prefix; its
// answer is remembered (for at most maxPrefixes prefixes).
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxPhoneInput {
		return "", &Error{Reason: ErrInvalid}
	}
	// Only digits and the usual separators: the library would otherwise
	// pick a number out of surrounding text ("call 0912...").
	for _, c := range s {
		if !(c >= '0' && c <= '9') && !strings.ContainsRune(" .-()+/", c) {
			return "", &Error{Reason: ErrInvalid}
		}
	}
	nsn, ok := mobileForm(s)
	if !ok {
		return parseLibrary(s)
	}
	key := nsn[:5]
	if v, ok := prefixes.Load(key); ok {
		if reason, _ := v.(error); reason != nil {
			return "", &Error{Reason: reason}
		}
		return "+84" + nsn, nil
	}
	// The verdict on the number in its canonical form is the prefix's.
	e164, err := parseLibrary("+84" + nsn)
	var pe *Error
	switch {
	case err == nil && e164 == "+84"+nsn:
		rememberPrefix(key, nil)
	case errors.As(err, &pe) && (pe.Reason == ErrInvalid || pe.Reason == ErrNotMobile):
		rememberPrefix(key, pe.Reason)
	}
	return e164, err
}

// maxPrefixes bounds the prefixes Parse remembers: every 5-digit
// prefix of a mobile network digit (50,000; the library accepts about
// 37,700 of them), so the memory never fills up, and stays under 4 MB.
const maxPrefixes = 50000

var (
	prefixes    sync.Map // 5 digits after +84 -> nil (valid mobile) or a reason
	prefixCount atomic.Int64
)

func rememberPrefix(key string, reason error) {
	if prefixCount.Load() >= maxPrefixes {
		return
	}
	if _, loaded := prefixes.LoadOrStore(key, reason); !loaded {
		prefixCount.Add(1)
	}
}

// mobileForm returns the 9 digits after +84 when s, without its
// separators (space . - ( ) /), is 0XXXXXXXXX, 84XXXXXXXXX or
// +84XXXXXXXXX with X digits and the first of the nine a mobile network
// digit (3, 5, 7, 8, 9). Anything else goes to the library as it is.
func mobileForm(s string) (string, bool) {
	var b [16]byte
	n := 0
	plus := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(b) {
				return "", false
			}
			b[n] = c
			n++
		case c == '+':
			if i != 0 {
				return "", false
			}
			plus = true
		}
	}
	d := string(b[:n])
	switch {
	case !plus && n == 10 && d[0] == '0':
		d = d[1:]
	case n == 11 && d[:2] == "84":
		d = d[2:]
	default:
		return "", false
	}
	if !strings.ContainsRune("35789", rune(d[0])) {
		return "", false
	}
	return d, true
}

// parseLibrary is Parse through the phone number library.
func parseLibrary(s string) (string, error) {
	num, err := phonenumbers.Parse(s, "VN")
	if err != nil {
		return "", &Error{Reason: ErrInvalid}
	}
	if num.GetCountryCode() != 84 {
		if phonenumbers.IsValidNumber(num) {
			return "", &Error{Reason: ErrNotVietnamese}
		}
		return "", &Error{Reason: ErrInvalid}
	}
	if num.GetExtension() != "" || num.GetItalianLeadingZero() {
		return "", &Error{Reason: ErrInvalid}
	}
	if !phonenumbers.IsValidNumberForRegion(num, "VN") {
		return "", &Error{Reason: ErrInvalid}
	}
	nsn := fmt.Sprint(num.GetNationalNumber())
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", &Error{Reason: ErrNotMobile}
	}
	// DOMAIN.md: 9 digits after +84, prefixes 3x, 5x, 7x, 8x, 9x.
	if len(nsn) != 9 || !strings.ContainsRune("35789", rune(nsn[0])) {
		return "", &Error{Reason: ErrNotMobile}
	}
	return "+84" + nsn, nil
}

// Mask hides the middle of a phone number for logs: `+84912345678` becomes
// `+8491*****78`. It keeps at most the first five and the last two
// characters and never reveals more than half of the input.
func Mask(e164 string) string {
	r := []rune(e164)
	n := len(r)
	head, tail := 5, 2
	if n < 12 {
		// Short or odd input: keep less, so at most half shows.
		head, tail = n/4, n/4
	}
	var b strings.Builder
	b.WriteString(string(r[:head]))
	b.WriteString(strings.Repeat("*", n-head-tail))
	b.WriteString(string(r[n-tail:]))
	return b.String()
}
