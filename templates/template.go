package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Channels a template is written for.
const (
	Email = "email"
	SMS   = "sms"
	Zalo  = "zalo" // a ZNS template's parameters (zalo.go)
)

// Dossier statuses, exactly as the back office posts them.
const (
	StatusReceived            = "received"
	StatusSupplementRequested = "supplement_requested"
	StatusRefused             = "refused"
	StatusDelayed             = "delayed"
	StatusProcessing          = "processing"
	StatusResultReady         = "result_ready"
	StatusFeeDue              = "fee_due"
)

// Statuses lists every dossier status, in the order a dossier usually meets them.
func Statuses() []string {
	return []string{StatusReceived, StatusSupplementRequested, StatusRefused, StatusDelayed,
		StatusProcessing, StatusResultReady, StatusFeeDue}
}

// DossierFields is the documented dossier-event field set: the names the
// HTTP API accepts in an event and that any template may use without
// declaring them. Dates are RFC 3339; amount is an integer number of đồng;
// missing_documents is a list of strings; handling_unit is the email
// address of the unit that handles the dossier.
var DossierFields = []string{
	"dossier_code", "applicant.name", "procedure", "agency", "agency_short",
	"received_at", "appointment_at", "new_appointment_at",
	"reason", "legal_basis", "missing_documents", "deadline",
	"amount", "fee_name", "payment_instructions",
	"handling_unit", "unit_name", "lookup_url",
	"collect_at", "collect_place", "delivery_note",
}

// ReminderID is the id of the appointment reminder template of channel:
// dossier-reminder-<channel>. Its data is a dossier event's, with
// appointment_at the appointment it reminds of.
func ReminderID(channel string) string { return "dossier-reminder-" + channel }

// DefaultMaxParts is the SMS part limit Lint applies when a template does
// not set max_parts.
const DefaultMaxParts = 4

// MaxFileSize is the largest template file Parse accepts.
const MaxFileSize = 256 << 10

// Template is one parsed, versioned template. Its fields are read-only.
type Template struct {
	ID             string   // e.g. "dossier-received-email"
	Version        int      // bumped on every wording change
	Channel        string   // Email or SMS
	Status         string   // dossier status it serves, "" for other templates
	Description    string   // one line for operators
	FoldDiacritics bool     // SMS: send without Vietnamese diacritics
	MaxParts       int      // SMS: most parts Lint allows (DefaultMaxParts if unset)
	Declared       []string // extra field names from the "fields" header
	File           string   // file it was loaded from, "" if parsed from bytes
	ZNSTemplateID  string   // zalo: the approved ZNS template it fills

	params []znsParam // zalo

	subject  []node
	body     []node
	bodySize int // a guess at the evaluated body's length, for its buffer
	sample   map[string]any
}

// Rendered is a template rendered for one message.
type Rendered struct {
	ID      string
	Version int
	Channel string
	Subject string // email: one line, no control characters
	HTML    string // email: complete HTML document
	Text    string // email: text/plain alternative; SMS: the text before folding
	SMSText string // SMS: the text to send (folded when Folded)
	Folded  bool   // SMS: diacritics were removed
	// Zalo: the ZNS template and its parameters, in the template's order
	// (Text lists them as "name: value" lines).
	ZNSTemplateID string
	ZNSParams     []ZNSParam
}

// Render fills the template with data. Names are looked up as flat keys
// ("applicant.name") or through nested objects ({"applicant":{"name":…}}).
// It returns a *MissingError naming every absent required value, or a
// *ValueError for a value its filter cannot format (both wrapped).
func (t *Template) Render(data map[string]any) (*Rendered, error) {
	r := &Rendered{ID: t.ID, Version: t.Version, Channel: t.Channel}
	var missing map[string]bool
	var firstErr error
	collect := func(err error) {
		var me *MissingError
		switch {
		case err == nil:
		case errors.As(err, &me):
			if missing == nil {
				missing = map[string]bool{}
			}
			for _, f := range me.Fields {
				missing[f] = true
			}
		case firstErr == nil:
			firstErr = err
		}
	}
	if t.Channel == Email {
		subj := &evaluator{data: data, mode: modePlain}
		subj.run(t.subject)
		s, err := subj.result()
		collect(err)
		r.Subject = oneLine(s)

		body := &evaluator{data: data, mode: modeMarkdown}
		body.b.Grow(t.bodySize)
		body.run(t.body)
		md, err := body.result()
		collect(err)
		if missing == nil && firstErr == nil {
			blocks := parseBlocks(md)
			parseInlines(blocks, body.values)
			// The output's sizes from the Markdown's: an HTML body
			// is about half as long again (tags), the text about
			// as long.
			r.HTML = htmlDocument(r.Subject, bodyHTML(blocks, len(md)+len(md)/2))
			r.Text = bodyText(blocks, len(md)+len(md)/8)
		}
	} else if t.Channel == Zalo {
		t.renderZNS(r, data, collect)
	} else {
		ev := &evaluator{data: data, mode: modePlain}
		ev.run(t.body)
		s, err := ev.result()
		collect(err)
		r.Text = smsTidy(s)
		r.SMSText = r.Text
		if t.FoldDiacritics {
			r.SMSText = fold(r.Text)
			r.Folded = true
		}
	}
	if missing != nil {
		return nil, fmt.Errorf("render %s: %w", t.ID, &MissingError{Fields: sortedKeys(missing)})
	}
	if firstErr != nil {
		return nil, fmt.Errorf("render %s: %w", t.ID, firstErr)
	}
	return r, nil
}

