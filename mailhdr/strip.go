package mailhdr

import (
	"bytes"
	"strings"

	"golang.org/x/net/idna"
)

// Remove returns msg without the header fields for which drop returns
// true (name without its colon, raw value with its line breaks), and
// whether it dropped any. Fields are found as Parse finds them; the scan
// stops at the first line Parse would refuse, whose fields are kept. msg
// is returned as it is, not copied, when nothing is dropped.
func Remove(msg []byte, drop func(name, value []byte) bool) (_ []byte, changed bool) {
	var out []byte
	last := 0 // msg[last:i] is kept but not yet copied
	for i := 0; i < len(msg) && i <= MaxSize && blankLine(msg, i) == 0; {
		if msg[i] == ' ' || msg[i] == '\t' {
			break
		}
		end := fieldEnd(msg, i)
		colon := bytes.IndexByte(msg[i:end], ':')
		if colon < 0 {
			break
		}
		colon += i
		if checkName(msg[i:colon]) != nil {
			break
		}
		if drop(msg[i:colon], msg[colon+1:end]) {
			if out == nil {
				out = make([]byte, 0, len(msg))
			}
			out = append(out, msg[last:i]...)
			last = end
		}
		i = end
	}
	if last == 0 {
		return msg, false
	}
	return append(out, msg[last:]...), true
}

// TrustField is what the servers drop from incoming messages before
// storing them: Authentication-Results fields carrying our authserv-id
// (RFC 8601 section 5: a border MTA must remove or rename them, so that
// nobody downstream takes a forged one for ours), however the id is
// spelled, every X-Congthu-* field, whatever its case (those are ours
// to add, as X-Congthu-Quarantine), and the spam verdict fields
// X-Spam-Status, X-Spam-Flag and X-Spam-Score (the MX writes the first).
type TrustField struct {
	host string // normalised authserv-id
}

// NewTrustField returns the dropper for our authserv-id hostname.
func NewTrustField(hostname string) TrustField {
	return TrustField{host: normalizeID(hostname)}
}

// Drop reports whether the field is one of ours; it fits Remove.
func (t TrustField) Drop(name, value []byte) bool {
	if hasPrefixFold(name, "X-Congthu") && (len(name) == len("X-Congthu") || name[len("X-Congthu")] == '-') {
		return true
	}
	if equalFold(name, "X-Spam-Status") || equalFold(name, "X-Spam-Flag") || equalFold(name, "X-Spam-Score") {
		return true // the MX's spam verdict is written under this name
	}
	if !equalFold(name, "Authentication-Results") {
		return false
	}
	id, ok := AuthservID(value)
	if !ok {
		// A value we cannot read (an unclosed comment or quote):
		// dropped when it names us anywhere, since a reader more
		// lenient than ours might find our id in it.
		return t.host != "" && strings.Contains(strings.ToLower(string(value)), t.host)
	}
	return t.host != "" && normalizeID(id) == t.host
}

// AuthservID returns the authserv-id of an Authentication-Results field
// value (RFC 8601 section 2.2): the first token or quoted-string after any
// CFWS (whitespace, line breaks, comments, which may nest). ok is false
// when the value ends inside a comment or a quoted-string.
func AuthservID(value []byte) (id string, ok bool) {
	v := skipCFWS(value)
	if v == nil {
		return "", false
	}
	if len(v) > 0 && v[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch c := v[i]; c {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String(), true
			case '\r', '\n':
			default:
				b.WriteByte(c)
			}
		}
		return "", false
	}
	i := 0
	for i < len(v) && !isWSPOrEOL(v[i]) && v[i] != ';' && v[i] != '(' {
		i++
	}
	return string(v[:i]), true
}

// skipCFWS returns v after its leading CFWS (RFC 5322 section 3.2.2), or
// nil when a comment does not end.
func skipCFWS(v []byte) []byte {
	for {
		for len(v) > 0 && isWSPOrEOL(v[0]) {
			v = v[1:]
		}
		if len(v) == 0 || v[0] != '(' {
			return v
		}
		depth := 0
		i := 0
	comment:
		for ; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					break comment
				}
			}
		}
		if i >= len(v) {
			return nil
		}
		v = v[i+1:]
	}
}

// normalizeID makes host names comparable: lower case, without trailing
// dots, internationalised names in their ASCII form.
func normalizeID(s string) string {
	s = strings.TrimRight(strings.ToLower(s), ".")
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(s); err == nil {
				return strings.TrimRight(strings.ToLower(a), ".")
			}
			break
		}
	}
	return s
}
