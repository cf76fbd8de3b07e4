package templates

import (
	"fmt"
	"strings"
)

// node is one piece of a parsed template: textNode, varNode or ifNode.
type node interface{ isNode() }

// textNode is literal template text.
type textNode struct{ s string }

// varNode is a placeholder ((name|filter|filter)).
type varNode struct {
	name    string
	filters []string
	ownLine bool // nothing but blanks on its source line: a list renders as bullets
	line    int
}

// ifNode is ((if name))…((else))…((end)) or ((name?? text)).
type ifNode struct {
	name      string
	then, els []node
	line      int
}

func (textNode) isNode() {}
func (varNode) isNode()  {}
func (ifNode) isNode()   {}

// filters maps each filter name to its one-line description (for the docs
// and the lint messages).
var filters = map[string]string{
	"date":     "dd/mm/yyyy in UTC+7",
	"time":     "HH:MM in UTC+7",
	"datetime": "HH:MM dd/mm/yyyy in UTC+7",
	"vnd":      "1.500.000 đồng",
	"number":   "1.500.000",
	"join":     "list items joined with \", \"",
	"count":    "number of items in a list",
}

// maxDepth bounds the nesting of conditionals.
const maxDepth = 32

// SyntaxError reports a template that cannot be parsed.
type SyntaxError struct {
	File string // file name, or "" when parsing text given directly
	Part string // "front matter", "subject" or "body"
	Line int    // 1-based line in the file
	Msg  string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	file := e.File
	if file == "" {
		file = "template"
	}
	return fmt.Sprintf("%s: %s line %d: %s", file, e.Part, e.Line, e.Msg)
}

// parser reads the placeholder language from one part of a template.
type parser struct {
	src   string
	i     int
	depth int
	part  string
	base  int // file line of src's first line, less one
}

// parseText parses src (a subject, an email body or an SMS body) that
// starts on line firstLine of its file.
func parseText(src, part string, firstLine int) ([]node, error) {
	src = strings.NewReplacer(string(markOpen), "", string(markClose), "").Replace(src)
	p := &parser{src: src, part: part, base: firstLine - 1}
	nodes, term, err := p.seq(false)
	if err != nil {
		return nil, err
	}
	switch term {
	case "else", "end":
		return nil, p.errorf("((%s)) without ((if …))", term)
	}
	return nodes, nil
}

func (p *parser) errorf(format string, args ...any) error {
	line := p.lineAt(min(p.i, len(p.src)))
	return &SyntaxError{Part: p.part, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// opensTag reports whether a tag opens at i: "((" not followed by a third
// "(", so "(((url)))" reads as "(" + "((url))" + ")".
func (p *parser) opensTag(i int) bool {
	return strings.HasPrefix(p.src[i:], "((") && (i+2 >= len(p.src) || p.src[i+2] != '(')
}

// seq parses nodes until the end of input, ((else)), ((end)) or, if inline
// is set, the "))" that closes a ((name?? …)) conditional. It returns which
// of those it stopped at: "", "else", "end" or ")".
func (p *parser) seq(inline bool) ([]node, string, error) {
	var nodes []node
	var buf []byte
	flush := func() {
		if len(buf) > 0 {
			nodes = append(nodes, textNode{string(buf)})
			buf = nil
		}
	}
	for p.i < len(p.src) {
		if inline && strings.HasPrefix(p.src[p.i:], "))") {
			p.i += 2
			flush()
			return nodes, ")", nil
		}
		if !p.opensTag(p.i) {
			buf = append(buf, p.src[p.i])
			p.i++
			continue
		}
		start := p.i
		p.i += 2
		p.skipSpaces()
		word := p.word()
		if word == "" {
			p.i = start
			return nil, "", p.errorf("expected a name after \"((\"")
		}
		switch word {
		case "else", "end":
			if err := p.closeTag(); err != nil {
				return nil, "", err
			}
			buf = p.standalone(start, buf)
			flush()
			return nodes, word, nil
		case "if":
			p.skipSpaces()
			name := p.word()
			if name == "" {
				return nil, "", p.errorf("((if …)) needs a name")
			}
			if err := checkName(name); err != nil {
				return nil, "", p.errorf("%v", err)
			}
			if err := p.closeTag(); err != nil {
				return nil, "", err
			}
			line := p.lineAt(start)
			buf = p.standalone(start, buf)
			flush()
			n, err := p.ifBody(name, line, false)
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, n)
			continue
		}
		if err := checkName(word); err != nil {
			return nil, "", p.errorf("%v", err)
		}
		p.skipSpaces()
		if strings.HasPrefix(p.src[p.i:], "??") {
			p.i += 2
			flush()
			n, err := p.ifBody(word, p.lineAt(start), true)
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, n)
			continue
		}
		v := varNode{name: word, line: p.lineAt(start)}
		for strings.HasPrefix(p.src[p.i:], "|") {
			p.i++
			p.skipSpaces()
			f := p.word()
			if _, ok := filters[f]; !ok {
				if f == "" {
					return nil, "", p.errorf("expected a filter name after \"|\" in ((%s))", word)
				}
				return nil, "", p.errorf("unknown filter %q in ((%s)); known: date, time, datetime, vnd, number, join, count", f, word)
			}
			v.filters = append(v.filters, f)
			p.skipSpaces()
		}
		if err := p.closeTag(); err != nil {
			return nil, "", err
		}
		v.ownLine = p.lineBlank(start, p.i)
		flush()
		nodes = append(nodes, v)
	}
	flush()
	if inline {
		return nil, "", p.errorf("unclosed ((name?? …)): missing \"))\"")
	}
	return nodes, "", nil
}

