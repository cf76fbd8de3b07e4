package policy

import (
	"errors"
	"testing"
	"time"
)

// at is a wall-clock time in Vietnam on 15/03/2026 plus days.
func at(days, h, m int) time.Time {
	return time.Date(2026, 3, 15+days, h, m, 0, 0, Vietnam)
}

func TestQuietHoursNext(t *testing.T) {
	night, err := ParseQuietHours("21:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	noon, err := ParseQuietHours("12:00-13:00")
	if err != nil {
		t.Fatal(err)
	}
	off, err := ParseQuietHours("off")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		q        QuietHours
		now      time.Time
		urgent   bool
		wantAt   time.Time
		wantHeld bool
	}{
		{"20:59 sends", night, at(0, 20, 59), false, at(0, 20, 59), false},
		{"20:59:59.9 sends", night, at(0, 20, 59).Add(59*time.Second + 900*time.Millisecond), false, at(0, 20, 59).Add(59*time.Second + 900*time.Millisecond), false},
		{"21:00 held until 07:00 next day", night, at(0, 21, 0), false, at(1, 7, 0), true},
		{"23:59 held until 07:00 next day", night, at(0, 23, 59), false, at(1, 7, 0), true},
		{"00:00 held until 07:00 same day", night, at(0, 0, 0), false, at(0, 7, 0), true},
		{"06:59 held until 07:00 same day", night, at(0, 6, 59), false, at(0, 7, 0), true},
		{"07:00 sends", night, at(0, 7, 0), false, at(0, 7, 0), false},
		{"urgent at 23:00 bypasses", night, at(0, 23, 0), true, at(0, 23, 0), false},
		{"urgent at 06:59 bypasses", night, at(0, 6, 59), true, at(0, 6, 59), false},
		{"off sends at 23:00", off, at(0, 23, 0), false, at(0, 23, 0), false},
		{"zero value is off", QuietHours{}, at(0, 2, 0), false, at(0, 2, 0), false},
		{"12:00-13:00 at 11:59 sends", noon, at(0, 11, 59), false, at(0, 11, 59), false},
		{"12:00-13:00 at 12:00 held until 13:00", noon, at(0, 12, 0), false, at(0, 13, 0), true},
		{"12:00-13:00 at 12:59 held until 13:00", noon, at(0, 12, 59), false, at(0, 13, 0), true},
		{"12:00-13:00 at 13:00 sends", noon, at(0, 13, 0), false, at(0, 13, 0), false},
		{"12:00-13:00 at 23:00 sends", noon, at(0, 23, 0), false, at(0, 23, 0), false},
		// The clock is read in Vietnam whatever the caller's zone: 14:30
		// UTC is 21:30 ICT.
		{"UTC instant inside the window", night, time.Date(2026, 3, 15, 14, 30, 0, 0, time.UTC), false, at(1, 7, 0), true},
		{"UTC instant before the window", night, time.Date(2026, 3, 15, 13, 59, 0, 0, time.UTC), false, time.Date(2026, 3, 15, 13, 59, 0, 0, time.UTC), false},
		// Month and year ends roll over.
		{"31/12 22:00 held until 01/01 07:00", night, time.Date(2026, 12, 31, 22, 0, 0, 0, Vietnam), false, time.Date(2027, 1, 1, 7, 0, 0, 0, Vietnam), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotAt, gotHeld := tt.q.SendAt(tt.now, tt.urgent)
			if !gotAt.Equal(tt.wantAt) || gotHeld != tt.wantHeld {
				t.Errorf("got %v held=%v, want %v held=%v", gotAt, gotHeld, tt.wantAt, tt.wantHeld)
			}
			if !tt.urgent {
				a, h := tt.q.Next(tt.now)
				if !a.Equal(gotAt) || h != gotHeld {
					t.Errorf("Next and SendAt(urgent=false) differ: %v %v vs %v %v", a, h, gotAt, gotHeld)
				}
			}
		})
	}
}

