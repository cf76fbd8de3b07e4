// Package policy decides when an SMS may go out: quiet hours hold
// non-urgent messages overnight, and per-number limits in Redis (shared by
// every node) refuse floods and repeats. Neither drops anything: both
// answer with a time or a reason that the dispatcher turns into a status
// ("held until 07:00", "rate-limited", "duplicate").
//
// Every decision takes the current time as an argument, so tests and the
// dispatcher inject their own clock.
package policy

import (
	"congthu/internal/vntime"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Vietnam is Asia/Ho_Chi_Minh, the zone quiet hours are read in; it is
// vntime.Zone.
var Vietnam = vntime.Zone

// DefaultQuietHours is the window the issue asks for.
const DefaultQuietHours = "21:00-07:00"

// QuietHours is a daily window, in local time, during which non-urgent SMS
// are held until the window ends. Start is inclusive and End exclusive; a
// window whose End is before its Start crosses midnight (21:00-07:00).
// The zero value (Start == End) holds nothing, like "off".
type QuietHours struct {
	// Start and End are times of day, as durations since midnight, whole
	// minutes below 24h.
	Start, End time.Duration
	// Location is the clock the window is read on; nil means Vietnam.
	Location *time.Location
}

// ErrQuietHours is wrapped by every error of ParseQuietHours.
var ErrQuietHours = errors.New(`quiet hours: want "HH:MM-HH:MM" or "off"`)

// ParseQuietHours reads "21:00-07:00" (spaces around the dash and an en
// dash allowed) or "off". The times are in Vietnam; Start and End must
// differ.
func ParseQuietHours(s string) (QuietHours, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return QuietHours{Location: Vietnam}, nil
	}
	a, b, ok := strings.Cut(strings.Replace(s, "–", "-", 1), "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("%w: %q has no dash", ErrQuietHours, s)
	}
	start, err := parseClock(strings.TrimSpace(a))
	if err != nil {
		return QuietHours{}, fmt.Errorf("%w: start: %v", ErrQuietHours, err)
	}
	end, err := parseClock(strings.TrimSpace(b))
	if err != nil {
		return QuietHours{}, fmt.Errorf("%w: end: %v", ErrQuietHours, err)
	}
	if start == end {
		return QuietHours{}, fmt.Errorf(`%w: start and end are both %s (use "off" for none)`, ErrQuietHours, clock(start))
	}
	return QuietHours{Start: start, End: end, Location: Vietnam}, nil
}

// parseClock reads "HH:MM" (00:00 to 23:59; "7:00" allowed).
func parseClock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, okh := digits(h)
	mm, okm := digits(m)
	if !okh || !okm || hh > 23 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

func digits(s string) (int, bool) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Off reports whether the window is empty.
func (q QuietHours) Off() bool { return q.Start == q.End }

// String returns the form ParseQuietHours reads: "21:00-07:00" or "off".
func (q QuietHours) String() string {
	if q.Off() {
		return "off"
	}
	return clock(q.Start) + "-" + clock(q.End)
}

// In reports whether t falls inside the window.
func (q QuietHours) In(t time.Time) bool {
	if q.Off() {
		return false
	}
	tod := sinceMidnight(t.In(q.loc()))
	if q.Start < q.End {
		return tod >= q.Start && tod < q.End
	}
	return tod >= q.Start || tod < q.End
}

// Next tells when a non-urgent SMS due at now may go out: now itself and
// held false outside the window; inside it, the window's end (07:00 the
// next morning for a message at 21:00, 07:00 the same day for one at
// 06:59) and held true. The result is in the window's Location.
func (q QuietHours) Next(now time.Time) (sendAt time.Time, held bool) {
	if !q.In(now) {
		return now, false
	}
	local := now.In(q.loc())
	y, mo, d := local.Date()
	end := time.Date(y, mo, d, int(q.End/time.Hour), int(q.End%time.Hour/time.Minute), 0, 0, q.loc())
	if !end.After(local) {
		end = time.Date(y, mo, d+1, int(q.End/time.Hour), int(q.End%time.Hour/time.Minute), 0, 0, q.loc())
	}
	return end, true
}

// Before is the latest moment not after t outside the window: t itself
// outside it; inside it, a minute before the window began (20:59 for a
// reminder due at 23:00 with quiet hours 21:00-07:00), so that a message
// about something at a fixed time comes early rather than late.
func (q QuietHours) Before(t time.Time) time.Time {
	if !q.In(t) {
		return t
	}
	local := t.In(q.loc())
	y, mo, d := local.Date()
	start := time.Date(y, mo, d, int(q.Start/time.Hour), int(q.Start%time.Hour/time.Minute), 0, 0, q.loc())
	if start.After(local) {
		start = time.Date(y, mo, d-1, int(q.Start/time.Hour), int(q.Start%time.Hour/time.Minute), 0, 0, q.loc())
	}
	return start.Add(-time.Minute)
}

// SendAt is Next for a message that may be urgent: urgent messages bypass
// quiet hours and go at now.
func (q QuietHours) SendAt(now time.Time, urgent bool) (sendAt time.Time, held bool) {
	if urgent {
		return now, false
	}
	return q.Next(now)
}

func (q QuietHours) loc() *time.Location {
	if q.Location == nil {
		return Vietnam
	}
	return q.Location
}

func sinceMidnight(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}