// smsTidy trims each line's trailing blanks, drops blank lines at both ends
// and collapses runs of spaces (a skipped optional part leaves doubles).
func smsTidy(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// Preview renders the template with its sample data.
func (t *Template) Preview() (*Rendered, error) {
	if t.sample == nil {
		return nil, fmt.Errorf("preview %s: no sample data", t.ID)
	}
	return t.Render(t.sample)
}

// Sample returns a copy of the template's sample data (nil if it has none),
// as decoded from its .sample.json file (numbers are json.Number).
func (t *Template) Sample() map[string]any {
	if t.sample == nil {
		return nil
	}
	var out map[string]any
	b, _ := json.Marshal(t.sample)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&out)
	return out
}

// Fields reports the names the template uses: required ones appear outside
// every conditional; optional ones only inside conditionals or as their
// conditions. Both are sorted.
func (t *Template) Fields() (required, optional []string) {
	req, opt := map[string]bool{}, map[string]bool{}
	fn := func(name string, cond bool, depth int) {
		if !cond && depth == 0 {
			req[name] = true
		} else {
			opt[name] = true
		}
	}
	walk(t.subject, 0, fn)
	walk(t.body, 0, fn)
	for _, p := range t.params {
		walk(p.value, 0, fn)
	}
	for k := range req {
		delete(opt, k)
	}
	return sortedKeys(req), sortedKeys(opt)
}

// Set is a loaded collection of templates.
type Set struct {
	byID     map[string]*Template
	list     []*Template
	byStatus map[string]*Template // key: status + "/" + channel
	problems []Problem            // files that failed to load, for Lint
}

//go:embed files
var embedded embed.FS

// Load returns the templates shipped in the binary (the files/ folder).
func Load() (*Set, error) {
	sub, err := fs.Sub(embedded, "files")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return LoadDir(sub)
}

// LoadDir loads every *.tmpl file under fsys, with its sibling
// <id>.sample.json if present. On error it still returns the templates that
// loaded (never nil), so Lint can report every problem at once; the error
// joins one error per bad file.
func LoadDir(fsys fs.FS) (*Set, error) {
	s := &Set{byID: map[string]*Template{}, byStatus: map[string]*Template{}}
	var errs []error
	bad := func(file string, err error) {
		errs = append(errs, err)
		s.problems = append(s.problems, Problem{Template: file, Severity: SeverityError, Message: err.Error()})
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		t, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				se.File = p
			}
			bad(p, fmt.Errorf("templates: %w", err))
			return nil
		}
		t.File = p
		if want := strings.TrimSuffix(path.Base(p), ".tmpl"); t.ID != want {
			bad(p, fmt.Errorf("templates: %s: id %q does not match the file name (want %q)", p, t.ID, want))
			return nil
		}
		samplePath := strings.TrimSuffix(p, ".tmpl") + ".sample.json"
		if b, err := fs.ReadFile(fsys, samplePath); err == nil {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			if err := d.Decode(&t.sample); err != nil {
				bad(samplePath, fmt.Errorf("templates: %s: %w", samplePath, err))
				return nil
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := s.add(t); err != nil {
			bad(p, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("templates: %w", err))
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].ID < s.list[j].ID })
	return s, errors.Join(errs...)
}

// add puts t into the set, refusing duplicate ids and a second template for
// the same status and channel.
func (s *Set) add(t *Template) error {
	if _, dup := s.byID[t.ID]; dup {
		return fmt.Errorf("templates: %s: duplicate id %q", t.File, t.ID)
	}
	if t.Status != "" {
		key := t.Status + "/" + t.Channel
		if o, dup := s.byStatus[key]; dup {
			return fmt.Errorf("templates: %s: status %s/%s already served by %s", t.File, t.Status, t.Channel, o.ID)
		}
		s.byStatus[key] = t
	}
	s.byID[t.ID] = t
	s.list = append(s.list, t)
	return nil
}

// Get returns the template with this id.
func (s *Set) Get(id string) (*Template, bool) {
	t, ok := s.byID[id]
	return t, ok
}

// List returns every template, sorted by id.
func (s *Set) List() []*Template { return slices.Clone(s.list) }

// ForStatus returns the template that tells an applicant about a dossier
// status on a channel (Email or SMS).
func (s *Set) ForStatus(status, channel string) (*Template, bool) {
	t, ok := s.byStatus[status+"/"+channel]
	return t, ok
}

