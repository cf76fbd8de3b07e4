package smpp

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLogger collects client logs and shows them when the test fails
// (goroutines may still log after the test ends, so not via t.Log).
func testLogger(t testing.TB) *slog.Logger {
	w := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			w.mu.Lock()
			t.Logf("client log:\n%s", w.b.String())
			w.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *logBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// dial binds a client to s with fast timers for tests.
func dial(t testing.TB, addr string, mod func(*Options)) *Client {
	t.Helper()
	o := Options{
		Addr: addr, SystemID: "congthu", Password: "secret", SystemType: "VMA",
		Source: "UBND-HN", ResponseTimeout: 2 * time.Second,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second,
		RetryBackoff: 20 * time.Millisecond, ThrottlePause: 200 * time.Millisecond,
		Logger: testLogger(t),
	}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}
