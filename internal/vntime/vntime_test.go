package vntime

import (
	"testing"
	"time"
)

func TestZone(t *testing.T) {
	name, off := time.Date(2026, 7, 1, 0, 0, 0, 0, Zone).Zone()
	if name != "ICT" || off != 7*3600 {
		t.Fatalf("zone = %s %d, want ICT %d", name, off, 7*3600)
	}
	// Midnight UTC is 07:00 in Vietnam, winter and summer alike.
	for _, m := range []time.Month{time.January, time.July} {
		if h := In(time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC)).Hour(); h != 7 {
			t.Errorf("%s: hour = %d, want 7", m, h)
		}
	}
}
