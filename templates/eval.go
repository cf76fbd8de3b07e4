package templates

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MissingError reports required values absent from the data given to
// Render. A value is required when its placeholder is outside every
// conditional or inside a branch that was taken; absent means no key, nil,
// a blank string or an empty list. The HTTP API maps it to 422 naming each
// field.
type MissingError struct {
	Fields []string // dotted names, sorted, each once
}

// Error implements error.
func (e *MissingError) Error() string {
	return "missing required value(s): " + strings.Join(e.Fields, ", ")
}

// ValueError reports a value that its filter cannot format, such as a date
// that is not RFC 3339 or an amount that is not an integer.
type ValueError struct {
	Field  string // dotted name
	Filter string // filter name, "" when the value had none
	Err    error
}

// Error implements error.
func (e *ValueError) Error() string {
	if e.Filter == "" {
		return fmt.Sprintf("value of %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("value of %s for |%s: %v", e.Field, e.Filter, e.Err)
}

// Unwrap returns the cause.
func (e *ValueError) Unwrap() error { return e.Err }

// mode says where the output of an evaluation goes.
type mode int

const (
	// modePlain: subject and SMS; values are written inline on one line.
	modePlain mode = iota
	// modeMarkdown: email body; values are written as markers that the
	// Markdown renderer replaces, so no value is read as Markdown or HTML.
	modeMarkdown
)

// evaluator runs parsed nodes over data.
type evaluator struct {
	data    map[string]any
	mode    mode
	values  []string
	missing map[string]bool
	err     error
	b       strings.Builder
}

func (e *evaluator) run(ns []node) {
	for _, n := range ns {
		if e.err != nil {
			return
		}
		switch n := n.(type) {
		case textNode:
			e.b.WriteString(n.s)
		case ifNode:
			if v, ok := lookup(e.data, n.name); ok && truthy(v) {
				e.run(n.then)
			} else {
				e.run(n.els)
			}
		case varNode:
			e.value(n)
		}
	}
}

func (e *evaluator) value(n varNode) {
	v, ok := lookup(e.data, n.name)
	if !ok || blank(v) {
		if e.missing == nil {
			e.missing = map[string]bool{}
		}
		e.missing[n.name] = true
		return
	}
	if len(e.missing) > 0 {
		return // the output is discarded anyway; just collect names
	}
	for _, f := range n.filters {
		out, err := applyFilter(f, v)
		if err != nil {
			e.err = &ValueError{Field: n.name, Filter: f, Err: err}
			return
		}
		v = out
	}
	if list, ok := toList(v); ok {
		items := make([]string, 0, len(list))
		for _, it := range list {
			s, err := scalarString(it)
			if err != nil {
				e.err = &ValueError{Field: n.name, Err: err}
				return
			}
			if s = cleanValue(s, e.mode == modePlain); strings.TrimSpace(s) != "" {
				items = append(items, strings.TrimSpace(s))
			}
		}
		if e.mode == modeMarkdown && n.ownLine {
			for i, it := range items {
				if i > 0 {
					e.b.WriteByte('\n')
				}
				e.b.WriteString("- ")
				e.emit(it)
			}
			return
		}
		e.emit(strings.Join(items, ", "))
		return
	}
	s, err := scalarString(v)
	if err != nil {
		e.err = &ValueError{Field: n.name, Err: err}
		return
	}
	s = cleanValue(s, e.mode == modePlain)
	if e.mode == modeMarkdown && n.ownLine && strings.Contains(s, "\n\n") {
		// A multi-paragraph value alone on its line stays several paragraphs.
		first := true
		for _, para := range strings.Split(s, "\n\n") {
			if para = strings.TrimSpace(para); para != "" {
				if !first {
					e.b.WriteString("\n\n")
				}
				first = false
				e.emit(para)
			}
		}
		return
	}
	e.emit(s)
}

// emit writes a cleaned value.
func (e *evaluator) emit(s string) {
	if e.mode == modePlain {
		e.b.WriteString(s)
		return
	}
	e.b.WriteRune(markOpen)
	e.b.WriteString(strconv.Itoa(len(e.values)))
	e.b.WriteRune(markClose)
	e.values = append(e.values, s)
}

// result returns the output, or the first error: a *ValueError, or a
// *MissingError naming every absent required value.
func (e *evaluator) result() (string, error) {
	if len(e.missing) > 0 {
		return "", &MissingError{Fields: sortedKeys(e.missing)}
	}
	if e.err != nil {
		return "", e.err
	}
	return e.b.String(), nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// applyFilter runs one filter on a value.
func applyFilter(name string, v any) (any, error) {
	switch name {
	case "date", "time", "datetime":
		t, err := toTime(v)
		if err != nil {
			return nil, err
		}
		switch name {
		case "date":
			return FormatDate(t), nil
		case "time":
			return FormatTime(t), nil
		}
		return FormatTime(t) + " " + FormatDate(t), nil
	case "vnd", "number":
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		if name == "vnd" {
			return FormatVND(n), nil
		}
		return groupThousands(n), nil
	case "join":
		list, ok := toList(v)
		if !ok {
			return v, nil
		}
		parts := make([]string, 0, len(list))
		for _, it := range list {
			s, err := scalarString(it)
			if err != nil {
				return nil, err
			}
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", "), nil
	case "count":
		list, ok := toList(v)
		if !ok {
			return nil, errNotList
		}
		n := 0
		for _, it := range list {
			if !blank(it) {
				n++
			}
		}
		return strconv.Itoa(n), nil
	}
	return nil, errors.New("unknown filter")
}

// lookup finds a dotted name: first as a flat key ("applicant.name"), then
// by walking nested objects ({"applicant": {"name": …}}).
func lookup(data map[string]any, name string) (any, bool) {
	if v, ok := data[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = data
	for seg := range strings.SplitSeq(name, ".") {
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case map[string]string:
			v, ok := m[seg]
			if !ok {
				return nil, false
			}
			cur = v
		default:
			return nil, false
		}
	}
	return cur, true
}

// blank reports a value that counts as absent: nil, a blank string, an
// empty list or a list of blanks.
func blank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	}
	if list, ok := toList(v); ok {
		for _, it := range list {
			if !blank(it) {
				return false
			}
		}
		return true
	}
	return false
}

// truthy decides a conditional: present, not blank, and not false. Numbers
// are true even when zero (an amount of 0 is still an amount).
func truthy(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return !blank(v)
}
