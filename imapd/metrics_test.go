package imapd

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// scrape reads every family of m as "name{labels} value" lines.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, f := range m.Families() {
		err := f.Collect(context.Background(), func(v float64, labels ...string) {
			var b strings.Builder
			b.WriteString(f.Name)
			for i, l := range labels {
				fmt.Fprintf(&b, ",%s=%s", f.Labels[i], l)
			}
			got[b.String()] = v
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// TestMetrics: real sessions move the counters by exactly what they did.
func TestMetrics(t *testing.T) {
	m := NewMetrics()
	e := newEnv(t, envOptions{opts: Options{Metrics: m}})
	e.deliver("", message("một", "vp@hanoi.gov.vn", "1"))
	r := dialRaw(t, e)
	r.send("a1 LOGIN " + testUser + " wrong\r\n")
	r.expect("a1 NO")
	r.send("a2 LOGIN " + testUser + " \"" + testPass + "\"\r\n")
	r.expect("a2 OK")
	r.send("a3 SELECT INBOX\r\na4 UID FETCH 1:* FLAGS\r\na5 FETCH 1 FLAGS\r\na6 FROB\r\na7 FETCH (\r\na8 SELECT Nothing\r\n")
	r.expect("a8 NO")
	r.send("a9 LOGOUT\r\n")
	r.expect("a9 OK")
	r.closed()
	got := scrape(t, m)
	want := map[string]float64{
		"congthu_imap_sessions_total,listener=imaps":              1,
		"congthu_imap_sessions_total,listener=imap":               0,
		"congthu_imap_sessions_open":                              0,
		"congthu_imap_logins_total,result=ok":                     1,
		"congthu_imap_logins_total,result=failed":                 1,
		"congthu_imap_logins_total,result=locked":                 0,
		"congthu_imap_commands_total,command=LOGIN,result=ok":     1,
		"congthu_imap_commands_total,command=LOGIN,result=no":     1,
		"congthu_imap_commands_total,command=SELECT,result=ok":    1,
		"congthu_imap_commands_total,command=SELECT,result=no":    1,
		"congthu_imap_commands_total,command=UID FETCH,result=ok": 1,
		"congthu_imap_commands_total,command=FETCH,result=ok":     1,
		"congthu_imap_commands_total,command=unknown,result=bad":  1, // FROB
		"congthu_imap_commands_total,command=FETCH,result=bad":    1, // "FETCH (", a syntax error
		"congthu_imap_commands_total,command=LOGOUT,result=ok":    1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
}

// TestMetricsNoAlloc: counting a command allocates nothing.
func TestMetricsNoAlloc(t *testing.T) {
	m := NewMetrics()
	if n := testing.AllocsPerRun(100, func() { m.command("FETCH", true, resultOK); m.command("FROB", false, resultBAD) }); n != 0 {
		t.Errorf("%v allocations per command", n)
	}
}
