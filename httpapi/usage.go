package httpapi

import (
	"net/http"
	"time"

	"congthu/internal/vntime"
	"congthu/notify/notifydb"
)

// MaxUsageDays bounds the period of one usage request.
const MaxUsageDays = 366

// usageRowView is one service's use of one channel.
type usageRowView struct {
	Service       string `json:"service"`
	Channel       string `json:"channel"`
	Notifications int64  `json:"notifications"`
	SMSParts      int64  `json:"sms_parts"`
	Delivered     int64  `json:"delivered"`
	Failed        int64  `json:"failed"`
	Pending       int64  `json:"pending"`
	CostVND       int64  `json:"cost_vnd"`
}

// ParseUsagePeriod reads a usage period: from and to are days
// (yyyy-mm-dd) in Asia/Ho_Chi_Minh, both included. It returns [start, end)
// and the field at fault with its message.
func ParseUsagePeriod(from, to string) (start, end time.Time, field, msg string) {
	f, err := time.ParseInLocation(time.DateOnly, from, vntime.Zone)
	if err != nil {
		return start, end, "from", "want a day as yyyy-mm-dd"
	}
	t, err := time.ParseInLocation(time.DateOnly, to, vntime.Zone)
	if err != nil {
		return start, end, "to", "want a day as yyyy-mm-dd"
	}
	end = t.AddDate(0, 0, 1)
	switch {
	case end.Before(f.AddDate(0, 0, 1)):
		return start, end, "to", "is before from"
	case end.Sub(f) > MaxUsageDays*24*time.Hour:
		return start, end, "to", "the period is longer than 366 days"
	}
	return f, end, "", ""
}

// usage answers GET /v1/usage?from=yyyy-mm-dd&to=yyyy-mm-dd[&service=]:
// the live notifications created in the period, per service and channel,
// with what they cost (the prices recorded when each was sent). A key sees
// its own service's; an admin key every service's, or the one named.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r.Context())
	q := r.URL.Query()
	from, to, field, msg := ParseUsagePeriod(q.Get("from"), q.Get("to"))
	if field != "" {
		writeErrors(w, http.StatusBadRequest, fieldError{Field: field, Message: msg})
		return
	}
	service := c.service
	if c.admin {
		service = q.Get("service")
	} else if o := q.Get("service"); o != "" && o != c.service {
		writeErrors(w, http.StatusForbidden, fieldError{Field: "service", Message: "this key reads its own service's usage only"})
		return
	}
	rows, err := s.nst.Usage(r.Context(), from, to, service)
	if err != nil {
		s.internal(w, "usage", err)
		return
	}
	out := struct {
		From         string         `json:"from"`
		To           string         `json:"to"`
		Currency     string         `json:"currency"`
		Usage        []usageRowView `json:"usage"`
		TotalCostVND int64          `json:"total_cost_vnd"`
	}{From: q.Get("from"), To: q.Get("to"), Currency: "VND", Usage: []usageRowView{}}
	for _, u := range rows {
		out.Usage = append(out.Usage, usageView(u))
		out.TotalCostVND += u.CostVND
	}
	writeJSON(w, http.StatusOK, out)
}

func usageView(u notifydb.UsageRow) usageRowView {
	return usageRowView{Service: u.Service, Channel: u.Channel, Notifications: u.Notifications, SMSParts: u.SMSParts,
		Delivered: u.Delivered, Failed: u.Failed, Pending: u.Pending, CostVND: u.CostVND}
}
