package dossier

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text fields of the API reach email headers (the applicant's name is the
// To display name, the agency the From display name), subjects, SMS and
// HTML. Whatever a template or the composer would do with them, a control
// character in a value is a mistake of the calling system, answered 422
// naming the field, never stored and never a 500:
//
//   - one-line fields (names, the procedure, the agency, places, references,
//     URLs, list items, and every personalisation value named like one, or
//     "subject") hold no control character at all: no CR, LF, TAB, NUL,
//     DEL, C1 control, Unicode line or paragraph separator, nor a
//     bidirectional embedding, override or isolate (which would let a
//     display name read differently from what it is);
//   - multi-line fields (reason, legal_basis, payment_instructions,
//     delivery_note, and other personalisation values such as "body") may
//     hold line breaks (LF or CR LF: the templates keep a line break inside
//     a paragraph) and TAB, and nothing else of the above.

// TextKind says what characters a text field may hold.
type TextKind int

const (
	OneLine   TextKind = iota // no control characters
	MultiLine                 // LF, CR LF and TAB allowed
)

// TextProblem returns why v is not acceptable text of kind k, or "".
func TextProblem(v string, k TextKind) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	for i, r := range v {
		ok := true
		switch {
		case r == '\n' || r == '\t':
			ok = k == MultiLine
		case r == '\r':
			ok = k == MultiLine && i+1 < len(v) && v[i+1] == '\n'
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			ok = false
		case r == '\u2028', r == '\u2029':
			ok = false
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			ok = false
		}
		if ok {
			continue
		}
		if k == OneLine {
			return fmt.Sprintf("must be one line of text, without line breaks or control characters (found %U at byte %d)", r, i)
		}
		return fmt.Sprintf("must be text without control characters other than line breaks (LF or CR LF) and tabs (found %U at byte %d)", r, i)
	}
	return ""
}

// multiLineFields are the dossier event fields (and personalisation keys)
// that may span lines. Every other text field is one line.
var multiLineFields = map[string]bool{
	"reason": true, "legal_basis": true, "payment_instructions": true, "delivery_note": true,
}

// personalisationKind is the kind of the personalisation value at path
// (dotted, without the "personalisation." prefix; list items as name[i]).
// A name the dossier events define keeps its kind there, "subject" is
// one line (it becomes the Subject header), list items are one line (a
// bullet each), and any other value may span lines (e.g. "body").
func personalisationKind(path string) TextKind {
	if strings.HasSuffix(path, "]") {
		return OneLine
	}
	if multiLineFields[path] {
		return MultiLine
	}
	switch path {
	case "subject", "applicant.name", "applicant.email", "applicant.phone", "procedure", "agency", "agency_short",
		"fee_name", "unit_name", "collect_place", "lookup_url", "reference", "dossier_code", "event_id", "handling_unit":
		return OneLine
	}
	return MultiLine
}

// CheckPersonalisation checks every text in a personalisation object (keys
// too, which name fields in errors), in a stable order.
func CheckPersonalisation(data map[string]any) []FieldError {
	var errs []FieldError
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case string:
			if p := TextProblem(v, personalisationKind(path)); p != "" {
				errs = append(errs, FieldError{Field: "personalisation." + path, Message: p})
			}
		case []any:
			for i, x := range v {
				walk(path+"["+strconv.Itoa(i)+"]", x)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				name := k
				if path != "" {
					name = path + "." + k
				}
				if p := TextProblem(k, OneLine); p != "" {
					errs = append(errs, FieldError{Field: "personalisation", Message: fmt.Sprintf("key %q: %s", k, p)})
					continue
				}
				walk(name, v[k])
			}
		}
	}
	walk("", data)
	return errs
}
