package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/text/unicode/norm"

	"congthu/internal/testenv"
)

func newLimiter(t *testing.T, limits Limits) (*Limiter, *redis.Client) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return NewLimiter(rdb, limits), rdb
}

func allow(t *testing.T, l *Limiter, id, to, text string, now time.Time) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), id, to, text, now)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	return d
}

func TestLimiterRate(t *testing.T) {
	l, _ := newLimiter(t, Limits{})
	const a, b = "+84912345678", "+84987654321"
	t0 := time.Date(2026, 3, 15, 9, 0, 0, 0, Vietnam)
	// Five different texts over 50 minutes: all allowed.
	for i := range 5 {
		now := t0.Add(time.Duration(i) * 10 * time.Minute)
		if d := allow(t, l, "", a, fmt.Sprintf("Ho so %d da duoc tiep nhan", i), now); !d.Allowed {
			t.Fatalf("message %d at %v: got %+v, want allowed", i+1, now, d)
		}
	}
	// The sixth within the hour: refused until the first leaves the window.
	d := allow(t, l, "", a, "Ho so 6", t0.Add(55*time.Minute))
	if d.Allowed || d.Reason != ReasonRateLimited || !d.RetryAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("6th message: got %+v, want rate-limited until %v", d, t0.Add(time.Hour))
	}
	// A refused message is not counted: still one free slot at 10:00.
	// Another number is independent.
	if d := allow(t, l, "", b, "Ho so 6", t0.Add(55*time.Minute)); !d.Allowed {
		t.Fatalf("other number: got %+v, want allowed", d)
	}
	// At t0+1h the first message left the (sliding) window: one more.
	if d := allow(t, l, "", a, "Ho so 6", t0.Add(time.Hour)); !d.Allowed {
		t.Fatalf("after the window slid: got %+v, want allowed", d)
	}
	d = allow(t, l, "", a, "Ho so 7", t0.Add(time.Hour+time.Minute))
	if d.Allowed || d.Reason != ReasonRateLimited || !d.RetryAt.Equal(t0.Add(time.Hour+10*time.Minute)) {
		t.Fatalf("7th: got %+v, want rate-limited until %v", d, t0.Add(time.Hour+10*time.Minute))
	}
}

func TestLimiterDuplicate(t *testing.T) {
	l, rdb := newLimiter(t, Limits{})
	const a, b = "+84912345678", "+84987654321"
	text := "Hồ sơ 000.12 của ông/bà đã được tiếp nhận"
	t0 := time.Date(2026, 3, 15, 9, 0, 0, 0, Vietnam)
	if d := allow(t, l, "n-1", a, text, t0); !d.Allowed {
		t.Fatalf("first: got %+v", d)
	}
	// Same text (after normalisation: extra spaces, NFD) 9 minutes later.
	nfd := norm.NFD.String(text)
	if nfd == text {
		t.Fatal("NFD form equals NFC form")
	}
	d := allow(t, l, "n-2", a, "  "+strings.ReplaceAll(nfd, " ", "  ")+"\n", t0.Add(9*time.Minute))
	if d.Allowed || d.Reason != ReasonDuplicate || !d.RetryAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("duplicate: got %+v, want duplicate until %v", d, t0.Add(10*time.Minute))
	}
	// Different text: allowed. Same text to another number: allowed.
	if d := allow(t, l, "n-3", a, text+" (bổ sung)", t0.Add(9*time.Minute)); !d.Allowed {
		t.Fatalf("different text: got %+v", d)
	}
	if d := allow(t, l, "n-4", b, text, t0.Add(9*time.Minute)); !d.Allowed {
		t.Fatalf("other number: got %+v", d)
	}
	// A retry of the allowed message itself (same id) is allowed and not
	// counted again.
	for range 5 {
		if d := allow(t, l, "n-1", a, text, t0.Add(9*time.Minute)); !d.Allowed {
			t.Fatalf("retry of n-1: got %+v, want allowed", d)
		}
	}
	// After 10 minutes the same text may go again.
	if d := allow(t, l, "n-5", a, text, t0.Add(10*time.Minute)); !d.Allowed {
		t.Fatalf("after 10 minutes: got %+v", d)
	}
	// a now has n-1, n-3, n-5: three counted. Two more, then refused.
	allow(t, l, "n-6", a, "x", t0.Add(11*time.Minute))
	allow(t, l, "n-7", a, "y", t0.Add(11*time.Minute))
	if d := allow(t, l, "n-8", a, "z", t0.Add(11*time.Minute)); d.Reason != ReasonRateLimited {
		t.Fatalf("6th counted: got %+v, want rate-limited (retries must not count)", d)
	}
	// Forget gives a slot back and frees the text.
	if err := l.Forget(context.Background(), "n-7", a, "y"); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, l, "n-9", a, "y", t0.Add(12*time.Minute)); !d.Allowed {
		t.Fatalf("after Forget: got %+v", d)
	}
	// No key holds the number or the text.
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "84912345678") || strings.Contains(k, "tiep") {
			t.Errorf("key %q reveals the number or text", k)
		}
	}
}

func TestLimiterDisabled(t *testing.T) {
	l, _ := newLimiter(t, Limits{Max: -1, DuplicateWindow: -1, Prefix: "t:"})
	now := time.Date(2026, 3, 15, 9, 0, 0, 0, Vietnam)
	for i := range 20 {
		if d := allow(t, l, "", "+84912345678", "same", now); !d.Allowed {
			t.Fatalf("%d: got %+v, want allowed with limits off", i, d)
		}
	}
}
