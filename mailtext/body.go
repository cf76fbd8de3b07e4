package mailtext

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// MaxBodyText is the most BodyText returns, in bytes.
const MaxBodyText = 256 << 10

// maxDepth bounds the nesting of multiparts and attached messages.
const maxDepth = 16

// maxParts bounds the number of MIME parts looked at.
const maxParts = 1000

// BodyText returns the searchable text of a message's body, folded with
// Fold: the text of its text/plain and text/html parts (tags stripped),
// decoded from quoted-printable or base64 and from the declared charset,
// plus the file names of attachments. Other parts are skipped. The result
// is capped at MaxBodyText bytes. Malformed MIME yields what could be read;
// BodyText never panics.
func BodyText(raw []byte) string {
	w := &textWriter{}
	func() {
		defer func() {
			// A parser bug must not take a delivery down: keep what
			// was extracted so far.
			_ = recover()
		}()
		br := bufio.NewReader(bytes.NewReader(raw))
		hdr, err := textproto.NewReader(br).ReadMIMEHeader()
		if err != nil && len(hdr) == 0 {
			// No parsable header: treat everything after the first
			// blank line (or nothing) as plain text.
			if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
				w.add(string(raw[i+2:]))
			} else if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
				w.add(string(raw[i+4:]))
			}
			return
		}
		w.part(hdr, br, 0)
	}()
	return w.result()
}

// textWriter accumulates folded text up to MaxBodyText.
type textWriter struct {
	b     strings.Builder
	parts int
}

func (w *textWriter) full() bool { return w.b.Len() >= MaxBodyText }

func (w *textWriter) add(s string) {
	s = strings.TrimSpace(s)
	if s == "" || w.full() {
		return
	}
	s = Fold(strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", " "), "\uFFFD"))
	if w.b.Len() > 0 {
		w.b.WriteByte('\n')
	}
	if room := MaxBodyText - w.b.Len(); len(s) > room {
		s = s[:room]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	w.b.WriteString(s)
}

func (w *textWriter) result() string { return w.b.String() }

// part handles one MIME entity whose header has been read and whose body
// is r.
func (w *textWriter) part(hdr textproto.MIMEHeader, r io.Reader, depth int) {
	w.parts++
	if w.full() || depth > maxDepth || w.parts > maxParts {
		return
	}
	ctype := hdr.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ctype)
	if err != nil || mediaType == "" {
		mediaType, params = "text/plain", map[string]string{}
		if ctype != "" {
			// An unparsable type other than text is not text.
			if t, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(ctype)), ";"); t != "" && !strings.HasPrefix(t, "text/") {
				mediaType = t
			}
		}
	}
	disposition, dparams, _ := mime.ParseMediaType(hdr.Get("Content-Disposition"))
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	if filename != "" {
		w.add(DecodeHeader(filename))
	}
	if disposition == "attachment" {
		return
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			return
		}
		mr := multipart.NewReader(r, boundary)
		for !w.full() && w.parts <= maxParts {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.part(p.Header, p, depth+1)
		}
	case mediaType == "message/rfc822" || mediaType == "message/global":
		br := bufio.NewReader(decodeTransfer(hdr, r))
		h, err := textproto.NewReader(br).ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			return
		}
		if subj := h.Get("Subject"); subj != "" {
			w.add(DecodeHeader(subj))
		}
		w.part(h, br, depth+1)
	case mediaType == "text/plain" || mediaType == "text/html":
		body, _ := io.ReadAll(io.LimitReader(decodeTransfer(hdr, r), 4*MaxBodyText))
		text := decodeCharset(params["charset"], body)
		if mediaType == "text/html" {
			text = StripHTML(text)
		}
		w.add(text)
	}
}

// decodeTransfer undoes the part's Content-Transfer-Encoding.
func decodeTransfer(hdr textproto.MIMEHeader, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(hdr.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		return &lenientReader{r: quotedprintable.NewReader(r)}
	case "base64":
		return &lenientReader{r: base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r})}
	}
	return r
}

// lenientReader turns a decoding error into the end of the data, so that a
// damaged part still yields the text before the damage.
type lenientReader struct {
	r   io.Reader
	err bool
}

func (l *lenientReader) Read(p []byte) (int, error) {
	if l.err {
		return 0, io.EOF
	}
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		l.err = true
		return n, nil
	}
	return n, err
}

// base64Filter drops bytes that cannot be part of base64 text (spaces,
// stray characters), as mail clients do.
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '+' || c == '/' || c == '=' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// decodeCharset converts body from charset to UTF-8. Unknown charsets and
// us-ascii are taken as UTF-8 (invalid bytes become U+FFFD later).
func decodeCharset(charset string, body []byte) string {
	charset = strings.ToLower(strings.TrimSpace(charset))
	switch charset {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return string(body)
	}
	r, err := charsetReader(charset, bytes.NewReader(body))
	if err != nil {
		return string(body)
	}
	out, err := io.ReadAll(r)
	if err != nil && len(out) == 0 {
		return string(body)
	}
	return string(out)
}

// StripHTML returns the text of an HTML document: tags, comments, scripts
// and styles removed, entities decoded, block ends turned into spaces.
func StripHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(html.UnescapeString(s))
			break
		}
		b.WriteString(html.UnescapeString(s[:i]))
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				break
			}
			s = s[4+end+3:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			break
		}
		tag := strings.ToLower(s[1:end])
		s = s[end+1:]
		name := tag
		if k := strings.IndexAny(name, " \t\r\n/"); k >= 0 {
			name = name[:k]
		}
		if name == "script" || name == "style" {
			k := indexFold(s, "</"+name)
			if k < 0 {
				break
			}
			s = s[k:]
			continue
		}
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// indexFold is strings.Index ignoring ASCII case, for an ASCII sub.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); {
		k := strings.IndexByte(s[i:], sub[0])
		if k < 0 {
			return -1
		}
		i += k
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
		i++
	}
	return -1
}
