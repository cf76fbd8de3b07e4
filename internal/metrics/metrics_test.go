package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func text(t *testing.T, r *Registry) string {
	t.Helper()
	var b strings.Builder
	if err := r.WriteText(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExposition(t *testing.T) {
	r := NewRegistry()
	msgs := r.CounterVec("congthu_test_messages_total", "Messages by listener and result.", "listener", "result", "reason")
	msgs.With("mx", "accepted", "").Add(3)
	msgs.With("mx", "rejected", "dmarc").Inc()
	msgs.With("submission", "rejected", `we"ird\`+"\n").Inc()
	open := r.GaugeVec("congthu_test_open", "Open things.", "listener")
	open.With("mx").Add(2)
	open.With("mx").Dec()
	h := r.HistogramVec("congthu_test_duration_seconds", "Durations.", []float64{0.1, 1}, "op")
	h.With("x").Observe(0.05)
	h.With("x").Observe(0.1)
	h.With("x").Observe(0.5)
	h.With("x").Observe(7)
	r.Collect("congthu_test_queue_depth", "Depth, read at scrape time.", KindGauge, []string{"state"},
		func(ctx context.Context, add func(float64, ...string)) error {
			add(5, "queued")
			add(1.5, "due")
			return nil
		})
	r.Counter("congthu_test_plain_total", "No labels.").Inc()

	want := `# HELP congthu_test_duration_seconds Durations.
# TYPE congthu_test_duration_seconds histogram
congthu_test_duration_seconds_bucket{op="x",le="0.1"} 2
congthu_test_duration_seconds_bucket{op="x",le="1"} 3
congthu_test_duration_seconds_bucket{op="x",le="+Inf"} 4
congthu_test_duration_seconds_sum{op="x"} 7.65
congthu_test_duration_seconds_count{op="x"} 4
# HELP congthu_test_messages_total Messages by listener and result.
# TYPE congthu_test_messages_total counter
congthu_test_messages_total{listener="mx",result="accepted"} 3
congthu_test_messages_total{listener="mx",result="rejected",reason="dmarc"} 1
congthu_test_messages_total{listener="submission",result="rejected",reason="we\"ird\\\n"} 1
# HELP congthu_test_open Open things.
# TYPE congthu_test_open gauge
congthu_test_open{listener="mx"} 1
# HELP congthu_test_plain_total No labels.
# TYPE congthu_test_plain_total counter
congthu_test_plain_total 1
# HELP congthu_test_queue_depth Depth, read at scrape time.
# TYPE congthu_test_queue_depth gauge
congthu_test_queue_depth{state="due"} 1.5
congthu_test_queue_depth{state="queued"} 5
`
	if got := text(t, r); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRegisterTwice(t *testing.T) {
	r := NewRegistry()
	a := r.CounterVec("congthu_login_attempts_total", "Logins.", "protocol", "result")
	b := r.CounterVec("congthu_login_attempts_total", "Logins.", "protocol", "result")
	a.With("smtp", "ok").Inc()
	b.With("smtp", "ok").Inc()
	b.With("imap", "ok").Inc()
	if got := a.With("smtp", "ok").Value(); got != 2 {
		t.Errorf("shared family: got %d, want 2", got)
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"other labels", func() { r.CounterVec("congthu_login_attempts_total", "Logins.", "protocol") }},
		{"other help", func() { r.CounterVec("congthu_login_attempts_total", "Other.", "protocol", "result") }},
		{"other kind", func() { r.GaugeVec("congthu_login_attempts_total", "Logins.", "protocol", "result") }},
		{"counter without _total", func() { r.Counter("congthu_x", "x") }},
		{"bad name", func() { r.GaugeVec("congthu-x", "x") }},
		{"bad label", func() { r.GaugeVec("congthu_y", "y", "le") }},
		{"too many labels", func() { r.GaugeVec("congthu_z", "z", "a", "b", "c", "d", "e") }},
		{"wrong number of values", func() { a.With("smtp") }},
		{"unsorted buckets", func() { r.HistogramVec("congthu_h", "h", []float64{2, 1}) }},
		{"collected twice", func() {
			fn := func(context.Context, func(float64, ...string)) error { return nil }
			r.Collect("congthu_c", "c", KindGauge, nil, fn)
			r.Collect("congthu_c", "c", KindGauge, nil, fn)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestCollectorError(t *testing.T) {
	r := NewRegistry()
	r.Counter("congthu_a_total", "A.").Inc()
	r.Collect("congthu_b", "B.", KindGauge, nil, func(ctx context.Context, add func(float64, ...string)) error {
		return errors.New("store down")
	})
	var b strings.Builder
	err := r.WriteText(context.Background(), &b)
	if err == nil || !strings.Contains(err.Error(), "congthu_b: store down") {
		t.Errorf("got error %v, want the collector's", err)
	}
	if !strings.Contains(b.String(), "congthu_a_total 1\n") {
		t.Errorf("the other families were not written:\n%s", b.String())
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.Contains(string(body), "congthu_a_total 1\n") || !strings.Contains(string(body), "# error: metrics: congthu_b: store down") {
		t.Errorf("served:\n%s", body)
	}
}

// Counting on a hot path allocates nothing, and a resolved series costs
// no lookup.
func TestNoAllocation(t *testing.T) {
	r := NewRegistry()
	c := r.CounterVec("congthu_a_total", "A.", "x", "y").With("1", "2")
	g := r.GaugeVec("congthu_g", "G.", "x").With("1")
	h := r.HistogramVec("congthu_h_seconds", "H.", []float64{0.1, 1}, "x").With("1")
	v := r.CounterVec("congthu_a_total", "A.", "x", "y")
	if n := testing.AllocsPerRun(1000, func() {
		c.Inc()
		g.Inc()
		g.Dec()
		h.Observe(0.3)
		v.With("1", "2").Inc()
	}); n != 0 {
		t.Errorf("%v allocations per count, want 0", n)
	}
}

func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	v := r.CounterVec("congthu_a_total", "A.", "x")
	h := r.HistogramVec("congthu_h_seconds", "H.", []float64{1}).With()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := v.With(string(rune('a' + i%2)))
			for range 1000 {
				c.Inc()
				h.Observe(0.5)
			}
			text(t, r)
		}()
	}
	wg.Wait()
	got := text(t, r)
	for _, line := range []string{`congthu_a_total{x="a"} 4000`, `congthu_a_total{x="b"} 4000`, `congthu_h_seconds_count 8000`, `congthu_h_seconds_sum 4000`} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
}

func BenchmarkCounterInc(b *testing.B) {
	c := NewRegistry().CounterVec("congthu_a_total", "A.", "x").With("1")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

func TestParseText(t *testing.T) {
	r := NewRegistry()
	r.CounterVec("congthu_a_total", "A.", "x").With(`sp ace"q`).Add(2)
	r.HistogramVec("congthu_h_seconds", "H.", []float64{1}).With().Observe(0.5)
	got, err := ParseText(strings.NewReader(text(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`congthu_a_total{x="sp ace\"q"}`:      2,
		`congthu_h_seconds_bucket{le="1"}`:    1,
		`congthu_h_seconds_bucket{le="+Inf"}`: 1,
		`congthu_h_seconds_sum`:               0.5,
		`congthu_h_seconds_count`:             1,
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	if _, err := ParseText(strings.NewReader("novalue\n")); err == nil {
		t.Errorf("a line without a value was read")
	}
}

// Collected families that come from one reading share it within a
// scrape, and read again at the next.
func TestOnce(t *testing.T) {
	r := NewRegistry()
	reads := 0
	type key struct{}
	read := func(ctx context.Context) (int, error) {
		return Once(ctx, key{}, func() (int, error) { reads++; return reads * 10, nil })
	}
	for _, name := range []string{"congthu_x", "congthu_y"} {
		r.Collect(name, "X.", KindGauge, nil, func(ctx context.Context, add func(float64, ...string)) error {
			v, err := read(ctx)
			add(float64(v))
			return err
		})
	}
	if got := text(t, r); !strings.Contains(got, "congthu_x 10\n") || !strings.Contains(got, "congthu_y 10\n") {
		t.Errorf("first scrape:\n%s", got)
	}
	if got := text(t, r); !strings.Contains(got, "congthu_x 20\n") || !strings.Contains(got, "congthu_y 20\n") {
		t.Errorf("second scrape:\n%s", got)
	}
	if v, _ := read(context.Background()); v != 30 {
		t.Errorf("outside a scrape: got %d, want a fresh reading 30", v)
	}
}

// FuzzExposition: whatever a label value holds, the exposition keeps one
// line per series, and reading it back finds the series with its value.
func FuzzExposition(f *testing.F) {
	for _, s := range []string{"", "mx", `a"b`, `back\slash`, "new\nline", "dấu tiếng Việt", "} 1\nfake 2", "\\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := NewRegistry()
		r.CounterVec("congthu_f_total", "F.", "x").With(v).Add(7)
		out := text(t, r)
		if n := strings.Count(out, "\n"); n != 3 {
			t.Fatalf("%d lines for one series:\n%s", n, out)
		}
		got, err := ParseText(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		want := "congthu_f_total"
		if v != "" {
			want += `{x="` + escapeValue(v) + `"}`
		}
		if len(got) != 1 || got[want] != 7 {
			t.Fatalf("read back %v, want %s 7", got, want)
		}
	})
}
