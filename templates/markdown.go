package templates

import (
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Markdown subset of email bodies. Blocks are separated by blank lines;
// a single line break inside a paragraph is kept (<br> in HTML).

type blockKind int

const (
	bPara blockKind = iota
	bHeading
	bBullets
	bNumbers
	bRule
	bInset
)

// block is one block of the Markdown subset. For lists, lines holds the
// items; for paragraphs and insets, the lines.
type block struct {
	kind  blockKind
	level int // heading level, or first number of a numbered list
	lines []string
	inl   [][]inline // lines parsed by parseInlines
}

// parseInlines parses the inline content of every block once, for both the
// HTML and the text rendering.
func parseInlines(blocks []block, vals []string) {
	for i := range blocks {
		b := &blocks[i]
		b.inl = make([][]inline, len(b.lines))
		for j, l := range b.lines {
			b.inl[j] = parseInline(l, vals, false)
		}
	}
}

// parseBlocks splits evaluated body text into blocks.
func parseBlocks(s string) []block {
	var blocks []block
	var cur *block
	closeCur := func() {
		if cur != nil {
			blocks = append(blocks, *cur)
			cur = nil
		}
	}
	open := func(kind blockKind, level int) {
		if cur == nil || cur.kind != kind {
			closeCur()
			cur = &block{kind: kind, level: level}
		}
	}
	for raw := range strings.SplitSeq(s, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		indented := len(trimmed) < len(line)
		if trimmed == "" {
			closeCur()
			continue
		}
		if isRule(trimmed) {
			closeCur()
			blocks = append(blocks, block{kind: bRule})
			continue
		}
		if lvl := headingLevel(trimmed); lvl > 0 {
			closeCur()
			blocks = append(blocks, block{kind: bHeading, level: lvl, lines: []string{strings.TrimSpace(trimmed[lvl:])}})
			continue
		}
		if item, ok := bulletItem(trimmed); ok {
			open(bBullets, 0)
			cur.lines = append(cur.lines, item)
			continue
		}
		if n, item, ok := numberedItem(trimmed); ok {
			open(bNumbers, n)
			cur.lines = append(cur.lines, item)
			continue
		}
		if rest, ok := strings.CutPrefix(trimmed, "^"); ok {
			open(bInset, 0)
			cur.lines = append(cur.lines, strings.TrimSpace(rest))
			continue
		}
		switch {
		case cur != nil && (cur.kind == bBullets || cur.kind == bNumbers) && indented:
			cur.lines[len(cur.lines)-1] += " " + trimmed
		case cur != nil && cur.kind == bPara:
			cur.lines = append(cur.lines, trimmed)
		default:
			closeCur()
			cur = &block{kind: bPara, lines: []string{trimmed}}
		}
	}
	closeCur()
	return blocks
}

// isRule reports a horizontal rule: three or more '-', '*' or '_' alone.
func isRule(s string) bool {
	if len(s) < 3 {
		return false
	}
	c := s[0]
	if c != '-' && c != '*' && c != '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			return false
		}
	}
	return true
}

