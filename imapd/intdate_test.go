package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestInternalDateZone: INTERNALDATE keeps the zone it was APPENDed with
// (FETCH shows it, COPY keeps it) and SEARCH BEFORE/ON/SINCE take each
// message's date in its own zone, as imaptest's search-intdate expects:
// two messages at the same instant, appended in +0200 and +0300 on either
// side of midnight, fall on different days.
func TestInternalDateZone(t *testing.T) {
	backends(t, func(t *testing.T, eo envOptions) {
		e := newEnv(t, eo)
		r := dialLoggedIn(t, e, "")
		raw := message("Hồ sơ", "motcua@hanoi.gov.vn", "x")
		dates := []string{"24-Mar-2007 23:30:00 +0200", "25-Mar-2007 00:30:00 +0300"}
		for i, d := range dates {
			r.send(fmt.Sprintf("a%d APPEND INBOX \"%s\" {%d+}\r\n%s\r\n", i, d, len(raw), raw))
			r.expect(fmt.Sprintf("a%d OK", i))
		}
		r.send("s0 SELECT INBOX\r\n")
		r.expect("s0 OK")
		r.send("f1 FETCH 1:2 INTERNALDATE\r\n")
		for i, d := range dates {
			if got := r.expect("* "); !strings.Contains(got, `INTERNALDATE "`+d+`"`) {
				t.Errorf("message %d: got %q, want INTERNALDATE %q", i+1, got, d)
			}
		}
		r.expect("f1 OK")
		for _, tc := range []struct{ q, want string }{
			{"ON 24-Mar-2007", "* SEARCH 1"},
			{"ON 25-Mar-2007", "* SEARCH 2"},
			{"BEFORE 25-Mar-2007", "* SEARCH 1"},
			{"SINCE 25-Mar-2007", "* SEARCH 2"},
			{"SINCE 24-Mar-2007 BEFORE 26-Mar-2007", "* SEARCH 1 2"},
			{"ON 23-Mar-2007", "* SEARCH"},
		} {
			r.send("q SEARCH " + tc.q + "\r\n")
			if got := strings.TrimRight(r.expect("* SEARCH"), "\r\n"); got != tc.want {
				t.Errorf("SEARCH %s: got %q, want %q", tc.q, got, tc.want)
			}
			r.expect("q OK")
		}
		r.send("c1 COPY 1:2 Archive\r\nc2 SELECT Archive\r\nc3 FETCH 1:2 INTERNALDATE\r\n")
		r.expect("c2 OK")
		for i, d := range dates {
			if got := r.expect("* "); !strings.Contains(got, `INTERNALDATE "`+d+`"`) {
				t.Errorf("copy of message %d: got %q, want INTERNALDATE %q", i+1, got, d)
			}
		}
		r.expect("c3 OK")
	})
}
