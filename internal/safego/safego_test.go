package safego

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestGoRecoversAndReports(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{&buf, &mu}, nil))
	var wg sync.WaitGroup
	var got error
	Go(&wg, log, "worker", func() { panic("boom") }, func(err error) { got = err })
	wg.Wait()
	if got == nil || !strings.Contains(got.Error(), "worker: panic: boom") {
		t.Fatalf("onPanic got %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "panic in worker") {
		t.Fatalf("log: %s", buf.String())
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
