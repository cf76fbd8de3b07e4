package totp

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

// The SHA-1 test vectors of RFC 6238 appendix B (eight digits there; the
// last six are the six-digit code).
func TestRFC6238Vectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		got := Code(key, StepAt(time.Unix(tc.unix, 0)))
		if want := tc.want[2:]; got != want {
			t.Errorf("T=%d: got %s, want %s", tc.unix, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	now := time.Unix(1111111111, 0)
	for _, tc := range []struct {
		code string
		ok   bool
	}{
		{"050471", true}, // this step
		{Code([]byte("12345678901234567890"), StepAt(now)-1), true}, // the one before
		{Code([]byte("12345678901234567890"), StepAt(now)+2), false},
		{"000000", false},
		{"05047", false},
		{"", false},
		{"0504711", false},
	} {
		if _, ok := Verify(secret, tc.code, now); ok != tc.ok {
			t.Errorf("Verify(%q): got %v, want %v", tc.code, ok, tc.ok)
		}
	}
	if _, ok := Verify(strings.ToLower(secret), "050471", now); !ok {
		t.Error("a lower-case secret is refused")
	}
	if _, ok := Verify("not base32!", "050471", now); ok {
		t.Error("a bad secret verified")
	}
}

func TestNewSecretAndURI(t *testing.T) {
	s := NewSecret()
	if len(s) != 32 {
		t.Fatalf("secret %q: got %d characters, want 32", s, len(s))
	}
	if _, err := CodeAt(s, time.Now()); err != nil {
		t.Fatal(err)
	}
	u := URI("congthu", "an@hanoi.gov.vn", s)
	if !strings.HasPrefix(u, "otpauth://totp/congthu:an@hanoi.gov.vn?") || !strings.Contains(u, "secret="+s) {
		t.Errorf("URI %q", u)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "123456")
	f.Fuzz(func(t *testing.T, secret, code string) {
		Verify(secret, code, time.Unix(1111111111, 0))
	})
}
