package dispatcher

import (
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"congthu/internal/metrics"
	"congthu/internal/testdns"
	"congthu/outbox"
)

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	samples, err := metrics.ParseText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

// wantMoved checks that the counters named by want moved from before to
// after by exactly that much, and that no other outbox counter moved.
func wantMoved(t *testing.T, before, after, want map[string]float64) {
	t.Helper()
	var names []string
	for k := range after {
		if strings.HasPrefix(k, "congthu_outbox_outcomes_total") || strings.HasPrefix(k, "congthu_outbox_dsns_total") {
			names = append(names, k)
		}
	}
	for k := range want {
		if _, ok := after[k]; !ok {
			t.Errorf("no series %s", k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if got := after[k] - before[k]; got != want[k] {
			t.Errorf("%s moved by %v, want %v", k, got, want[k])
		}
	}
}

// TestMetricsOutcomes delivers to a go-smtp sink standing in for remote
// MX hosts: one recipient delivered per destination class, one refused
// (a bounce), one deferred and then expired; and one in a domain that
// became local. The counters and the outbox's backlog are read through
// HTTP after each attempt.
func TestMetricsOutcomes(t *testing.T) {
	sk := startSink(t, sinkOpts{rcpt: func(rcpt string) error {
		switch {
		case strings.HasPrefix(rcpt, "nobody@"):
			return smtpErr(550, [3]int{5, 1, 1}, "mailbox unavailable")
		case strings.HasPrefix(rcpt, "later@"):
			return smtpErr(451, [3]int{4, 3, 0}, "try again later")
		}
		return nil
	}})
	reg := metrics.NewRegistry()
	e := newEnv(t, envOpts{noRun: true, opts: func(o *Options) {
		o.Port = portOf(t, sk.addr)
		o.Metrics = NewMetrics(reg)
		o.RetrySchedule = []time.Duration{time.Minute}
	}})
	e.st.Outbox().RegisterMetrics(reg, e.clock.Now)
	for _, d := range []string{"remote.test", "mof.gov.vn", "congty.vn"} {
		e.mx(d, testdns.MX{Pref: 10, Host: "mx." + d})
		e.dns.SetA("mx."+d, "127.0.0.1")
	}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	before := scrape(t, srv.URL)

	rcpts := []string{"carol@remote.test", "nobody@remote.test", "vp@mof.gov.vn", "later@congty.vn", "alice@local.test"}
	id := e.submit("alice@local.test", rcpts, message("alice@local.test", "carol@remote.test", "Báo cáo tháng", 2000))
	if _, err := e.d.AttemptNow(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, srv.URL)
	wantMoved(t, before, after, map[string]float64{
		`congthu_outbox_outcomes_total{result="delivered",destination="remote_other"}`:  1,
		`congthu_outbox_outcomes_total{result="delivered",destination="remote_gov_vn"}`: 1,
		`congthu_outbox_outcomes_total{result="delivered",destination="local"}`:         1,
		`congthu_outbox_outcomes_total{result="failed",destination="remote_other"}`:     1,
		`congthu_outbox_outcomes_total{result="deferred",destination="remote_vn"}`:      1,
		`congthu_outbox_dsns_total{action="failed"}`:                                    1,
	})
	if got := after[`congthu_outbox_recipients{state="deferred"}`]; got != 1 {
		t.Errorf("deferred recipients: got %v, want 1", got)
	}
	if got := after[`congthu_outbox_recipients{state="due"}`]; got != 0 {
		t.Errorf("due recipients: got %v, want 0", got)
	}
	if got := after[`congthu_outbox_oldest_due_seconds`]; got != 0 {
		t.Errorf("oldest due: got %v s, want 0", got)
	}

	// Past the message's lifetime: the deferred recipient is due (by
	// about as long, less the minute of its retry), then expires.
	e.clock.Advance(121 * time.Hour)
	late := scrape(t, srv.URL)
	if got := late[`congthu_outbox_recipients{state="due"}`]; got != 1 {
		t.Errorf("due recipients: got %v, want 1", got)
	}
	if got, want := late[`congthu_outbox_oldest_due_seconds`], (121*time.Hour - time.Minute).Seconds(); math.Abs(got-want) > 30 {
		t.Errorf("oldest due: got %v s, want about %v", got, want)
	}
	if got, want := late[`congthu_outbox_oldest_queued_age_seconds`], (121 * time.Hour).Seconds(); math.Abs(got-want) > 30 {
		t.Errorf("oldest queued: got %v s, want about %v", got, want)
	}
	if _, err := e.d.AttemptNow(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := e.state(id)["later@congty.vn"]; r.Status != outbox.Expired {
		t.Fatalf("later@: status %q, want expired", r.Status)
	}
	end := scrape(t, srv.URL)
	wantMoved(t, after, end, map[string]float64{
		`congthu_outbox_outcomes_total{result="expired",destination="remote_vn"}`: 1,
		`congthu_outbox_dsns_total{action="failed"}`:                              1,
	})
	for _, k := range []string{`congthu_outbox_recipients{state="due"}`, `congthu_outbox_recipients{state="deferred"}`,
		`congthu_outbox_oldest_due_seconds`, `congthu_outbox_oldest_queued_age_seconds`} {
		if end[k] != 0 {
			t.Errorf("%s: got %v, want 0", k, end[k])
		}
	}
	if n := len(e.inbox()); n != 3 {
		t.Errorf("alice's INBOX has %d messages, want 3 (the copy for alice@local.test and two DSNs)", n)
	}
}

func TestRemoteClass(t *testing.T) {
	for domain, want := range map[string]string{
		"hanoi.gov.vn": "remote_gov_vn", "STP.HANOI.GOV.VN.": "remote_gov_vn", "gov.vn": "remote_gov_vn",
		"congty.com.vn": "remote_vn", "vn": "remote_vn", "gmail.com": "remote_other", "notgov.vn.example": "remote_other",
		"xgov.vn": "remote_vn",
	} {
		if got := destinationNames[remoteClass(domain)]; got != want {
			t.Errorf("%s: got %s, want %s", domain, got, want)
		}
	}
}

// Counting an outcome or a DSN allocates nothing.
func TestMetricsNoAllocation(t *testing.T) {
	m := NewMetrics(metrics.NewRegistry())
	if n := testing.AllocsPerRun(1000, func() {
		m.outcome(outbox.Delivered, remoteClass("hanoi.gov.vn"))
		m.outcome(outbox.Queued, destLocal)
		m.dsn("failed")
	}); n != 0 {
		t.Errorf("%v allocations per round, want 0", n)
	}
}
