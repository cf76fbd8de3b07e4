package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func testFlagSet() (*flag.FlagSet, *bool, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	b := fs.Bool("test", false, "")
	s := fs.String("reason", "", "")
	return fs, b, s
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		pos    []string
		test   bool
		reason string
	}{
		{[]string{"a", "--test"}, []string{"a"}, true, ""},
		{[]string{"--test", "a"}, []string{"a"}, true, ""},
		{[]string{"a", "--reason", "x y", "b"}, []string{"a", "b"}, false, "x y"},
		{[]string{"a", "--", "--test", "-x"}, []string{"a", "--test", "-x"}, false, ""},
		{[]string{"--reason", "--", "a", "--test"}, []string{"a"}, true, "--"},
		{[]string{"--reason=--", "--", "--test"}, []string{"--test"}, false, "--"},
		{[]string{"--test", "--", "--reason"}, []string{"--reason"}, true, ""},
		{[]string{"-", "--test"}, []string{"-"}, true, ""},
	} {
		fs, b, s := testFlagSet()
		pos, err := parseFlags(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.pos) || *b != tc.test || *s != tc.reason {
			t.Errorf("parseFlags(%q): got %q test=%v reason=%q err=%v, want %q test=%v reason=%q",
				tc.args, pos, *b, *s, err, tc.pos, tc.test, tc.reason)
		}
	}
	fs, _, _ := testFlagSet()
	if _, err := parseFlags(fs, []string{"a", "--nope"}); err == nil || !strings.Contains(err.Error(), "-nope") {
		t.Errorf("unknown flag after an argument: err %v", err)
	}
}

// FuzzParseFlags: whatever the arguments, parsing does not panic, every
// argument that does not start with "-" and is not a flag's value comes
// back positional in order, and everything after a terminating "--" comes
// back unchanged.
func FuzzParseFlags(f *testing.F) {
	f.Add("a\x00--test\x00b")
	f.Add("--reason\x00--\x00a\x00--\x00-x")
	f.Add("--\x00--\x00--test")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs, _, _ := testFlagSet()
		pos, err := parseFlags(fs, args)
		if err != nil {
			return
		}
		// Rebuild what the positional arguments must be.
		var want []string
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "--" {
				want = append(want, args[i+1:]...)
				break
			}
			if len(a) < 2 || a[0] != '-' {
				want = append(want, a)
				continue
			}
			name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
			if name == "reason" {
				i++
			}
		}
		if !slices.Equal(pos, want) {
			t.Errorf("parseFlags(%q) = %q, want %q", args, pos, want)
		}
	})
}
