package zalochan

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"congthu/dossier"
	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/templates"
)

// Kind is the Zalo channel as the accepting side sees it (a notify.Kind):
// it sends to the applicant's phone, the ZNS template and parameters of a
// rendered zalo template.
type Kind struct{}

// Name is notify.ChannelZalo.
func (Kind) Name() string { return notify.ChannelZalo }

// Contact is the applicant's phone.
func (Kind) Contact() dossier.Contact { return dossier.ContactPhone }

// Prepare records r's ZNS template id and parameters, each within Zalo's
// limit for its type: a longer value is shortened (Shorten), and the
// notification's first timeline entry says which and to how many
// characters.
func (Kind) Prepare(n *notifydb.NewNotification, r *templates.Rendered, m *notify.Message) error {
	if r.ZNSTemplateID == "" {
		return fmt.Errorf("zalochan: template %s is not a zalo template", r.ID)
	}
	data := make(map[string]string, len(r.ZNSParams))
	var notes []string
	var text strings.Builder
	for _, p := range r.ZNSParams {
		v := p.Value
		if s, cut := Shorten(v, p.Max); cut {
			notes = append(notes, fmt.Sprintf("%s shortened from %d to %d characters (Zalo's limit for %s)", p.Name, len([]rune(v)), len([]rune(s)), p.Type))
			v = s
		}
		data[p.Name] = v
		fmt.Fprintf(&text, "%s: %s\n", p.Name, v)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	n.ZNSTemplateID, n.ZNSData = r.ZNSTemplateID, string(b)
	n.Text = strings.TrimSuffix(text.String(), "\n")
	if len(notes) > 0 {
		n.StatusDetail = "ZNS: " + strings.Join(notes, "; ")
	}
	return nil
}

// Shorten returns s cut to at most max characters (runes), at the last
// word boundary that leaves room for "…", which ends it; a single word
// longer than that is cut inside. cut reports whether s was changed.
func Shorten(s string, max int) (out string, cut bool) {
	r := []rune(s)
	if len(r) <= max || max <= 0 {
		return s, false
	}
	if max == 1 {
		return "…", true
	}
	keep := r[:max-1]
	if i := lastSpace(keep); i > 0 && !unicode.IsSpace(r[max-1]) {
		keep = keep[:i]
	}
	return strings.TrimRightFunc(string(keep), func(c rune) bool { return unicode.IsSpace(c) || unicode.IsPunct(c) }) + "…", true
}

func lastSpace(r []rune) int {
	for i := len(r) - 1; i >= 0; i-- {
		if unicode.IsSpace(r[i]) {
			return i
		}
	}
	return -1
}
