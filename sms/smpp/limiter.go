package smpp

import (
	"context"
	"sync"
	"time"
)

// limiter paces submits on one bind: at most rate a second, evenly spaced
// (a token bucket of depth one), shared by every goroutine using the bind.
// After the SMSC answers ESME_RTHROTTLED, every submit waits out a pause
// and the rate is halved for a while; throttling again after the pause
// halves it again, down to a sixteenth.
type limiter struct {
	mu         sync.Mutex
	rate       float64 // per second; 0 means no cap
	next       time.Time
	pauseUntil time.Time
	slowUntil  time.Time
	factor     float64
}

func newLimiter(rate float64) *limiter { return &limiter{rate: rate, factor: 1} }

// wait blocks until the caller may send one PDU, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	at := now
	if l.pauseUntil.After(at) {
		at = l.pauseUntil
	}
	if now.After(l.slowUntil) {
		l.factor = 1
	}
	if l.rate > 0 {
		if l.next.After(at) {
			at = l.next
		}
		l.next = at.Add(time.Duration(float64(time.Second) / (l.rate * l.factor)))
	}
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// throttle reacts to ESME_RTHROTTLED: pause everyone for pause, and halve
// the rate for slowFor.
func (l *limiter) throttle(pause, slowFor time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	// Answers to submits sent before the pause began are one event: halve
	// only once per pause.
	if now.After(l.pauseUntil) && l.factor > 1.0/16 {
		if now.After(l.slowUntil) {
			l.factor = 1
		}
		l.factor /= 2
	}
	if p := now.Add(pause); p.After(l.pauseUntil) {
		l.pauseUntil = p
	}
	l.slowUntil = now.Add(slowFor)
}

// current returns the rate in force (0 when uncapped), for logs and tests.
func (l *limiter) current() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Now().After(l.slowUntil) {
		return l.rate
	}
	return l.rate * l.factor
}