func TestParseQuietHours(t *testing.T) {
	good := []struct {
		in         string
		start, end time.Duration
		str        string
	}{
		{"21:00-07:00", 21 * time.Hour, 7 * time.Hour, "21:00-07:00"},
		{" 21:00 - 07:00 ", 21 * time.Hour, 7 * time.Hour, "21:00-07:00"},
		{"21:30–6:45", 21*time.Hour + 30*time.Minute, 6*time.Hour + 45*time.Minute, "21:30-06:45"},
		{"12:00-13:00", 12 * time.Hour, 13 * time.Hour, "12:00-13:00"},
		{"00:00-23:59", 0, 23*time.Hour + 59*time.Minute, "00:00-23:59"},
		{"off", 0, 0, "off"},
		{"OFF", 0, 0, "off"},
	}
	for _, tt := range good {
		q, err := ParseQuietHours(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if q.Start != tt.start || q.End != tt.end || q.String() != tt.str {
			t.Errorf("%q: got %v-%v %q, want %v-%v %q", tt.in, q.Start, q.End, q.String(), tt.start, tt.end, tt.str)
		}
	}
	for _, in := range []string{"", "21:00", "21:00-", "-07:00", "24:00-07:00", "21:60-07:00", "21:00-07:0",
		"21-07", "2100-0700", "21:00-21:00", "a1:00-07:00", "+1:00-07:00", "21:00-07:00-08:00", "on", "21:00 07:00", "123:00-07:00"} {
		if q, err := ParseQuietHours(in); err == nil {
			t.Errorf("%q: accepted as %v", in, q)
		} else if !errors.Is(err, ErrQuietHours) {
			t.Errorf("%q: error %v does not wrap ErrQuietHours", in, err)
		}
	}
}

func FuzzParseQuietHours(f *testing.F) {
	for _, s := range []string{"21:00-07:00", "off", "12:00-13:00", "7:00-21:00", "21:00–07:00", "", "24:00-00:00", "99:99-00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuietHours(s)
		if err != nil {
			if !errors.Is(err, ErrQuietHours) {
				t.Fatalf("error %v does not wrap ErrQuietHours", err)
			}
			return
		}
		if q.Start < 0 || q.Start >= 24*time.Hour || q.End < 0 || q.End >= 24*time.Hour || q.Start%time.Minute != 0 || q.End%time.Minute != 0 {
			t.Fatalf("%q: out of range %v-%v", s, q.Start, q.End)
		}
		// String round-trips.
		q2, err := ParseQuietHours(q.String())
		if err != nil || q2.Start != q.Start || q2.End != q.End {
			t.Fatalf("%q: String %q does not round-trip: %v %v", s, q.String(), q2, err)
		}
		// Next never goes back, holds at most a day, and lands outside
		// the window.
		now := time.Date(2026, 3, 15, 0, 0, 0, 0, Vietnam).Add(time.Duration(len(s)) * 17 * time.Minute)
		sendAt, held := q.Next(now)
		if sendAt.Before(now) || sendAt.Sub(now) > 24*time.Hour || held != q.In(now) || q.In(sendAt) {
			t.Fatalf("%q at %v: Next = %v, %v", s, now, sendAt, held)
		}
	})
}

func TestQuietHoursBefore(t *testing.T) {
	q, err := ParseQuietHours("21:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, Vietnam)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ in, want string }{
		{"2026-12-06 12:00", "2026-12-06 12:00"},
		{"2026-12-06 23:00", "2026-12-06 20:59"},
		{"2026-12-07 06:30", "2026-12-06 20:59"},
		{"2026-12-06 21:00", "2026-12-06 20:59"},
		{"2026-12-06 07:00", "2026-12-06 07:00"},
	} {
		if got := q.Before(at(c.in)); !got.Equal(at(c.want)) {
			t.Errorf("Before(%s) = %s, want %s", c.in, got.In(Vietnam).Format("2006-01-02 15:04"), c.want)
		}
	}
	off, _ := ParseQuietHours("off")
	if got := off.Before(at("2026-12-06 23:00")); !got.Equal(at("2026-12-06 23:00")) {
		t.Errorf("off: %s", got)
	}
}
