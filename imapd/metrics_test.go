package imapd

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"congthu/internal/metrics"
)

// scrape reads reg's exposition as series (name{labels}) and values.
func scrape(t *testing.T, reg *metrics.Registry) map[string]float64 {
	t.Helper()
	var b strings.Builder
	if err := reg.WriteText(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got[line[:i]] = v
	}
	return got
}

// TestMetrics: real sessions move the counters by exactly what they did.
func TestMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	m := NewMetrics(reg)
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
	got := scrape(t, reg)
	want := map[string]float64{
		`congthu_imap_connections_total{listener="imaps"}`:              1,
		`congthu_imap_connections_total{listener="imap"}`:               0,
		`congthu_imap_connections_open`:                                 0,
		`congthu_login_attempts_total{protocol="imap",result="ok"}`:     1,
		`congthu_login_attempts_total{protocol="imap",result="failed"}`: 1,
		`congthu_login_attempts_total{protocol="imap",result="locked"}`: 0,
		`congthu_imap_commands_total{command="LOGIN",result="ok"}`:      1,
		`congthu_imap_commands_total{command="LOGIN",result="no"}`:      1,
		`congthu_imap_commands_total{command="SELECT",result="ok"}`:     1,
		`congthu_imap_commands_total{command="SELECT",result="no"}`:     1,
		`congthu_imap_commands_total{command="UID FETCH",result="ok"}`:  1,
		`congthu_imap_commands_total{command="FETCH",result="ok"}`:      1,
		`congthu_imap_commands_total{command="FETCH",result="bad"}`:     1, // "FETCH (", a syntax error
		`congthu_imap_commands_total{command="unknown",result="bad"}`:   1, // FROB
		`congthu_imap_commands_total{command="LOGOUT",result="ok"}`:     1,
		`congthu_imap_commands_total{command="STORE",result="ok"}`:      0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	var sum float64
	for k, v := range got {
		if strings.HasPrefix(k, "congthu_imap_commands_total") {
			sum += v
		}
	}
	if sum != 9 {
		t.Errorf("%v commands counted, want 9", sum)
	}
}

// TestMetricsNoAlloc: counting a command allocates nothing.
func TestMetricsNoAlloc(t *testing.T) {
	m := NewMetrics(metrics.NewRegistry())
	if n := testing.AllocsPerRun(100, func() { m.command("FETCH", true, resultOK); m.command("FROB", false, resultBAD) }); n != 0 {
		t.Errorf("%v allocations per command", n)
	}
}