func headingLevel(s string) int {
	n := 0
	for n < len(s) && s[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n >= len(s) || s[n] != ' ' {
		return 0
	}
	return n
}

func bulletItem(s string) (string, bool) {
	for _, p := range []string{"- ", "* ", "• "} {
		if rest, ok := strings.CutPrefix(s, p); ok && strings.TrimSpace(rest) != "" {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

func numberedItem(s string) (int, string, bool) {
	i := 0
	for i < len(s) && i < 9 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i+1 >= len(s) || (s[i] != '.' && s[i] != ')') || s[i+1] != ' ' {
		return 0, "", false
	}
	rest := strings.TrimSpace(s[i+2:])
	if rest == "" {
		return 0, "", false
	}
	n, _ := strconv.Atoi(s[:i])
	return n, rest, true
}

// Inline elements.

type inlineKind int

const (
	iText  inlineKind = iota
	iValue            // a data value: escaped, never read as Markdown
	iBold             // **…**
	iLink             // [text](href)
	iURL              // a bare http(s) URL
)

type inline struct {
	kind inlineKind
	s    string // text, value, or href
	kids []inline
}

// parseInline reads **bold**, [links](url), bare URLs, backslash escapes
// and value markers.
func parseInline(s string, vals []string, inBold bool) []inline {
	var out []inline
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, inline{kind: iText, s: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		if idx, n, ok := marker(s[i:]); ok {
			flush()
			v := ""
			if idx < len(vals) {
				v = vals[idx]
			}
			out = append(out, inline{kind: iValue, s: v})
			i += n
			continue
		}
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\*[]()^#-_`", s[i+1]) >= 0:
			text.WriteByte(s[i+1])
			i += 2
			continue
		case !inBold && strings.HasPrefix(s[i:], "**"):
			if j := strings.Index(s[i+2:], "**"); j > 0 {
				flush()
				out = append(out, inline{kind: iBold, kids: parseInline(s[i+2:i+2+j], vals, true)})
				i += j + 4
				continue
			}
			text.WriteString("**")
			i += 2
			continue
		case c == '[':
			if label, href, n, ok := linkAt(s[i:]); ok {
				flush()
				kids := parseInline(label, vals, inBold)
				if u := resolve(href, vals); safeHref(u) {
					out = append(out, inline{kind: iLink, s: u, kids: kids})
				} else {
					out = append(out, kids...)
				}
				i += n
				continue
			}
		case (c == 'h' || c == 'H') && (i == 0 || !isWordByte(s[i-1])) && hasURLScheme(s[i:]):
			n := urlLen(s[i:])
			flush()
			out = append(out, inline{kind: iURL, s: resolve(s[i:i+n], vals)})
			i += n
			continue
		}
		// Copy up to the next byte that may start something.
		j := i + 1
		for j < len(s) && strings.IndexByte("\\*[hH\xee", s[j]) < 0 {
			j++
		}
		text.WriteString(s[i:j])
		i = j
	}
	flush()
	return out
}

// marker reads a value marker at the start of s: U+E000 digits U+E001.
func marker(s string) (idx, n int, ok bool) {
	if !strings.HasPrefix(s, string(markOpen)) {
		return 0, 0, false
	}
	end := strings.IndexRune(s, markClose)
	if end < 0 {
		return 0, 0, false
	}
	idx, err := strconv.Atoi(s[len(string(markOpen)):end])
	if err != nil {
		return 0, 0, false
	}
	return idx, end + len(string(markClose)), true
}

// resolve replaces value markers with their values.
func resolve(s string, vals []string) string {
	if !strings.ContainsRune(s, markOpen) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if idx, n, ok := marker(s[i:]); ok {
			if idx < len(vals) {
				b.WriteString(vals[idx])
			}
			i += n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// linkAt reads [label](href) at the start of s, on one line.
func linkAt(s string) (label, href string, n int, ok bool) {
	j := strings.Index(s, "](")
	if j < 2 || strings.ContainsAny(s[1:j], "[]\n") {
		return "", "", 0, false
	}
	k := strings.IndexByte(s[j+2:], ')')
	if k < 0 {
		return "", "", 0, false
	}
	href = strings.TrimSpace(s[j+2 : j+2+k])
	if href == "" || strings.ContainsAny(href, " \t\n") {
		return "", "", 0, false
	}
	return s[1:j], href, j + 3 + k, true
}

// safeHref accepts the link schemes an email may carry: http, https, mailto
// and tel. Anything else (javascript:, data:, relative) is dropped.
func safeHref(u string) bool {
	if u == "" || strings.ContainsAny(u, " \t\r\n<>\"") {
		return false
	}
	l := strings.ToLower(u)
	for _, p := range []string{"https://", "http://", "mailto:", "tel:"} {
		if strings.HasPrefix(l, p) && len(l) > len(p) {
			return true
		}
	}
	return false
}

func hasURLScheme(s string) bool {
	l := strings.ToLower(s[:min(len(s), 8)])
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

func isWordByte(c byte) bool {
	return c >= 0x80 || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// urlLen measures a bare URL (value markers inside it count as part of it),
// leaving trailing punctuation outside.
func urlLen(s string) int {
	n := 0
	for n < len(s) {
		if _, m, ok := marker(s[n:]); ok {
			n += m
			continue
		}
		c := s[n]
		if c <= ' ' || c == '<' || c == '>' || c == '"' || c == '\'' || c == '*' || c >= 0x80 {
			break
		}
		n++
	}
	for n > 0 {
		c := s[n-1]
		if strings.IndexByte(".,;:!?", c) >= 0 || (c == ')' && strings.Count(s[:n], "(") < strings.Count(s[:n], ")")) {
			n--
			continue
		}
		break
	}
	return n
}

// HTML rendering.

const (
	styleP      = `margin:0 0 16px 0;font-size:16px;line-height:24px;color:#0b0c0c;`
	styleH1     = `margin:0 0 16px 0;font-size:24px;line-height:30px;font-weight:700;color:#0b0c0c;`
	styleH2     = `margin:24px 0 12px 0;font-size:20px;line-height:26px;font-weight:700;color:#0b0c0c;`
	styleH3     = `margin:20px 0 8px 0;font-size:17px;line-height:24px;font-weight:700;color:#0b0c0c;`
	styleList   = `margin:0 0 16px 0;padding:0 0 0 24px;font-size:16px;line-height:24px;color:#0b0c0c;`
	styleLI     = `margin:0 0 4px 0;`
	styleHR     = `border:0;border-top:1px solid #b1b4b6;height:0;margin:24px 0;`
	styleInset  = `margin:0 0 16px 0;padding:12px 16px;border-left:8px solid #b1b4b6;background-color:#f3f2f1;font-size:16px;line-height:24px;color:#0b0c0c;`
	styleA      = `color:#1d70b8;text-decoration:underline;`
	styleStrong = `font-weight:700;`
)

// bodyHTML renders blocks as the inner HTML of the message.
func bodyHTML(blocks []block, sizeHint int) string {
	var b strings.Builder
	b.Grow(sizeHint)
	lines := func(ls [][]inline) {
		for i, l := range ls {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			inlineHTML(&b, l)
		}
	}
	for _, bl := range blocks {
		switch bl.kind {
		case bPara:
			b.WriteString(`<p style="` + styleP + `">`)
			lines(bl.inl)
			b.WriteString("</p>\n")
		case bHeading:
			tag, style := "h1", styleH1
			switch {
			case bl.level == 2:
				tag, style = "h2", styleH2
			case bl.level >= 3:
				tag, style = "h3", styleH3
			}
			b.WriteString("<" + tag + ` style="` + style + `">`)
			lines(bl.inl)
			b.WriteString("</" + tag + ">\n")
		case bBullets, bNumbers:
			if bl.kind == bBullets {
				b.WriteString(`<ul style="` + styleList + `list-style-type:disc;">` + "\n")
			} else {
				b.WriteString(`<ol`)
				if bl.level != 1 {
					b.WriteString(` start="` + strconv.Itoa(bl.level) + `"`)
				}
				b.WriteString(` style="` + styleList + `list-style-type:decimal;">` + "\n")
			}
			for _, it := range bl.inl {
				b.WriteString(`<li style="` + styleLI + `">`)
				inlineHTML(&b, it)
				b.WriteString("</li>\n")
			}
			if bl.kind == bBullets {
				b.WriteString("</ul>\n")
			} else {
				b.WriteString("</ol>\n")
			}
		case bRule:
			b.WriteString(`<hr style="` + styleHR + `">` + "\n")
		case bInset:
			b.WriteString(`<blockquote style="` + styleInset + `">`)
			lines(bl.inl)
			b.WriteString("</blockquote>\n")
		}
	}
	return b.String()
}

func inlineHTML(b *strings.Builder, ins []inline) {
	for _, in := range ins {
		switch in.kind {
		case iText:
			b.WriteString(html.EscapeString(in.s))
		case iValue:
			valueHTML(b, in.s)
		case iBold:
			b.WriteString(`<strong style="` + styleStrong + `">`)
			inlineHTML(b, in.kids)
			b.WriteString("</strong>")
		case iLink:
			b.WriteString(`<a href="` + html.EscapeString(in.s) + `" style="` + styleA + `">`)
			inlineHTML(b, in.kids)
			b.WriteString("</a>")
		case iURL:
			anchor(b, in.s)
		}
	}
}

func anchor(b *strings.Builder, u string) {
	if !safeHref(u) {
		b.WriteString(html.EscapeString(u))
		return
	}
	e := html.EscapeString(u)
	b.WriteString(`<a href="` + e + `" style="` + styleA + `">` + e + "</a>")
}

// valueHTML writes a data value: escaped, line breaks as <br>, bare http(s)
// URLs as links.
func valueHTML(b *strings.Builder, v string) {
	for i := 0; i < len(v); {
		c := v[i]
		if c == '\n' {
			b.WriteString("<br>\n")
			i++
			continue
		}
		if (c == 'h' || c == 'H') && (i == 0 || !isWordByte(v[i-1])) && hasURLScheme(v[i:]) {
			n := urlLen(v[i:])
			anchor(b, v[i:i+n])
			i += n
			continue
		}
		j := i + 1
		for j < len(v) && v[j] != '\n' && v[j] != 'h' && v[j] != 'H' {
			j++
		}
		b.WriteString(html.EscapeString(v[i:j]))
		i = j
	}
}

// htmlDocument wraps a rendered body in a complete, email-client-safe HTML
// document: inline styles, layout tables, no remote resources, lang="vi".
func htmlDocument(subject, body string) string {
	var b strings.Builder
	b.Grow(len(body) + 1500)
	b.WriteString(`<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<title>`)
	b.WriteString(html.EscapeString(subject))
	b.WriteString(`</title>
</head>
<body style="margin:0;padding:0;background-color:#f3f2f1;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;background-color:#f3f2f1;">
<tr>
<td align="center" style="padding:16px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;max-width:600px;background-color:#ffffff;">
<tr>
<td style="height:8px;line-height:8px;font-size:8px;background-color:#1d70b8;">&nbsp;</td>
</tr>
<tr>
<td style="padding:24px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:24px;color:#0b0c0c;">
`)
	b.WriteString(body)
	b.WriteString(`</td>
</tr>
</table>
</td>
</tr>
</table>
</body>
</html>
`)
	return b.String()
}

// Plain-text rendering.

// bodyText renders blocks as the text/plain alternative.
func bodyText(blocks []block, sizeHint int) string {
	var b strings.Builder
	b.Grow(sizeHint)
	for i, bl := range blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		switch bl.kind {
		case bPara:
			for j, l := range bl.inl {
				if j > 0 {
					b.WriteByte('\n')
				}
				inlineText(&b, l)
			}
		case bHeading:
			var h strings.Builder
			inlineText(&h, bl.inl[0])
			u := "="
			if bl.level > 1 {
				u = "-"
			}
			b.WriteString(h.String() + "\n" + strings.Repeat(u, max(3, utf8.RuneCountInString(h.String()))))
		case bBullets, bNumbers:
			for j, it := range bl.inl {
				if j > 0 {
					b.WriteByte('\n')
				}
				if bl.kind == bBullets {
					b.WriteString("• ")
				} else {
					b.WriteString(strconv.Itoa(bl.level+j) + ". ")
				}
				inlineText(&b, it)
			}
		case bRule:
			b.WriteString(strings.Repeat("-", 40))
		case bInset:
			for j, l := range bl.inl {
				if j > 0 {
					b.WriteByte('\n')
				}
				var in strings.Builder
				inlineText(&in, l)
				b.WriteString("    " + strings.ReplaceAll(in.String(), "\n", "\n    "))
			}
		}
	}
	b.WriteByte('\n')
	return b.String()
}

func inlineText(b *strings.Builder, ins []inline) {
	for _, in := range ins {
		switch in.kind {
		case iText, iValue, iURL:
			b.WriteString(in.s)
		case iBold:
			inlineText(b, in.kids)
		case iLink:
			var label strings.Builder
			inlineText(&label, in.kids)
			l := label.String()
			b.WriteString(l)
			if in.s != l && !strings.EqualFold(in.s, "mailto:"+l) && !strings.EqualFold(in.s, "tel:"+l) {
				b.WriteString(" (" + in.s + ")")
			}
		}
	}
}
