package sortthread

import "strings"

const (
	// MaxMsgIDLen is the longest message id taken from a header, in octets
	// (RFC 5322's line limit); a longer one is not a valid id.
	MaxMsgIDLen = 998
	// MaxReferences is how many ids of a References header are used: the
	// last ones, which name the nearest ancestors.
	MaxReferences = 256
)

// ParseMsgIDs returns the message ids of a References or In-Reply-To
// header value (or a Message-ID's, which has one), without their angle
// brackets, in order. It is lenient as RFC 5256 asks of a server reading
// mail as it is: comments and quoted strings are skipped, blanks inside
// an id (obs-id-left's folding) are dropped, words between ids (the
// obsolete phrase of In-Reply-To) are ignored, an empty id ("<>") or one
// longer than MaxMsgIDLen is skipped, and an unclosed "<" ends the list.
// Only the last MaxReferences ids are returned. Ids compare case-
// sensitively (RFC 5256 section 3).
func ParseMsgIDs(s string) []string { return appendMsgIDs(nil, s) }

// appendMsgIDs is ParseMsgIDs appending to ids, whose storage THREAD
// reuses from message to message.
func appendMsgIDs(ids []string, s string) []string {
	i := 0
	for i < len(s) {
		switch c := s[i]; c {
		case '(':
			// A comment, nested, with quoted pairs.
			depth := 0
			for ; i < len(s); i++ {
				switch s[i] {
				case '\\':
					i++
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			i++
		case '"':
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '<':
			end := strings.IndexByte(s[i+1:], '>')
			if end < 0 {
				return tail(ids)
			}
			id := s[i+1 : i+1+end]
			i += end + 2
			if strings.ContainsAny(id, " \t\r\n") {
				id = strings.Map(func(r rune) rune {
					if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
						return -1
					}
					return r
				}, id)
			}
			if id == "" || len(id) > MaxMsgIDLen || strings.IndexByte(id, '<') >= 0 {
				continue
			}
			ids = append(ids, id)
		default:
			i++
		}
	}
	return tail(ids)
}

func tail(ids []string) []string {
	if len(ids) > MaxReferences {
		return ids[len(ids)-MaxReferences:]
	}
	return ids
}

// messageID returns the id of a Message-ID header value: the first
// bracketed id, or, for a value without brackets (imap.Envelope holds the
// id bare), the value itself when it is one word.
func messageID(s string) string {
	if strings.IndexByte(s, '<') >= 0 {
		if ids := ParseMsgIDs(s); len(ids) > 0 {
			return ids[0]
		}
		return ""
	}
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxMsgIDLen || strings.ContainsAny(s, " \t\r\n()\">") {
		return ""
	}
	return s
}
