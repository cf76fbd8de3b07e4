package imapd

import "strings"

// maxListPattern bounds the bytes of the patterns of one LIST or LSUB
// command together; a longer request is answered BAD without matching.
const maxListPattern = 1000

// listPattern is a LIST mailbox pattern (RFC 9051 section 6.3.9: "*"
// matches any run of characters, "%" any run without the hierarchy
// delimiter) compiled for matching in time linear in the name times the
// pattern: a bit-parallel simulation over the set of pattern positions
// reached so far, so no input backtracks.
//
// The reference name is applied as go-imap's imapserver.MatchList did
// (see TestListMatch and FuzzMatchList against a naive definition): a pattern
// starting with the delimiter ignores the reference and drops that
// delimiter; otherwise a non-empty reference, with the delimiter appended
// when it lacks one, must be a prefix of the name and is cut off before
// the pattern is matched. Matching is byte-wise and case-sensitive.
type listPattern struct {
	ref   string
	m     int        // positions: 0..m, m accepting
	lit   [][]uint64 // lit[c]: positions whose literal byte is c (nil: c not in the pattern)
	star  []uint64   // positions holding "*"
	pct   []uint64   // positions holding "%"
	stop  byte       // the byte "%" does not cross
	hasSt bool       // whether there is such a byte
	buf   [2][]uint64
}

// compileListPattern prepares a pattern for one reference and delimiter.
func compileListPattern(delim rune, ref, pattern string) *listPattern {
	var delimStr string
	if delim != 0 {
		delimStr = string(delim)
	}
	if delimStr != "" && strings.HasPrefix(pattern, delimStr) {
		ref = ""
		pattern = pattern[len(delimStr):]
	}
	if ref != "" && delimStr != "" && !strings.HasSuffix(ref, delimStr) {
		ref += delimStr
	}

	// A run of wildcards matches what one "*" matches if it holds a
	// "*", else what one "%" matches; collapsed, no two wildcards are
	// adjacent, so one step of closure after each byte is enough.
	toks := make([]byte, 0, len(pattern))
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if (c == '*' || c == '%') && len(toks) > 0 {
			if prev := toks[len(toks)-1]; prev == '*' || prev == '%' {
				if c == '*' {
					toks[len(toks)-1] = '*'
				}
				continue
			}
		}
		toks = append(toks, c)
	}

	p := &listPattern{ref: ref, m: len(toks), lit: make([][]uint64, 256)}
	words := (p.m + 1 + 63) / 64
	p.star = make([]uint64, words)
	p.pct = make([]uint64, words)
	for i, c := range toks {
		w, b := i/64, uint64(1)<<(i%64)
		switch c {
		case '*':
			p.star[w] |= b
		case '%':
			p.pct[w] |= b
		default:
			if p.lit[c] == nil {
				p.lit[c] = make([]uint64, words)
			}
			p.lit[c][w] |= b
		}
	}
	// "%" stops at a byte b when string(rune(b))
	// equals the delimiter, which only a delimiter below U+0100 can.
	if delim > 0 && delim < 0x100 {
		p.stop, p.hasSt = byte(delim), true
	}
	p.buf[0] = make([]uint64, words)
	p.buf[1] = make([]uint64, words)
	return p
}

// match reports whether the mailbox name matches. A listPattern is not
// safe for concurrent use.
func (p *listPattern) match(name string) bool {
	if p.ref != "" {
		if !strings.HasPrefix(name, p.ref) {
			return false
		}
		name = name[len(p.ref):]
	}
	cur, next := p.buf[0], p.buf[1]
	clear(cur)
	cur[0] = 1
	p.closure(cur)
	for i := 0; i < len(name); i++ {
		c := name[i]
		lit := p.lit[c]
		stopped := p.hasSt && c == p.stop
		var carry uint64
		alive := uint64(0)
		for w := range cur {
			var adv uint64
			if lit != nil {
				adv = cur[w] & lit[w]
			}
			stay := cur[w] & p.star[w]
			if !stopped {
				stay |= cur[w] & p.pct[w]
			}
			next[w] = adv<<1 | carry | stay
			carry = adv >> 63
			alive |= next[w]
		}
		if alive == 0 {
			return false
		}
		p.closure(next)
		cur, next = next, cur
	}
	return cur[p.m/64]&(1<<(p.m%64)) != 0
}

// closure adds, for each wildcard position in s, the position after it
// (a wildcard may match the empty string).
func (p *listPattern) closure(s []uint64) {
	var carry uint64
	for w := range s {
		wild := s[w] & (p.star[w] | p.pct[w])
		s[w] |= wild<<1 | carry
		carry = wild >> 63
	}
}

// listPatternsTooLong reports whether the patterns of one command exceed
// maxListPattern bytes together.
func listPatternsTooLong(patterns []string) bool {
	n := 0
	for _, p := range patterns {
		n += len(p)
	}
	return n > maxListPattern
}
