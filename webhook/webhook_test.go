package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"x","status":"delivered"}`)
	now := time.Unix(1773540000, 0)
	sig := Sign("secret", now.Unix(), body)
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte("1773540000." + string(body)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); sig != want {
		t.Fatalf("Sign: got %s, want %s", sig, want)
	}
	for _, c := range []struct {
		name, secret, ts, sig string
		body                  []byte
		ok                    bool
	}{
		{"good", "secret", "1773540000", sig, body, true},
		{"other secret", "other", "1773540000", sig, body, false},
		{"changed body", "secret", "1773540000", sig, []byte(`{}`), false},
		{"changed timestamp", "secret", "1773540001", sig, body, false},
		{"stale", "secret", "1773530000", Sign("secret", 1773530000, body), body, false},
		{"bad timestamp", "secret", "x", sig, body, false},
	} {
		err := Verify(c.secret, c.ts, c.sig, c.body, now, 5*time.Minute)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrBadSignature)) {
			t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestBackoffCoversADay(t *testing.T) {
	var total time.Duration
	n := 0
	for total < MaxAge {
		n++
		total += Backoff(n)
	}
	if n < 20 || n > 40 || Backoff(1) < 10*time.Second || Backoff(30) > 66*time.Minute {
		t.Errorf("%d attempts in 24 h; first %v, 30th %v", n, Backoff(1), Backoff(30))
	}
}
