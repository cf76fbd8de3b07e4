package templates

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Problem severities.
const (
	SeverityError   = "error"   // the template must not ship
	SeverityWarning = "warning" // worth a look
)

// Problem is one finding of Lint.
type Problem struct {
	Template string // template id, or file name when it did not load
	Severity string // SeverityError or SeverityWarning
	Message  string
}

// String formats the problem as "id: severity: message".
func (p Problem) String() string { return p.Template + ": " + p.Severity + ": " + p.Message }

// PartCounter tells how an SMS text would be sent: the encoding ("GSM-7" or
// "UCS-2") and the number of parts, after folding diacritics when fold is
// set. The sms package provides it; Lint takes it as a function so that
// templates depends on nothing.
type PartCounter func(text string, fold bool) (encoding string, parts int, err error)

// Lint checks a set: files that did not load (syntax errors, unbalanced
// conditionals, bad headers), placeholders that are neither dossier fields
// nor declared in the "fields" header, declared fields never used, email
// templates without a subject, dossier statuses without an email or SMS
// template, sample data that is missing or does not render, unsafe links,
// and, when counter is not nil, SMS length: the parts of the sample
// rendered with and without folding, against the template's max_parts.
func Lint(set *Set, counter PartCounter) []Problem {
	var out []Problem
	out = append(out, set.problems...)
	for _, t := range set.list {
		out = append(out, lintTemplate(t, counter)...)
	}
	hasDossier, hasZalo := false, false
	for _, t := range set.list {
		hasDossier = hasDossier || t.Status != ""
		hasZalo = hasZalo || (t.Status != "" && t.Channel == Zalo)
	}
	if hasDossier {
		channels := []string{Email, SMS}
		if hasZalo {
			// Zalo is optional, but once a status has a ZNS mapping
			// every status needs one: an event's channels are the
			// same whatever its status.
			channels = append(channels, Zalo)
		}
		for _, ch := range channels {
			if _, ok := set.Get(ReminderID(ch)); !ok {
				out = append(out, Problem{Template: ReminderID(ch), Severity: SeverityError,
					Message: fmt.Sprintf("no %s template for appointment reminders", ch)})
			}
		}
		for _, st := range Statuses() {
			for _, ch := range channels {
				if _, ok := set.ForStatus(st, ch); !ok {
					out = append(out, Problem{Template: "dossier-" + st + "-" + ch, Severity: SeverityError,
						Message: fmt.Sprintf("no %s template for status %s", ch, st)})
				}
			}
		}
	}
	return out
}

func lintTemplate(t *Template, counter PartCounter) []Problem {
	var out []Problem
	add := func(sev, format string, args ...any) {
		out = append(out, Problem{Template: t.ID, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	known := map[string]bool{}
	for _, f := range DossierFields {
		known[f] = true
	}
	for _, f := range t.Declared {
		if slices.Contains(DossierFields, f) {
			add(SeverityWarning, "field %s is a dossier field; no need to declare it", f)
		}
		known[f] = true
	}
	used := map[string]bool{}
	unknown := map[string]bool{}
	check := func(name string, _ bool, _ int) {
		used[name] = true
		if !known[name] {
			unknown[name] = true
		}
	}
	walk(t.subject, 0, check)
	walk(t.body, 0, check)
	for _, p := range t.params {
		walk(p.value, 0, check)
	}
	for _, name := range sortedKeys(unknown) {
		add(SeverityError, "unknown placeholder ((%s)): not a dossier field and not declared in \"fields\"", name)
	}
	for _, f := range t.Declared {
		if !used[f] {
			add(SeverityWarning, "declared field %s is never used", f)
		}
	}
	if t.Channel == Email && len(t.subject) == 0 {
		add(SeverityError, "email template has no subject")
	}
	if len(t.body) == 0 && len(t.params) == 0 {
		add(SeverityError, "empty body")
	}
	if t.Status != "" && t.ID != "dossier-"+t.Status+"-"+t.Channel {
		add(SeverityWarning, "id should be dossier-%s-%s", t.Status, t.Channel)
	}
	if t.sample == nil {
		add(SeverityError, "no sample data (%s.sample.json)", t.ID)
		return out
	}
	r, err := t.Preview()
	if err != nil {
		var me *MissingError
		if errors.As(err, &me) {
			add(SeverityError, "sample data lacks required value(s): %s", strings.Join(me.Fields, ", "))
		} else {
			add(SeverityError, "sample does not render: %v", err)
		}
		return out
	}
	if t.Channel == Email {
		if r.Subject == "" && len(t.subject) > 0 {
			add(SeverityError, "subject renders empty")
		}
		if n := len([]rune(r.Subject)); n > 120 {
			add(SeverityWarning, "subject is %d characters; mail clients show about 60-80", n)
		}
		return out
	}
	if t.Channel == Zalo {
		for _, p := range r.ZNSParams {
			switch n := len([]rune(p.Value)); {
			case n == 0:
				add(SeverityError, "ZNS parameter %s renders empty for the sample; Zalo refuses an empty value", p.Name)
			case n > p.Max:
				add(SeverityWarning, "ZNS parameter %s is %d characters for the sample; Zalo takes %d (%s): it would be shortened", p.Name, n, p.Max, p.Type)
			}
		}
		return out
	}
	if counter == nil {
		return out
	}
	enc, parts, err := counter(r.Text, false)
	if err != nil {
		add(SeverityError, "counting SMS parts: %v", err)
		return out
	}
	fenc, fparts, err := counter(r.Text, true)
	if err != nil {
		add(SeverityError, "counting folded SMS parts: %v", err)
		return out
	}
	sentEnc, sentParts := enc, parts
	if t.FoldDiacritics {
		sentEnc, sentParts = fenc, fparts
		if fenc != "GSM-7" {
			add(SeverityWarning, "folded sample still needs %s (a character outside GSM-7 remains)", fenc)
		}
	}
	if sentParts > t.MaxParts {
		add(SeverityError, "sample SMS needs %d %s parts, more than max_parts %d (unfolded: %d %s, folded: %d %s)",
			sentParts, sentEnc, t.MaxParts, parts, enc, fparts, fenc)
	}
	if !t.FoldDiacritics && fparts < parts {
		add(SeverityWarning, "sample SMS takes %d %s parts; folding diacritics would take %d %s", parts, enc, fparts, fenc)
	}
	return out
}
