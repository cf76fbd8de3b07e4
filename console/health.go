package console

import (
	"context"
	"crypto/x509"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"congthu/internal/vntime"
	"congthu/notify/notifydb"
)

// ProviderHealth is the state of one SMS or Zalo provider as the server
// running the console sees it (Options.Health). The console shows it and
// knows nothing of SMPP or ZNS.
type ProviderHealth struct {
	Channel  string // "sms" or "zalo"
	Provider string // "smpp", "http" or "zns"
	Target   string // the SMSC's address, the HTTP provider's host, the Zalo app ID
	// Up: an SMPP bind is up; an HTTP provider is configured (it keeps
	// no connection); Zalo has a stored access token not yet expired.
	Up bool
	// Detail says why not, when the server knows (shown as it is).
	Detail string
	// Zalo only: when the access token was last refreshed and when it
	// expires (zero: none stored yet), and the quota Zalo last reported
	// (-1: not reported yet) with when it did.
	TokenRefreshed, TokenExpires time.Time
	QuotaDaily, QuotaRemaining   int
	QuotaAt                      time.Time
}

// certWarnDays: a certificate expiring sooner is shown as a warning.
const certWarnDays = 14

// certView is one name of a certificate, with its expiry.
type certView struct {
	Name     string
	NotAfter time.Time
	DaysLeft int
	Warn     bool // under certWarnDays days left (or expired)
	Expired  bool
	Issuer   string
	SelfSign bool
}

// certViews lists each name (DNS SAN, else the subject's CN) of each
// certificate, soonest expiry first.
func certViews(certs []*x509.Certificate, now time.Time) []certView {
	var out []certView
	for _, c := range certs {
		if c == nil {
			continue
		}
		names := c.DNSNames
		if len(names) == 0 {
			names = []string{c.Subject.CommonName}
		}
		left := c.NotAfter.Sub(now)
		days := int(left / (24 * time.Hour))
		if left < 0 {
			days = int((left - 24*time.Hour + 1) / (24 * time.Hour))
		}
		self := c.Issuer.String() == c.Subject.String()
		for _, n := range names {
			out = append(out, certView{Name: n, NotAfter: c.NotAfter, DaysLeft: days, Warn: left < certWarnDays*24*time.Hour,
				Expired: left <= 0, Issuer: c.Issuer.CommonName, SelfSign: self})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	return out
}

// providerView is a ProviderHealth with what the page says of it.
type providerView struct {
	ProviderHealth
	TokenAge time.Duration // since the last refresh; 0 without one
	Expired  bool          // the stored access token has expired
}

func providerViews(hs []ProviderHealth, now time.Time) []providerView {
	out := make([]providerView, 0, len(hs))
	for _, h := range hs {
		v := providerView{ProviderHealth: h}
		if !h.TokenRefreshed.IsZero() {
			v.TokenAge = now.Sub(h.TokenRefreshed)
		}
		v.Expired = !h.TokenExpires.IsZero() && !now.Before(h.TokenExpires)
		out = append(out, v)
	}
	return out
}

// health asks the server for its providers, bounded by a short timeout
// (it may read the store).
func (s *Server) health(ctx context.Context) []ProviderHealth {
	if s.opts.Health == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return s.opts.Health(ctx)
}

// spendRow is what one service spent on SMS and Zalo in the month.
type spendRow struct {
	Service             string
	SMS, SMSParts, Zalo int64 // SMS: notifications and parts; Zalo: notifications
	SMSCost, ZaloCost   int64 // đồng, at the prices recorded when sent
	Total               int64
}

// spendView is the dashboard's month of SMS and Zalo spend.
type spendView struct {
	Month string // mm/yyyy
	Rows  []spendRow
	Sum   spendRow
	Chart template.HTML
}

// monthOf is the calendar month holding t in Vietnam: [start, end).
func monthOf(t time.Time) (start, end time.Time) {
	v := vntime.In(t)
	start = time.Date(v.Year(), v.Month(), 1, 0, 0, 0, 0, vntime.Zone)
	return start, start.AddDate(0, 1, 0)
}

// spendOf adds up notifydb.Usage rows per service: SMS and Zalo only
// (email costs nothing per message); services that sent neither are left
// out.
func spendOf(rows []notifydb.UsageRow, month time.Time) spendView {
	v := spendView{Month: vntime.In(month).Format("01/2006")}
	by := map[string]*spendRow{}
	for _, u := range rows {
		if u.Channel != "sms" && u.Channel != "zalo" {
			continue
		}
		r := by[u.Service]
		if r == nil {
			r = &spendRow{Service: u.Service}
			by[u.Service] = r
		}
		if u.Channel == "sms" {
			r.SMS += u.Notifications
			r.SMSParts += u.SMSParts
			r.SMSCost += u.CostVND
		} else {
			r.Zalo += u.Notifications
			r.ZaloCost += u.CostVND
		}
		r.Total += u.CostVND
	}
	for _, r := range by {
		v.Rows = append(v.Rows, *r)
		v.Sum.SMS += r.SMS
		v.Sum.SMSParts += r.SMSParts
		v.Sum.Zalo += r.Zalo
		v.Sum.SMSCost += r.SMSCost
		v.Sum.ZaloCost += r.ZaloCost
		v.Sum.Total += r.Total
	}
	sort.Slice(v.Rows, func(i, j int) bool {
		if v.Rows[i].Total != v.Rows[j].Total {
			return v.Rows[i].Total > v.Rows[j].Total
		}
		return v.Rows[i].Service < v.Rows[j].Service
	})
	v.Chart = spendChart(v)
	return v
}

// spendColour: SMS and Zalo parts of a service's bar.
const (
	spendSMSColour  = "#1d5fa8"
	spendZaloColour = "#0f766e"
)

// spendChart draws one stacked bar (SMS, Zalo) per service, at most the
// ten that spent most, scaled to the largest. The table carries the same
// figures as text.
func spendChart(v spendView) template.HTML {
	const width, barH, gap, left = 600, 24, 12, 190
	rows := v.Rows
	if len(rows) > 10 {
		rows = rows[:10]
	}
	if len(rows) == 0 || v.Sum.Total == 0 {
		return ""
	}
	var max int64 = 1
	for _, r := range rows {
		if r.Total > max {
			max = r.Total
		}
	}
	h := len(rows)*(barH+gap) + gap
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s: SMS %s, Zalo %s", r.Service, formatDong(r.SMSCost), formatDong(r.ZaloCost)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, width, h,
		template.HTMLEscapeString("Biểu đồ chi phí tháng "+v.Month+": "+strings.Join(parts, "; ")))
	for i, r := range rows {
		y := gap + i*(barH+gap)
		name := r.Service
		if len([]rune(name)) > 22 {
			name = string([]rune(name)[:21]) + "…"
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="15" fill="#111827">%s</text>`, y+barH-7, template.HTMLEscapeString(name))
		x := float64(left)
		for _, p := range []struct {
			label, colour string
			n             int64
		}{{"SMS", spendSMSColour, r.SMSCost}, {"Zalo", spendZaloColour, r.ZaloCost}} {
			if p.n <= 0 {
				continue
			}
			wd := float64(width-left-10) * float64(p.n) / float64(max)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`,
				x, y, wd, barH, p.colour, p.label, template.HTMLEscapeString(formatDong(p.n)))
			x += wd
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
