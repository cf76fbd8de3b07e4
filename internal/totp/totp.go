// Package totp is the time-based one-time password of RFC 6238 (HOTP,
// RFC 4226, over 30-second time steps, HMAC-SHA1, six digits): what
// authenticator apps compute from the secret of an otpauth:// URI. The
// operator console uses it as the second factor of sign-in.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Step is the time step (RFC 6238 section 4: X = 30 seconds).
const Step = 30 * time.Second

// Digits is the length of a code.
const Digits = 6

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a random 160-bit secret (RFC 4226 section 4 asks
// for at least 128), base32 without padding as otpauth URIs carry it.
func NewSecret() string {
	k := make([]byte, 20)
	rand.Read(k)
	return b32.EncodeToString(k)
}

// decode reads a base32 secret, any case, spaces and padding ignored.
func decode(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.NewReplacer(" ", "", "=", "").Replace(secret))
	k, err := b32.DecodeString(s)
	if err != nil || len(k) < 10 {
		return nil, fmt.Errorf("totp: bad secret")
	}
	return k, nil
}

// StepAt is the time step counter T of t (RFC 6238 section 4.2, T0 = 0).
func StepAt(t time.Time) int64 { return t.Unix() / int64(Step/time.Second) }

// Code is the HOTP value of key for counter (RFC 4226 section 5.3:
// HMAC-SHA1, dynamic truncation, modulo 10^Digits).
func Code(key []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", Digits, v%1000000)
}

// Verify checks code against secret at now, accepting the step before
// and after for clock drift (RFC 6238 section 5.2). It returns the step
// that matched, which the caller records so that a code is used once.
func Verify(secret, code string, now time.Time) (step int64, ok bool) {
	key, err := decode(secret)
	code = strings.TrimSpace(code)
	if err != nil || len(code) != Digits {
		return 0, false
	}
	t := StepAt(now)
	for _, s := range []int64{t, t - 1, t + 1} {
		if subtle.ConstantTimeCompare([]byte(Code(key, s)), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// CodeAt returns the code of secret at t (for tests and tools).
func CodeAt(secret string, t time.Time) (string, error) {
	key, err := decode(secret)
	if err != nil {
		return "", err
	}
	return Code(key, StepAt(t)), nil
}

// URI is the otpauth:// URI of secret for account at issuer, as
// authenticator apps read it (often from a QR code).
func URI(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(Digits))
	v.Set("period", fmt.Sprint(int(Step/time.Second)))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + v.Encode()
}
