package console

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"congthu/notify/notifydb"
	"congthu/queue"
)

// statusOrder is the order of statuses in the dashboard's bars.
var statusOrder = []string{notifydb.NotificationDelivered, notifydb.NotificationSending, notifydb.NotificationCreated,
	notifydb.NotificationScheduled, notifydb.NotificationTemporaryFailure, notifydb.NotificationPermanentFailure,
	notifydb.NotificationTechnicalFailure, notifydb.NotificationCancelled}

// statusColour fills a status's part of a bar (contrast checked against
// white text-free bars; the legend carries the words).
var statusColour = map[string]string{
	notifydb.NotificationDelivered:        "#1b6e3a",
	notifydb.NotificationSending:          "#1d5fa8",
	notifydb.NotificationCreated:          "#6b7280",
	notifydb.NotificationTemporaryFailure: "#b45309",
	notifydb.NotificationPermanentFailure: "#b91c1c",
	notifydb.NotificationTechnicalFailure: "#7c2d12",
	notifydb.NotificationScheduled:        "#6d28d9",
	notifydb.NotificationCancelled:        "#9ca3af",
}

type channelCounts struct {
	Channel string
	Total   int64
	By      []statusCount
}

type statusCount struct {
	Status string
	Count  int64
}

type period struct {
	Label    string
	Channels []channelCounts
	Chart    template.HTML
	Total    int64
}

type dashboardView struct {
	Periods  []period
	Latency  []notifydb.Latency
	Queues   []queue.Stats
	QueueErr string
	Accounts int64
	Disabled int64
	Spend    spendView
	// SpendAt is when Spend was read; SpendPending: no reading for
	// this month yet (one is under way).
	SpendAt      time.Time
	SpendPending bool
	SpendErr     string // the last reading failed
	Providers    []providerView
	HasHealth    bool // Options.Health is set
	Certs        []certView
	Generated    time.Time
}

// dashboard shows the last 24 hours and 7 days per channel and status,
// delivery latency, queue depths and dead letters, this month's SMS and
// Zalo spend per service, the providers' health and the certificates'
// expiry.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, sess *session) {
	now := s.now()
	v := dashboardView{Generated: now}
	// The store's reads run together: on PostgreSQL each is a round
	// trip and a scan of its own.
	var counts []notifydb.PeriodCount
	g, ctx := errgroup.WithContext(r.Context())
	g.Go(func() (err error) {
		counts, err = s.d.Notifications.CountsSince(ctx, now.Add(-7*24*time.Hour), now.Add(-24*time.Hour))
		return err
	})
	g.Go(func() (err error) {
		v.Latency, err = s.d.Notifications.DeliveryLatency(ctx, now.Add(-24*time.Hour))
		return err
	})
	g.Go(func() (err error) {
		v.Accounts, v.Disabled, err = s.d.Store.CountAccounts(ctx)
		return err
	})
	monthStart, _ := monthOf(now)
	usage, at, have := s.spend.get(now, monthStart, s.readSpend)
	if !have {
		// The month's first reading: a small store answers at once.
		select {
		case <-s.spend.wait():
		case <-time.After(spendFirstWait):
		case <-r.Context().Done():
		}
		usage, at, have = s.spend.get(now, monthStart, s.readSpend)
	}
	v.SpendAt, v.SpendPending = at, !have
	if err := s.spend.failure(); err != nil {
		v.SpendErr = "Lần đọc chi phí gần nhất bị lỗi (sẽ thử lại khi trang được mở): " + err.Error()
	}
	g.Go(func() error {
		v.Providers = providerViews(s.health(ctx), now)
		return nil
	})
	g.Go(func() error {
		var err error
		if v.Queues, err = s.queueStats(r); err != nil {
			v.QueueErr = err.Error()
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		s.fail(w, r, sess, "dashboard", err)
		return
	}
	v.Spend = spendOf(usage, monthStart)
	v.HasHealth = s.opts.Health != nil
	if s.opts.Certificates != nil {
		v.Certs = certViews(s.opts.Certificates(), now)
	}
	for _, p := range []struct {
		label  string
		recent bool
	}{{"24 giờ qua", true}, {"7 ngày qua", false}} {
		var cs []notifydb.NotificationCount
		for _, c := range counts {
			n := c.Since
			if p.recent {
				n = c.Recent
			}
			if n > 0 {
				cs = append(cs, notifydb.NotificationCount{Channel: c.Channel, Status: c.Status, Count: n})
			}
		}
		per := period{Label: p.label, Channels: groupCounts(cs)}
		for _, c := range per.Channels {
			per.Total += c.Total
		}
		per.Chart = barChart(per.Label, per.Channels)
		v.Periods = append(v.Periods, per)
	}
	s.render(w, r, http.StatusOK, "dashboard", sess, "Tổng quan", v)
}

// spendMaxAge is how long a reading of the month's spend is shown
// before it is read again. The reading adds up every notification of the
// month so far (hundreds of milliseconds at 100,000), so it is never made
// on a page's time: a page shows the last reading, and one older than
// spendMaxAge (or none yet, or last month's) starts a new one in the
// background, one at a time. Only the month's first reading is waited
// for, and for at most spendFirstWait.
const spendMaxAge = time.Minute

// spendFirstWait is how long a page waits for the month's first reading
// before it says the figures are being read.
const spendFirstWait = 50 * time.Millisecond

// spendTimeout bounds one reading of the month's spend.
const spendTimeout = 30 * time.Second

// spendCache keeps the last reading of the month's spend.
type spendCache struct {
	mu    sync.Mutex
	at    time.Time // when the reading started
	month time.Time
	rows  []notifydb.UsageRow
	done  chan struct{} // closed when the reading under way ends; nil: none
	err   error         // the last reading's failure, until one succeeds
}

// get returns the last reading for month and when it was made; have is
// false when there is none for this month yet. A missing or stale
// reading starts read in a goroutine of its own unless one is under way.
func (c *spendCache) get(now, month time.Time, read func(now, month time.Time) ([]notifydb.UsageRow, error)) (rows []notifydb.UsageRow, at time.Time, have bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	have = !c.at.IsZero() && c.month.Equal(month)
	if (!have || now.Sub(c.at) >= spendMaxAge || now.Before(c.at)) && c.done == nil {
		c.done = make(chan struct{})
		go c.read(now, month, read, c.done)
	}
	if !have {
		return nil, time.Time{}, false
	}
	return c.rows, c.at, true
}

func (c *spendCache) read(now, month time.Time, read func(now, month time.Time) ([]notifydb.UsageRow, error), done chan struct{}) {
	rows, err := read(now, month)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = nil
	close(done)
	c.err = err
	if err == nil && !month.Before(c.month) {
		c.at, c.month, c.rows = now, month, rows
	}
}

// failure returns the last reading's failure (nil once one succeeded).
func (c *spendCache) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// wait returns a channel closed when the reading under way (if any) ends.
func (c *spendCache) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return c.done
}

