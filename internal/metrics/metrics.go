// Package metrics is the process's registry of Prometheus metrics and
// their text exposition (format version 0.0.4), with the standard library
// only: the few kinds congthu uses (counters, gauges, histograms, values
// read at scrape time) do not need client_golang and the modules it
// brings (client_model, common, procfs, protobuf).
//
// A package registers its families once, when it is built, and resolves
// the label values it will use to *Counter, *Gauge or *Histogram handles
// then, so that counting on a hot path is one atomic add: no lock, no map
// lookup, no allocation.
//
//	reg := metrics.NewRegistry()
//	msgs := reg.CounterVec("congthu_smtp_messages_total", "Mail transactions ...", "listener", "result")
//	accepted := msgs.With("mx", "accepted") // once
//	accepted.Inc()                          // per message
//
// Registering a family that exists returns it when its kind, help and
// label names are the same (two servers may share one family, each with
// its own label values) and panics otherwise: a name means one thing.
// Figures that live elsewhere (a queue's depth in the store) are read at
// scrape time by a collector (Registry.Collect).
//
// Names follow Prometheus' conventions: base units (seconds, bytes),
// counters end in _total, and labels take a small, fixed set of values.
package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a family's metric type, as the exposition's TYPE line names it.
type Kind string

// The kinds of families.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
)

// maxLabels bounds the label names of a family: a series is found by an
// array of this many values, which needs no allocation.
const maxLabels = 4

type labelKey [maxLabels]string

var nameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Registry holds families of metrics and writes them. It is safe for
// concurrent use.
type Registry struct {
	mu   sync.Mutex
	fams map[string]*family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{fams: map[string]*family{}}
}

// family is one metric name: its description and its series.
type family struct {
	desc    Desc
	buckets []float64 // histograms

	mu     sync.RWMutex
	series map[labelKey]any // *Counter, *Gauge or *Histogram

	collect CollectFunc // collected families
}

// Desc describes a family (for generated documentation).
type Desc struct {
	Name   string
	Help   string
	Kind   Kind
	Labels []string
	// Collected: the values are read at scrape time (Registry.Collect).
	Collected bool
}

