package sortthread

import (
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/unicode/norm"
)

// Options are the choices a server makes for SORT and THREAD.
type Options struct {
	// UID makes Sort and the thread functions answer with UIDs (UID SORT,
	// UID THREAD) instead of sequence numbers.
	UID bool
	// Vietnamese also removes the reply and forward leaders Vietnamese
	// mail clients write (Outlook's "TL:" for trả lời and "CT:" for chuyển
	// tiếp, and the words written out: "Trả lời:", "Chuyển tiếp:"), as RFC
	// 5256 removes "Re:" and "Fwd:", with the same blanks and "[blob]"s
	// allowed around them. They match in any case ("TRẢ LỜI:" too) and
	// whether the client wrote the accented letters composed or
	// decomposed, and count as a reply or forward for THREAD=REFERENCES.
	// Unaccented forms ("Tra loi:") are not removed. Off, the base subject
	// is exactly RFC 5256's.
	Vietnamese bool
}

// viLeaders are the Vietnamese counterparts of "re" and "fw"/"fwd", in
// NFC. They take the same place in a subj-refwd: optional blanks and an
// optional blob may follow them before the colon.
var viLeaders = []string{"trả lời", "chuyển tiếp", "tl", "ct"}

// DecodeSubject decodes the RFC 2047 encoded words of a raw Subject header
// value into UTF-8, the first step of RFC 5256 section 2.1 for callers
// that hold the raw header (imap.Envelope's subject is already decoded).
// Charsets beyond UTF-8, US-ASCII and ISO-8859-1 are those of the WHATWG
// encoding index (windows-1258, the Vietnamese code page, among them). A
// word that cannot be decoded is left as it is.
func DecodeSubject(raw string) string {
	if !strings.Contains(raw, "=?") {
		return raw
	}
	d := mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(charset)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(input), nil
	}}
	s, err := d.DecodeHeader(raw)
	if err != nil {
		return raw
	}
	return s
}

// BaseSubject extracts the base subject of a decoded subject (RFC 5256
// section 2.1) and reports whether the extraction removed a reply or
// forward marker on the way (a subj-refwd leader, a "(fwd)" trailer or
// the "[fwd: ...]" wrapping), which THREAD=REFERENCES uses to choose a
// thread's parent. Comparisons of base subjects use [NewKey].
//
// The work is linear in the subject's length but for the "[fwd: ...]"
// unwrapping, which repeats the steps once per level of nesting, each
// level at least six octets.
func BaseSubject(subject string, opts Options) (base string, replyOrForward bool) {
	s := foldWhitespace(subject)
	if opts.Vietnamese && hasCombining(s) {
		// Decomposed text (a mark after its letter): compose it, so that
		// the leaders match however the client wrote them.
		s = norm.NFC.String(s)
	}
	for {
		// (2) Remove trailing subj-trailer: "(fwd)" or WSP.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if len(s) >= 5 && strings.EqualFold(s[len(s)-5:], "(fwd)") {
				s = s[:len(s)-5]
				replyOrForward = true
			} else {
				break
			}
		}
		// (3), (4), (5): leaders and leading blobs until none is left.
		for {
			for {
				if strings.HasPrefix(s, " ") {
					s = s[1:]
					continue
				}
				n, ok := leader(s, opts.Vietnamese)
				if !ok {
					break
				}
				s = s[n:]
				replyOrForward = true
			}
			// (4) A leading subj-blob goes if what remains is a non-empty
			// subj-base. Removing one blob leaves the same failed leader
			// behind it, so all the blobs that step 3 just scanned go at
			// once, keeping the last one if nothing follows it.
			n := leadingBlobs(s)
			if n == 0 {
				break
			}
			s = s[n:]
		}
		// (6) "[fwd:" ... "]" wrapping: unwrap and start again at step 2.
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			replyOrForward = true
			continue
		}
		return s, replyOrForward
	}
}

// foldWhitespace turns tabs and line breaks into spaces and runs of spaces
// into one (RFC 5256 section 2.1 step 1).
func foldWhitespace(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' || (c == ' ' && i+1 < len(s) && s[i+1] == ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\t' || c == '\r' || c == '\n' || c == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// blob returns the length of the subj-blob at the start of s ("[" any
// text without brackets "]" and the blanks after it), or 0.
func blob(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '[':
			return 0
		case ']':
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
			return i
		}
	}
	return 0
}

// leader returns the length of the subj-refwd, with the blobs before it,
// at the start of s: *subj-blob ("re" / "fw" ["d"]) *WSP [subj-blob] ":".
func leader(s string, vietnamese bool) (int, bool) {
	i := 0
	for {
		n := blob(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	rest := s[i:]
	var w int
	switch {
	case hasPrefixFold(rest, "re") > 0:
		w = 2
	case hasPrefixFold(rest, "fwd") > 0:
		w = 3
	case hasPrefixFold(rest, "fw") > 0:
		w = 2
	case vietnamese:
		for _, l := range viLeaders {
			if n := hasPrefixFold(rest, l); n > 0 {
				w = n
				break
			}
		}
	}
	if w == 0 {
		return 0, false
	}
	j := i + w
	for j < len(s) && s[j] == ' ' {
		j++
	}
	j += blob(s[j:])
	if j < len(s) && s[j] == ':' {
		return j + 1, true
	}
	return 0, false
}

// leadingBlobs returns how much of s step 4 removes: the run of blobs at
// its start, all of them if text follows, else all but the last.
func leadingBlobs(s string) int {
	i, last := 0, 0
	for {
		n := blob(s[i:])
		if n == 0 {
			break
		}
		last = i
		i += n
	}
	if i == 0 {
		return 0
	}
	if i < len(s) {
		return i
	}
	return last
}

// hasPrefixFold returns the length in s of prefix if s starts with it,
// compared under Unicode simple case folding, or 0.
func hasPrefixFold(s, prefix string) int {
	i := 0
	for _, p := range prefix {
		if i >= len(s) {
			return 0
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r != p && !equalFoldRune(r, p) {
			return 0
		}
		i += n
	}
	return i
}

func equalFoldRune(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// hasCombining reports whether s holds a character of U+0300..U+037F,
// where the combining diacritical marks are (lead octet 0xCC or 0xCD).
func hasCombining(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0xCC || s[i] == 0xCD {
			return true
		}
	}
	return false
}