// refreshSpend reads the spend of month from the store.
func (s *Server) refreshSpend(now, month time.Time) ([]notifydb.UsageRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), spendTimeout)
	defer cancel()
	rows, err := s.d.Notifications.Usage(ctx, month, month.AddDate(0, 1, 0), "")
	if err != nil {
		s.log.Warn("console: month's spend", "err", err)
	}
	return rows, err
}

// groupCounts turns (channel, status, count) rows into one entry per
// channel with its statuses in statusOrder.
func groupCounts(cs []notifydb.NotificationCount) []channelCounts {
	by := map[string]map[string]int64{}
	for _, c := range cs {
		if by[c.Channel] == nil {
			by[c.Channel] = map[string]int64{}
		}
		by[c.Channel][c.Status] += c.Count
	}
	var out []channelCounts
	for ch, m := range by {
		cc := channelCounts{Channel: ch}
		for _, st := range statusOrder {
			if m[st] > 0 {
				cc.By = append(cc.By, statusCount{st, m[st]})
				cc.Total += m[st]
			}
		}
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out
}

// barChart draws one horizontal stacked bar per channel as SVG, scaled to
// the largest channel. The table beside it carries the same numbers as
// text.
func barChart(label string, chs []channelCounts) template.HTML {
	const width, barH, gap, left = 600, 28, 14, 110
	var max int64 = 1
	for _, c := range chs {
		if c.Total > max {
			max = c.Total
		}
	}
	h := len(chs)*(barH+gap) + gap
	if len(chs) == 0 {
		h = 40
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s: %s">`, width, h, template.HTMLEscapeString("Biểu đồ thông báo "+label), template.HTMLEscapeString(chartSummary(chs)))
	if len(chs) == 0 {
		fmt.Fprintf(&b, `<text x="0" y="25" font-size="16" fill="#374151">Chưa có thông báo nào.</text>`)
	}
	for i, c := range chs {
		y := gap + i*(barH+gap)
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="16" fill="#111827">%s</text>`, y+barH-8, template.HTMLEscapeString(channelLabel(c.Channel)))
		x := float64(left)
		for _, sc := range c.By {
			wd := float64(width-left-10) * float64(sc.Count) / float64(max)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %d</title></rect>`,
				x, y, wd, barH, statusColour[sc.Status], template.HTMLEscapeString(statusLabel(sc.Status)), sc.Count)
			x += wd
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func chartSummary(chs []channelCounts) string {
	var parts []string
	for _, c := range chs {
		var st []string
		for _, sc := range c.By {
			st = append(st, fmt.Sprintf("%s %d", statusLabel(sc.Status), sc.Count))
		}
		parts = append(parts, channelLabel(c.Channel)+" "+strings.Join(st, ", "))
	}
	if len(parts) == 0 {
		return "không có thông báo"
	}
	return strings.Join(parts, "; ")
}