// Parse reads one template file: a header of "key: value" lines, a line
// "---", then the body (see the package documentation).
func Parse(src []byte) (*Template, error) {
	if len(src) > MaxFileSize {
		return nil, &SyntaxError{Part: "front matter", Line: 1, Msg: fmt.Sprintf("file is %d bytes, more than %d", len(src), MaxFileSize)}
	}
	text := strings.ReplaceAll(norm.NFC.String(string(src)), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	header, body, ok := cutHeader(text)
	if !ok {
		return nil, &SyntaxError{Part: "front matter", Line: 1, Msg: `no "---" line ending the header`}
	}
	t := &Template{}
	var subject string
	hasSubject, subjectLine := false, 0
	seen := map[string]bool{}
	for i, line := range strings.Split(header, "\n") {
		errf := func(format string, args ...any) error {
			return &SyntaxError{Part: "front matter", Line: i + 1, Msg: fmt.Sprintf(format, args...)}
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return nil, errf("want \"key: value\", got %q", line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if seen[key] {
			return nil, errf("%s given twice", key)
		}
		seen[key] = true
		switch key {
		case "id":
			t.ID = val
		case "version":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, errf("version must be a positive integer, got %q", val)
			}
			t.Version = n
		case "channel":
			if val != Email && val != SMS && val != Zalo {
				return nil, errf("channel must be email, sms or zalo, got %q", val)
			}
			t.Channel = val
		case "status":
			if !slices.Contains(Statuses(), val) {
				return nil, errf("unknown status %q; known: %s", val, strings.Join(Statuses(), ", "))
			}
			t.Status = val
		case "subject":
			subject, hasSubject, subjectLine = val, true, i+1
		case "description":
			t.Description = val
		case "zns_template_id":
			if !znsTemplateID.MatchString(val) {
				return nil, errf("zns_template_id must be Zalo's template id (letters, digits, '-', '_'), got %q", val)
			}
			t.ZNSTemplateID = val
		case "fold_diacritics":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, errf("fold_diacritics must be true or false, got %q", val)
			}
			t.FoldDiacritics = b
		case "max_parts":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return nil, errf("max_parts must be a positive integer, got %q", val)
			}
			t.MaxParts = n
		case "fields":
			for f := range strings.SplitSeq(val, ",") {
				if f = strings.TrimSpace(f); f != "" {
					if err := checkName(f); err != nil {
						return nil, errf("%v", err)
					}
					t.Declared = append(t.Declared, f)
				}
			}
		default:
			return nil, errf("unknown header key %q", key)
		}
	}
	hdrErr := func(msg string) error { return &SyntaxError{Part: "front matter", Line: 1, Msg: msg} }
	switch {
	case t.ID == "":
		return nil, hdrErr("missing id")
	case !validID(t.ID):
		return nil, hdrErr(fmt.Sprintf("bad id %q: use a-z, 0-9, '-' and '_'", t.ID))
	case t.Version == 0:
		return nil, hdrErr("missing version")
	case t.Channel == "":
		return nil, hdrErr("missing channel")
	case t.Channel == Email && (seen["fold_diacritics"] || seen["max_parts"]):
		return nil, hdrErr("fold_diacritics and max_parts are for sms templates")
	case t.Channel != Email && hasSubject:
		return nil, hdrErr("an " + t.Channel + " template has no subject")
	case t.Channel == Zalo && (seen["fold_diacritics"] || seen["max_parts"]):
		return nil, hdrErr("fold_diacritics and max_parts are for sms templates")
	case t.Channel == Zalo && t.ZNSTemplateID == "":
		return nil, hdrErr("a zalo template names its zns_template_id")
	case t.Channel != Zalo && t.ZNSTemplateID != "":
		return nil, hdrErr("zns_template_id is for zalo templates")
	}
	if t.MaxParts == 0 {
		t.MaxParts = DefaultMaxParts
	}
	var err error
	if t.Channel == Email {
		if t.subject, err = parseText(subject, "subject", subjectLine); err != nil {
			return nil, err
		}
	}
	bodyLine := 2 // after the header and its "---" line
	if header != "" {
		bodyLine = strings.Count(header, "\n") + 3
	}
	trimmed := strings.TrimLeft(body, "\n")
	bodyLine += len(body) - len(trimmed)
	t.bodySize = 2 * len(trimmed) // the source with its values
	if t.Channel == Zalo {
		if t.params, err = parseZNSParams(strings.TrimRight(trimmed, "\n"), bodyLine); err != nil {
			return nil, err
		}
		return t, nil
	}
	if t.body, err = parseText(strings.TrimRight(trimmed, "\n"), "body", bodyLine); err != nil {
		return nil, err
	}
	return t, nil
}

// cutHeader splits at the first line that is exactly "---".
func cutHeader(s string) (header, body string, ok bool) {
	if strings.HasPrefix(s, "---\n") {
		return "", s[4:], true
	}
	if i := strings.Index(s, "\n---\n"); i >= 0 {
		return s[:i], s[i+5:], true
	}
	if strings.HasSuffix(s, "\n---") {
		return s[:len(s)-4], "", true
	}
	return "", "", false
}

func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return id != ""
}
