package zalochan

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/templates"
)

func TestShorten(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"Nguyễn Văn An", 30, "Nguyễn Văn An"},
		{"Ủy ban nhân dân quận Hoàn Kiếm, thành phố Hà Nội", 30, "Ủy ban nhân dân quận Hoàn…"},
		{"Ủy ban nhân dân quận Hoàn Kiếm", 30, "Ủy ban nhân dân quận Hoàn Kiếm"},
		{"Ủy ban nhân dân quận Hoàn Kiếm!", 30, "Ủy ban nhân dân quận Hoàn…"},
		{"Mộtchữrấtdàikhôngcókhoảngtrắng", 10, "Mộtchữrất…"},
		{"ab cd", 1, "…"},
		{"", 5, ""},
	} {
		got, cut := Shorten(c.in, c.max)
		if got != c.want || cut != (c.in != c.want) {
			t.Errorf("Shorten(%q, %d) = %q, %v; want %q", c.in, c.max, got, cut, c.want)
		}
		if utf8.RuneCountInString(got) > c.max && c.max > 0 {
			t.Errorf("Shorten(%q, %d) = %q: over the limit", c.in, c.max, got)
		}
	}
}

func FuzzShorten(f *testing.F) {
	f.Add("Ủy ban nhân dân quận Hoàn Kiếm", 30)
	f.Add("a b", 2)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1000 || !utf8.ValidString(s) {
			return
		}
		got, cut := Shorten(s, max)
		if !cut {
			if got != s {
				t.Fatalf("not cut but changed: %q → %q", s, got)
			}
			return
		}
		if utf8.RuneCountInString(got) > max || !strings.HasSuffix(got, "…") {
			t.Fatalf("Shorten(%q, %d) = %q", s, max, got)
		}
	})
}

func TestKindPrepare(t *testing.T) {
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := set.ForStatus(templates.StatusReceived, templates.Zalo)
	data := tm.Sample()
	data["agency"] = strings.Repeat("Ủy ban nhân dân phường Phúc Tân ", 10)
	r, err := tm.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	var n notifydb.NewNotification
	if err := (Kind{}).Prepare(&n, r, &notify.Message{}); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(n.ZNSData), &got); err != nil {
		t.Fatal(err)
	}
	if n.ZNSTemplateID != "248001" || got["customer_name"] != "Nguyễn Văn An" || got["dossier_code"] != "000.00.12.H26-260315-0001" {
		t.Errorf("prepared %s %v", n.ZNSTemplateID, got)
	}
	if a := got["agency"]; utf8.RuneCountInString(a) > 200 || !strings.HasSuffix(a, "…") {
		t.Errorf("agency %q not shortened to 200", a)
	}
	if !strings.Contains(n.StatusDetail, "agency shortened from 319 to") || !strings.Contains(n.Text, "agency: Ủy ban") {
		t.Errorf("detail %q text %q", n.StatusDetail, n.Text)
	}
}