// ifBody parses what follows ((if name)) (or ((name?? when inline).
func (p *parser) ifBody(name string, line int, inline bool) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errorf("conditionals nested deeper than %d", maxDepth)
	}
	n := ifNode{name: name, line: line}
	if inline {
		body, term, err := p.seq(true)
		if err != nil {
			return nil, err
		}
		if term != ")" {
			return nil, p.errorf("((%s)) inside ((%s?? …)); use ((if %s))…((else))…((end))", term, name, name)
		}
		n.then = body
		return n, nil
	}
	body, term, err := p.seq(false)
	if err != nil {
		return nil, err
	}
	n.then = body
	if term == "else" {
		body, term, err = p.seq(false)
		if err != nil {
			return nil, err
		}
		n.els = body
		if term == "else" {
			return nil, p.errorf("second ((else)) in ((if %s)) started on line %d", name, line)
		}
	}
	if term != "end" {
		return nil, p.errorf("((if %s)) started on line %d has no ((end))", name, line)
	}
	return n, nil
}

func (p *parser) lineAt(i int) int { return p.base + 1 + strings.Count(p.src[:i], "\n") }

func (p *parser) skipSpaces() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

// word reads a name: letters, digits, '_' and '.'.
func (p *parser) word() string {
	j := p.i
	for j < len(p.src) && isNameByte(p.src[j]) {
		j++
	}
	w := p.src[p.i:j]
	p.i = j
	return w
}

func isNameByte(c byte) bool {
	return c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// checkName accepts dotted names whose segments start with a letter.
func checkName(name string) error {
	for _, seg := range strings.Split(name, ".") {
		if seg == "" || !(seg[0] >= 'a' && seg[0] <= 'z' || seg[0] >= 'A' && seg[0] <= 'Z') {
			return fmt.Errorf("bad placeholder name %q: use letters, digits and '_', segments joined by '.', each starting with a letter", name)
		}
	}
	return nil
}

func (p *parser) closeTag() error {
	p.skipSpaces()
	if !strings.HasPrefix(p.src[p.i:], "))") {
		return p.errorf("expected \"))\"")
	}
	p.i += 2
	return nil
}

// lineBlank reports whether the source line holding src[start:end] has
// nothing else but spaces and tabs.
func (p *parser) lineBlank(start, end int) bool {
	for j := start - 1; j >= 0 && p.src[j] != '\n'; j-- {
		if p.src[j] != ' ' && p.src[j] != '\t' {
			return false
		}
	}
	for j := end; j < len(p.src) && p.src[j] != '\n'; j++ {
		if p.src[j] != ' ' && p.src[j] != '\t' && p.src[j] != '\r' {
			return false
		}
	}
	return true
}

// standalone removes the line of a control tag (if, else, end) that stands
// alone on its line, so it leaves no blank line behind: the blanks before it
// are trimmed from buf and the rest of the line, newline included, skipped.
func (p *parser) standalone(start int, buf []byte) []byte {
	if !p.lineBlank(start, p.i) {
		return buf
	}
	for len(buf) > 0 && (buf[len(buf)-1] == ' ' || buf[len(buf)-1] == '\t') {
		buf = buf[:len(buf)-1]
	}
	for p.i < len(p.src) && p.src[p.i] != '\n' {
		p.i++
	}
	if p.i < len(p.src) {
		p.i++
	}
	return buf
}

// walk calls fn for every placeholder and condition name in nodes; cond is
// true for the names tested by a conditional, depth counts the conditionals
// around the name.
func walk(nodes []node, depth int, fn func(name string, cond bool, depth int)) {
	for _, n := range nodes {
		switch n := n.(type) {
		case varNode:
			fn(n.name, false, depth)
		case ifNode:
			fn(n.name, true, depth)
			walk(n.then, depth+1, fn)
			walk(n.els, depth+1, fn)
		}
	}
}
