package imapd

import (
	"strings"
	"testing"
)

// TestSearchSentDateAsEnvelope: SEARCH SENTON/SENTSINCE/SENTBEFORE
// compare the date ENVELOPE shows (and SORT (DATE) uses), read the same
// way: a header whose reading stops at a malformed line before Date has
// no sent date for SEARCH either, and a Date split by a bare CR is read
// as ENVELOPE reads it. A bare local part's placeholder host is not an
// address SEARCH finds.
func TestSearchSentDateAsEnvelope(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := dialLoggedIn(t, e, "")
	imaptestMailbox(t, r, "sentdate", nil,
		"Bad Key: x\nDate: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: a@b.vn",
		"Date: Thu, 15 Feb 2007\r 01:02:03 +0200\nFrom: a@b.vn",
		"Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: a@b.vn\nTo: d",
	)
	r.send("f FETCH 1:3 (ENVELOPE)\r\n")
	var dated []string
	for range 3 {
		got := r.expect("* ")
		if !strings.Contains(got, "(ENVELOPE (NIL ") {
			dated = append(dated, got[2:3])
		}
	}
	r.expect("f OK")
	if strings.Join(dated, " ") != "2 3" {
		t.Fatalf("ENVELOPE shows a date for messages %v, want 2 3", dated)
	}
	imaptestExpect(t, r, [][2]string{
		{"SEARCH SENTON 15-Feb-2007", "* SEARCH 2 3"},
		{"SEARCH SENTSINCE 14-Feb-2007", "* SEARCH 2 3"},
		{"SEARCH NOT SENTBEFORE 1-Jan-2030", "* SEARCH 1"},
		{"SEARCH TO d", "* SEARCH 3"},
		{"SEARCH TO missing", "* SEARCH"},
		{"SORT (DATE) UTF-8 SENTSINCE 1-Jan-2000", "* SORT 2 3"},
	})
}
