package config

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false},
		{"none", 0, false},
		{" None ", 0, false},
		{"1048576", 1 << 20, false},
		{"2G", 2 << 30, false},
		{"2g", 2 << 30, false},
		{"500M", 500 << 20, false},
		{"500 MB", 500 << 20, false},
		{"750KiB", 750 << 10, false},
		{"1T", 1 << 40, false},
		{"10b", 10, false},
		{"8388607T", 8388607 << 40, false},
		{"8388608T", 0, true}, // 2^63 overflows
		{"99999999999999999999", 0, true},
		{"", 0, true},
		{"G", 0, true},
		{"-1", 0, true},
		{"1.5G", 0, true},
		{"2X", 0, true},
		{"default", 0, true},
	} {
		got, err := ParseSize(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseSize(%q): got %d, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q): got %d, %v, want %d", c.in, got, err, c.want)
		}
	}
	for n, want := range map[int64]string{0: "none", 1500: "1500", 2 << 30: "2G", 1536 << 20: "1536M", 1024: "1K"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d): got %q, want %q", n, got, want)
		}
	}
}

// FuzzParseSize: ParseSize never panics, never returns a negative size,
// and reads back what FormatSize writes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "none", "2G", "500 MB", "750KiB", "8388607T", "8388608T", "1.5G", "-1", " 7 k "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !strings.Contains(err.Error(), "size") {
				t.Errorf("ParseSize(%q): error %q does not say what was wrong", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if err != nil || back != n {
			t.Fatalf("ParseSize(FormatSize(%d) = %q) = %d, %v", n, FormatSize(n), back, err)
		}
	})
}

func TestMailboxQuotaFromEnv(t *testing.T) {
	c, err := Load("", env(map[string]string{"CONGTHU_MAILBOX_QUOTA": "2G"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mailbox.Quota != 2<<30 {
		t.Errorf("mailbox.quota: got %d, want %d", c.Mailbox.Quota, 2<<30)
	}
	if Default().Mailbox.Quota != 0 {
		t.Errorf("default mailbox.quota: got %d, want 0 (unlimited)", Default().Mailbox.Quota)
	}
	if _, err := Load("", env(map[string]string{"CONGTHU_MAILBOX_QUOTA": "2 gigabytes"})); err == nil || !strings.Contains(err.Error(), "CONGTHU_MAILBOX_QUOTA") {
		t.Errorf("bad quota: got %v, want an error naming CONGTHU_MAILBOX_QUOTA", err)
	}
}
