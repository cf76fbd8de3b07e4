package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// naiveListMatch is the definition the compiled matcher must agree with,
// as a backtracking matcher (exponential, for short inputs only): the
// reference applied as listPattern's doc says, then "*" matching any run
// of bytes and "%" any run without the delimiter's byte (for a delimiter
// below U+0100), literal bytes themselves.
func naiveListMatch(name string, delim rune, ref, pattern string) bool {
	var d string
	if delim != 0 {
		d = string(delim)
	}
	if d != "" && strings.HasPrefix(pattern, d) {
		ref, pattern = "", pattern[len(d):]
	}
	if ref != "" {
		if d != "" && !strings.HasSuffix(ref, d) {
			ref += d
		}
		if !strings.HasPrefix(name, ref) {
			return false
		}
		name = name[len(ref):]
	}
	return naiveMatch(name, pattern, byte(delim), delim > 0 && delim < 0x100)
}

func naiveMatch(name, pat string, stop byte, hasStop bool) bool {
	if pat == "" {
		return name == ""
	}
	switch pat[0] {
	case '*', '%':
		for i := 0; i <= len(name); i++ {
			if naiveMatch(name[i:], pat[1:], stop, hasStop) {
				return true
			}
			if i < len(name) && pat[0] == '%' && hasStop && name[i] == stop {
				return false
			}
		}
		return false
	}
	return name != "" && name[0] == pat[0] && naiveMatch(name[1:], pat[1:], stop, hasStop)
}

// TestListMatch compares the compiled matcher with the naive definition
// on every pair of a set of names and patterns, with and without a
// reference, for several delimiters.
func TestListMatch(t *testing.T) {
	names := []string{
		"", "INBOX", "inbox", "INBOX/Sent", "Hồ sơ", "Hồ sơ/2024", "Hồ sơ/2024/Quý 1",
		"a", "a/", "/a", "a//b", "ab", "abc", "a/b", "a/b/c", "a/bc/d", "abab", "ababx",
		"x", "ax", "a/x", "a%b", "a*b", "Archive", "Archive/Old", "Drafts", "Sent Items",
		"a.b", "a.b.c", "\u00e9t\u00e9", "\u00e9/t",
		strings.Repeat("a", 40), strings.Repeat("a", 39) + "x", strings.Repeat("a/", 20) + "x",
	}
	patterns := []string{
		"", "*", "%", "%%", "**", "%*", "*%", "INBOX", "inbox", "INBOX*", "INBOX/%", "Hồ sơ/%", "Hồ sơ/*",
		"%/%", "*/*", "a*", "a%", "a/%", "a/*", "%/", "/%", "/*", "/", "a%c", "a*c", "%b%", "*b*",
		"a%b", "a*b", "%x", "*x", "%%%%%x", "%a%a%a", "*a*a*a*x", "a/%/x", "%.%", "*.*", "a.%",
		"%b/%", "a%/%", "%%/*", "*%/%*", "\u00e9%", "\u00e9*", "x", "",
	}
	refs := []string{"", "a", "a/", "INBOX", "Hồ sơ", "a.b", "/", "x"}
	for _, delim := range []rune{'/', '.', 0, '\u00e9', '\u1ec7'} {
		for _, ref := range refs {
			for _, pat := range patterns {
				p := compileListPattern(delim, ref, pat)
				for _, name := range names {
					want := naiveListMatch(name, delim, ref, pat)
					if got := p.match(name); got != want {
						t.Errorf("delim %q ref %q pattern %q name %q: got %v, want %v", delim, ref, pat, name, got, want)
					}
				}
			}
		}
	}
}

// TestListMatchLong checks the cases a backtracking matcher cannot finish: many
// wildcards against a long name, and patterns past 64 positions.
func TestListMatchLong(t *testing.T) {
	name := strings.Repeat("a", 40)
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{strings.Repeat("%", 16) + "x", name, false},
		{strings.Repeat("%", 16) + "x", name + "x", true},
		{strings.Repeat("%", 3000) + "x", name, false},
		{strings.Repeat("%a", 40), name, true},
		{strings.Repeat("%a", 41), name, false},
		{strings.Repeat("*a", 40) + "*", name, true},
		{strings.Repeat("a", 100) + "%", strings.Repeat("a", 100), true},
		{strings.Repeat("a", 100) + "%", strings.Repeat("a", 100) + "/b", false},
		{strings.Repeat("a", 100) + "*", strings.Repeat("a", 100) + "/b", true},
		{strings.Repeat("%/", 30) + "x", strings.Repeat("a/", 30) + "x", true},
		{strings.Repeat("%/", 30) + "x", strings.Repeat("a/", 29) + "x", false},
		{strings.Repeat("*/", 30) + "x", strings.Repeat("a/", 31) + "x", true},
	} {
		if got := compileListPattern('/', "", tc.pattern).match(tc.name); got != tc.want {
			t.Errorf("pattern %.30q… name %.30q…: got %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// FuzzMatchList compares the compiled matcher with the naive definition
// on inputs short enough for backtracking to finish.
func FuzzMatchList(f *testing.F) {
	f.Add("a/b/c", "", "a/%/c", uint8(0))
	f.Add("INBOX/x", "INBOX", "%", uint8(0))
	f.Add("a.b", "a", ".%", uint8(1))
	f.Add("aaaa", "", "%%a*%", uint8(2))
	f.Add("\u00e9t\u00e9", "", "%t%", uint8(3))
	delims := []rune{'/', '.', 0, '\u00e9', '\u1ec7'}
	f.Fuzz(func(t *testing.T, name, ref, pattern string, d uint8) {
		if len(name) > 24 || len(ref) > 8 || len(pattern) > 12 || strings.Count(pattern, "*")+strings.Count(pattern, "%") > 4 {
			return // naiveListMatch backtracks: keep it finite
		}
		delim := delims[int(d)%len(delims)]
		want := naiveListMatch(name, delim, ref, pattern)
		if got := compileListPattern(delim, ref, pattern).match(name); got != want {
			t.Errorf("delim %q ref %q pattern %q name %q: got %v, want %v", delim, ref, pattern, name, got, want)
		}
	})
}

// BenchmarkListPattern matches patterns that make a backtracking
// matcher exponential against a 40-byte name.
func BenchmarkListPattern(b *testing.B) {
	name := strings.Repeat("a", 40)
	for _, n := range []int{8, 16, 1000} {
		pat := strings.Repeat("%", n) + "x"
		b.Run(fmt.Sprintf("wildcards-%d", n), func(b *testing.B) {
			for b.Loop() {
				if compileListPattern('/', "", pat).match(name) {
					b.Fatal("matched")
				}
			}
		})
	}
	alt := strings.Repeat("%a", 500)
	b.Run("alternating-1000", func(b *testing.B) {
		for b.Loop() {
			compileListPattern('/', "", alt).match(name)
		}
	})
}
