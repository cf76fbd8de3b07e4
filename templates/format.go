package templates

import (
	"congthu/internal/vntime"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ict is Asia/Ho_Chi_Minh, the zone dates and times are rendered in.
var ict = vntime.Zone

// errNotTime, errNotInteger and errNotList are the causes carried by a
// ValueError when a value does not suit its filter.
var (
	errNotTime    = errors.New("not an RFC 3339 date-time, a yyyy-mm-dd date or a time.Time")
	errNotInteger = errors.New("not an integer")
	errNotList    = errors.New("not a list")
	errNotScalar  = errors.New("an object cannot be printed")
)

// FormatDate formats an instant as dd/mm/yyyy in Vietnam's time zone (UTC+7).
func FormatDate(t time.Time) string { return t.In(ict).Format("02/01/2006") }

// FormatTime formats an instant as HH:MM (24-hour clock) in Vietnam's time zone.
func FormatTime(t time.Time) string { return t.In(ict).Format("15:04") }

// FormatVND formats an amount of Vietnamese đồng with a dot as thousands
// separator and the unit spelled out: 1500000 → "1.500.000 đồng".
func FormatVND(amount int64) string { return groupThousands(amount) + " đồng" }

// groupThousands writes n with a dot between groups of three digits.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// toTime reads a date value: a time.Time, an RFC 3339 string (any offset; it
// is converted to UTC+7 when formatted) or a bare yyyy-mm-dd date, taken as a
// calendar day in Vietnam.
func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case *time.Time:
		if x != nil {
			return *x, nil
		}
	case string:
		s := strings.TrimSpace(x)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation("2006-01-02", s, ict); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errNotTime
}

// toInt64 reads an integer value: any Go integer, a float64 or json.Number
// without a fractional part (what encoding/json produces), or a string of
// decimal digits.
func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), nil
		}
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
	case float32:
		return toInt64(float64(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		if f, err := x.Float64(); err == nil {
			return toInt64(f)
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, errNotInteger
}

// toList reads a list value ([]string or the []any that encoding/json makes).
func toList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case []any:
		return x, true
	}
	return nil, false
}

// scalarString prints a value that has no filter.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "có", nil
		}
		return "không", nil
	case time.Time, *time.Time:
		t, err := toTime(x)
		if err != nil {
			return "", err
		}
		return FormatDate(t), nil
	case json.Number:
		return x.String(), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), nil
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return scalarString(float64(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), nil
	case fmt.Stringer:
		return x.String(), nil
	case map[string]any, map[string]string:
		return "", errNotScalar
	}
	return fmt.Sprint(v), nil
}

// private-use runes that mark a value's place in rendered Markdown; they are
// removed from template text and from values so nothing else can forge them.
const (
	markOpen  = '\uE000'
	markClose = '\uE001'
)

// cleanValue makes a value safe to place in a body: NFC, CR LF and lone CR
// become LF, other control characters, bidirectional overrides and the value
// markers are dropped. If oneLine is set (subject, SMS), every control
// character, LF included, becomes a space.
func cleanValue(s string, oneLine bool) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				i++
			}
			r = '\n'
			fallthrough
		case r == '\n':
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteByte('\n')
			}
		case r == '\t':
			b.WriteByte(' ')
		case r == markOpen || r == markClose || isBidiControl(r):
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			if oneLine {
				b.WriteByte(' ')
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isBidiControl reports the explicit directional formatting characters,
// which could make a value display differently from what it is.
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F'
}

// oneLine turns a rendered subject into one clean header line: every control
// character (CR and LF included) becomes a space, runs of spaces collapse,
// and the ends are trimmed. No value can start a new header through it.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || isBidiControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// fold removes Vietnamese diacritics so a text fits the GSM-7 alphabet: NFC,
// NFD, drop the combining marks, NFC again, then đ→d and Đ→D. It is the same
// algorithm as sms.Fold; it lives here too so templates depends on nothing.
//
// Text that is ASCII and precomposed Latin letters (as Vietnamese arrives,
// in NFC) is folded a rune at a time from foldTable, which holds what the
// full algorithm gives each such letter; anything else (combining marks,
// other scripts) takes the full algorithm. Both give the same result
// (TestFoldTable), the table about ten times faster.
func fold(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s // ASCII
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if r < utf8.RuneSelf {
			b.WriteByte(byte(r))
			continue
		}
		c, ok := foldTable[r]
		if !ok {
			return foldSlow(s)
		}
		b.WriteByte(c)
	}
	return b.String()
}

// foldTable maps each precomposed Latin letter (U+00C0–U+024F and the
// Vietnamese block U+1E00–U+1EFF) that foldSlow turns into one ASCII
// letter to that letter.
var foldTable = func() map[rune]byte {
	m := map[rune]byte{}
	for _, rg := range [][2]rune{{0xC0, 0x24F}, {0x1E00, 0x1EFF}} {
		for r := rg[0]; r <= rg[1]; r++ {
			if f := foldSlow(string(r)); len(f) == 1 && f[0] < utf8.RuneSelf {
				m[r] = f[0]
			}
		}
	}
	return m
}()

// foldSlow is the full algorithm.
func foldSlow(s string) string {
	d := norm.NFD.String(norm.NFC.String(s))
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'đ':
			b.WriteByte('d')
		case r == 'Đ':
			b.WriteByte('D')
		default:
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}
