package sortthread

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseMsgIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"<a@x>", []string{"a@x"}},
		{"<a@x> <b@x>\r\n\t<c@x>", []string{"a@x", "b@x", "c@x"}},
		{"<a@x><b@x>", []string{"a@x", "b@x"}},
		{`"John's message" <a@x> (sent <not@id>) <b@x>`, []string{"a@x", "b@x"}},
		{"(nested (comment <no@id>) still) <a@x>", []string{"a@x"}},
		{`("\)" <no@id>) <a@x>`, []string{"a@x"}},
		{"<a\r\n @x>", []string{"a@x"}},
		{"<> <a@x>", []string{"a@x"}},
		{"<a@x> <unclosed@x", []string{"a@x"}},
		{"<<a@x>", nil},
		{"no ids at all", nil},
		{"<" + strings.Repeat("a", MaxMsgIDLen+1) + "> <b@x>", []string{"b@x"}},
		{"(unclosed comment <a@x>", nil},
		{`"unclosed quote <a@x>`, nil},
	}
	for _, tt := range tests {
		if got := ParseMsgIDs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("ParseMsgIDs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("<%d@x>", i))
	}
	got := ParseMsgIDs(strings.Join(many, " "))
	if len(got) != MaxReferences || got[len(got)-1] != "999@x" {
		t.Errorf("1,000 ids: got %d ending %q, want the last %d", len(got), got[len(got)-1], MaxReferences)
	}
}

func TestMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<a@x>", "a@x"},
		{" <a@x> (comment)", "a@x"},
		{"a@x", "a@x"}, // bare, as imap.Envelope holds it
		{"", ""},
		{"<>", ""},
		{"two words", ""},
	}
	for _, tt := range tests {
		if got := messageID(tt.in); got != tt.want {
			t.Errorf("messageID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