func (r *Registry) register(d Desc, buckets []float64, collect CollectFunc) *family {
	if !nameRE.MatchString(d.Name) {
		panic(fmt.Sprintf("metrics: bad metric name %q", d.Name))
	}
	if len(d.Labels) > maxLabels {
		panic(fmt.Sprintf("metrics: %s: more than %d labels", d.Name, maxLabels))
	}
	for _, l := range d.Labels {
		if !labelRE.MatchString(l) || l == "le" || strings.HasPrefix(l, "__") {
			panic(fmt.Sprintf("metrics: %s: bad label name %q", d.Name, l))
		}
	}
	if d.Kind == KindCounter && !strings.HasSuffix(d.Name, "_total") {
		panic(fmt.Sprintf("metrics: counter %s must end in _total", d.Name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.fams[d.Name]; f != nil {
		if f.desc.Kind != d.Kind || f.desc.Help != d.Help || !slices.Equal(f.desc.Labels, d.Labels) ||
			!slices.Equal(f.buckets, buckets) || f.desc.Collected || collect != nil {
			panic(fmt.Sprintf("metrics: %s registered twice differently", d.Name))
		}
		return f
	}
	f := &family{desc: d, buckets: buckets, series: map[labelKey]any{}, collect: collect}
	f.desc.Labels = slices.Clone(d.Labels)
	r.fams[d.Name] = f
	return f
}

// key checks values against the family's labels.
func (f *family) key(values []string) labelKey {
	if len(values) != len(f.desc.Labels) {
		panic(fmt.Sprintf("metrics: %s has labels %v, got %d values", f.desc.Name, f.desc.Labels, len(values)))
	}
	var k labelKey
	copy(k[:], values)
	return k
}

// get returns the series of values, made by mk the first time.
func (f *family) get(values []string, mk func() any) any {
	k := f.key(values)
	f.mu.RLock()
	s := f.series[k]
	f.mu.RUnlock()
	if s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[k]; s == nil {
		s = mk()
		f.series[k] = s
	}
	return s
}

// Counter is a count that only goes up.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Gauge is a value that goes up and down (a number of open connections).
type Gauge struct{ v atomic.Int64 }

// Add adds n (negative to subtract).
func (g *Gauge) Add(n int64) { g.v.Add(n) }

// Inc adds one.
func (g *Gauge) Inc() { g.v.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.v.Add(-1) }

// Set sets the value.
func (g *Gauge) Set(n int64) { g.v.Store(n) }

// Value returns the value.
func (g *Gauge) Value() int64 { return g.v.Load() }

// Histogram counts observations into buckets by upper bound.
type Histogram struct {
	upper  []float64       // shared with the family
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	n      atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

func newHistogram(upper []float64) *Histogram {
	return &Histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

// Observe records v (in the family's unit: seconds, bytes).
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v) // the first bound >= v
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.n.Add(1)
}

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// CounterVec is a family of counters told apart by label values.
type CounterVec struct{ f *family }

// Counter registers (or returns) a counter without labels.
func (r *Registry) Counter(name, help string) *Counter {
	return r.CounterVec(name, help).With()
}

// CounterVec registers (or returns) a family of counters with the given
// label names.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{r.register(Desc{Name: name, Help: help, Kind: KindCounter, Labels: labels}, nil, nil)}
}

// With returns the counter of the label values (in the order of the
// names), created at zero the first time: resolve it once, outside the
// hot path. A series exists, and is written, from then on.
func (v *CounterVec) With(values ...string) *Counter {
	return v.f.get(values, func() any { return new(Counter) }).(*Counter)
}

// GaugeVec is a family of gauges told apart by label values.
type GaugeVec struct{ f *family }

// GaugeVec registers (or returns) a family of gauges.
func (r *Registry) GaugeVec(name, help string, labels ...string) *GaugeVec {
	return &GaugeVec{r.register(Desc{Name: name, Help: help, Kind: KindGauge, Labels: labels}, nil, nil)}
}

// With returns the gauge of the label values (see CounterVec.With).
func (v *GaugeVec) With(values ...string) *Gauge {
	return v.f.get(values, func() any { return new(Gauge) }).(*Gauge)
}

// HistogramVec is a family of histograms told apart by label values.
type HistogramVec struct{ f *family }

// HistogramVec registers (or returns) a family of histograms with the
// given upper bounds (ascending; +Inf is implied).
func (r *Registry) HistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if len(buckets) == 0 || !slices.IsSorted(buckets) || math.IsInf(buckets[len(buckets)-1], 1) {
		panic(fmt.Sprintf("metrics: %s: buckets must be ascending and finite", name))
	}
	return &HistogramVec{r.register(Desc{Name: name, Help: help, Kind: KindHistogram, Labels: labels}, slices.Clone(buckets), nil)}
}

// With returns the histogram of the label values (see CounterVec.With).
func (v *HistogramVec) With(values ...string) *Histogram {
	return v.f.get(values, func() any { return newHistogram(v.f.buckets) }).(*Histogram)
}

// CollectFunc reads a collected family's values at scrape time, calling
// add once per series with its value and label values (in the order of
// the family's label names). An error is reported by WriteText; what was
// added before it is written.
type CollectFunc func(ctx context.Context, add func(value float64, labelValues ...string)) error

// Collect registers a family (a counter or a gauge) whose values fn reads
// at scrape time, from where they live: the store, Redis, another
// component's own counters.
func (r *Registry) Collect(name, help string, kind Kind, labels []string, fn CollectFunc) {
	if kind == KindHistogram || fn == nil {
		panic(fmt.Sprintf("metrics: %s: a collected family is a counter or a gauge, with a function", name))
	}
	r.register(Desc{Name: name, Help: help, Kind: kind, Labels: labels, Collected: true}, nil, fn)
}

// Describe lists the registered families, by name.
func (r *Registry) Describe() []Desc {
	fams := r.sorted()
	out := make([]Desc, len(fams))
	for i, f := range fams {
		out[i] = f.desc
		out[i].Labels = slices.Clone(f.desc.Labels)
	}
	return out
}

func (r *Registry) sorted() []*family {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.fams))
	for _, f := range r.fams {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].desc.Name < fams[j].desc.Name })
	return fams
}

type scrapeKey struct{}

// scrape is what collectors of one WriteText share.
type scrape struct {
	mu   sync.Mutex
	memo map[any]onceResult
}

type onceResult struct {
	v   any
	err error
}

// Once returns fn's result, calling it once per scrape for key: several
// collected families that come from one reading (one query) share it.
// Outside a scrape it calls fn.
func Once[T any](ctx context.Context, key any, fn func() (T, error)) (T, error) {
	s, _ := ctx.Value(scrapeKey{}).(*scrape)
	if s == nil {
		return fn()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.memo[key]; ok {
		v, _ := r.v.(T)
		return v, r.err
	}
	v, err := fn()
	s.memo[key] = onceResult{v, err}
	return v, err
}

// ContentType is the media type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every family in the text exposition format, by name,
// each series by its label values. Collectors run with ctx; their errors
// are returned together, after everything else was written.
func (r *Registry) WriteText(ctx context.Context, w io.Writer) error {
	ctx = context.WithValue(ctx, scrapeKey{}, &scrape{memo: map[any]onceResult{}})
	bw := bufio.NewWriter(w)
	var errs []error
	for _, f := range r.sorted() {
		if err := f.write(ctx, bw); err != nil {
			errs = append(errs, fmt.Errorf("metrics: %s: %w", f.desc.Name, err))
		}
	}
	if err := bw.Flush(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type sample struct {
	key   labelKey
	value float64
}

func (f *family) write(ctx context.Context, w *bufio.Writer) error {
	d := f.desc
	w.WriteString("# HELP ")
	w.WriteString(d.Name)
	w.WriteByte(' ')
	w.WriteString(escapeHelp(d.Help))
	w.WriteString("\n# TYPE ")
	w.WriteString(d.Name)
	w.WriteByte(' ')
	w.WriteString(string(d.Kind))
	w.WriteByte('\n')
	if f.collect != nil {
		var samples []sample
		err := f.collect(ctx, func(v float64, values ...string) {
			samples = append(samples, sample{f.key(values), v})
		})
		sort.SliceStable(samples, func(i, j int) bool { return less(samples[i].key, samples[j].key) })
		for _, s := range samples {
			writeSample(w, d.Name, "", d.Labels, s.key, "", "", formatFloat(s.value))
		}
		return err
	}
	f.mu.RLock()
	keys := make([]labelKey, 0, len(f.series))
	for k := range f.series {
		keys = append(keys, k)
	}
	f.mu.RUnlock()
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	for _, k := range keys {
		f.mu.RLock()
		s := f.series[k]
		f.mu.RUnlock()
		switch s := s.(type) {
		case *Counter:
			writeSample(w, d.Name, "", d.Labels, k, "", "", strconv.FormatUint(s.Value(), 10))
		case *Gauge:
			writeSample(w, d.Name, "", d.Labels, k, "", "", strconv.FormatInt(s.Value(), 10))
		case *Histogram:
			// Read the count first: the buckets may then hold more
			// (observations since), never fewer, and +Inf is the
			// count itself, so the series stays consistent.
			n := s.n.Load()
			var cum uint64
			for i, ub := range s.upper {
				cum += s.counts[i].Load()
				writeSample(w, d.Name, "_bucket", d.Labels, k, "le", formatFloat(ub), strconv.FormatUint(min(cum, n), 10))
			}
			writeSample(w, d.Name, "_bucket", d.Labels, k, "le", "+Inf", strconv.FormatUint(n, 10))
			writeSample(w, d.Name, "_sum", d.Labels, k, "", "", formatFloat(math.Float64frombits(s.sum.Load())))
			writeSample(w, d.Name, "_count", d.Labels, k, "", "", strconv.FormatUint(n, 10))
		}
	}
	return nil
}

func less(a, b labelKey) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// writeSample writes one line; a label whose value is empty is left out
// (Prometheus takes an empty label for an absent one).
func writeSample(w *bufio.Writer, name, suffix string, labels []string, k labelKey, extra, extraValue, value string) {
	w.WriteString(name)
	w.WriteString(suffix)
	sep := byte('{')
	for i, l := range labels {
		if k[i] == "" {
			continue
		}
		w.WriteByte(sep)
		sep = ','
		w.WriteString(l)
		w.WriteString(`="`)
		w.WriteString(escapeValue(k[i]))
		w.WriteByte('"')
	}
	if extra != "" {
		w.WriteByte(sep)
		sep = ','
		w.WriteString(extra)
		w.WriteString(`="`)
		w.WriteString(extraValue)
		w.WriteByte('"')
	}
	if sep == ',' {
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(value)
	w.WriteByte('\n')
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
var valueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeValue(s string) string { return valueEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ServeHTTP serves the registry's exposition (for a listener of its own,
// or a page that wants the same counters). A collector's failure is
// answered with what could be read, and a comment naming it.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	err := r.WriteText(ctx, &b)
	if err != nil {
		b.WriteString("# error: " + strings.ReplaceAll(err.Error(), "\n", "; ") + "\n")
	}
	w.Header().Set("Content-Type", ContentType)
	io.WriteString(w, b.String())
}

// ParseText reads a text exposition (as WriteText writes it) into its
// samples: the series as written ("name{label=\"value\",...}") to its
// value. Comments and blank lines are skipped. It is what tests and tools
// compare scrapes with.
func ParseText(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			return nil, fmt.Errorf("metrics: line %d: no value: %q", n, line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: line %d: %w", n, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}
