package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"congthu/notify"
	"congthu/notify/notifydb"
	"congthu/outbox"
	"congthu/store"
)

type lookupView struct {
	Q       string
	Kind    string
	Invalid bool
	Results []notifydb.Notification
}

// lookup finds the notifications of a dossier code, phone number or
// email address.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, sess *session) {
	raw := r.URL.Query().Get("q")
	v := lookupView{Q: raw}
	if strings.TrimSpace(raw) != "" {
		q, ok := parseQuery(raw)
		if !ok {
			v.Invalid = true
		} else {
			v.Kind = q.Kind
			res, err := s.d.Notifications.LookupNotifications(r.Context(), notifydb.Lookup{DossierCode: q.DossierCode, Recipient: q.Recipient})
			if err != nil {
				s.fail(w, r, sess, "lookup", err)
				return
			}
			if q.Kind == "phone" {
				// A code of digits only reads as a phone number too.
				more, err := s.d.Notifications.LookupNotifications(r.Context(), notifydb.Lookup{DossierCode: strings.TrimSpace(raw)})
				if err != nil {
					s.fail(w, r, sess, "lookup", err)
					return
				}
				res = append(res, more...)
				slices.SortFunc(res, func(a, b notifydb.Notification) int { return strings.Compare(b.ID, a.ID) })
			}
			v.Results = res
		}
	}
	s.render(w, r, http.StatusOK, "lookup", sess, "Tra cứu thông báo", v)
}

type timelineEntry struct {
	At     time.Time
	What   string
	Detail string
	Class  string
}

type notificationView struct {
	N            *notifydb.Notification
	Timeline     []timelineEntry
	Outbox       *outbox.Recipient
	SMS          *notifydb.SMSSend
	Parts        []notifydb.SMSPart
	Fallback     *notifydb.SMSFallback
	FallbackID   string
	FallbackFrom string
	Callbacks    []notifydb.CallbackDelivery
	ResentFrom   string
}

// notification shows one notification's timeline and content.
func (s *Server) notification(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	n, err := s.d.Notifications.Notification(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có thông báo này.")
		return
	} else if err != nil {
		s.fail(w, r, sess, "read notification", err)
		return
	}
	v := notificationView{N: n, ResentFrom: r.URL.Query().Get("resent")}
	evs, err := s.d.Notifications.NotificationEvents(ctx, n.ID)
	if err != nil {
		s.fail(w, r, sess, "read events", err)
		return
	}
	for _, e := range evs {
		v.Timeline = append(v.Timeline, timelineEntry{At: e.At, What: statusLabel(e.Status), Detail: e.Detail, Class: funcs["statusClass"].(func(string) string)(e.Status)})
	}
	if n.OutboxID != 0 {
		if st, err := s.d.Store.Outbox().State(ctx, n.OutboxID); err == nil && len(st.Recipients) > 0 {
			rc := st.Recipients[0].Recipient
			v.Outbox = &rc
		}
	}
	if n.Channel == notify.ChannelSMS {
		if sm, err := s.d.Notifications.SMSSend(ctx, n.ID); err == nil {
			v.SMS = sm
		}
		if v.Parts, err = s.d.Notifications.SMSParts(ctx, n.ID); err != nil {
			s.fail(w, r, sess, "read SMS parts", err)
			return
		}
		if v.FallbackFrom, err = s.d.Notifications.FallbackFrom(ctx, n.ID); err != nil {
			s.fail(w, r, sess, "read fallback", err)
			return
		}
	}
	if n.Channel == notify.ChannelEmail {
		if f, id, err := s.d.Notifications.SMSFallbackOf(ctx, n.ID); err == nil {
			v.Fallback, v.FallbackID = f, id
		}
	}
	if v.Callbacks, err = s.d.Notifications.CallbacksOf(ctx, n.ID); err != nil {
		s.fail(w, r, sess, "read callbacks", err)
		return
	}
	flash := ""
	if v.ResentFrom != "" {
		flash = "Đã tạo thông báo mới, gửi lại nội dung của thông báo " + v.ResentFrom + "."
	}
	s.renderFlash(w, r, http.StatusOK, "notification", sess, "Thông báo "+n.ID, flash, v)
}

// notificationEmail serves an email notification's HTML as sent, for the
// sandboxed frame of its page.
func (s *Server) notificationEmail(w http.ResponseWriter, r *http.Request, sess *session) {
	n, err := s.d.Notifications.Notification(r.Context(), r.PathValue("id"))
	if err != nil || n.HTML == "" {
		s.errorPage(w, r, sess, http.StatusNotFound, "Thông báo này không có nội dung HTML.")
		return
	}
	serveFramed(w, n.HTML)
}

// serveFramed answers an email's HTML for a sandboxed frame of the
// console's own pages.
func serveFramed(w http.ResponseWriter, html string) {
	h := w.Header()
	h.Set("Content-Security-Policy", framedCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(html))
}

// resend creates a new notification with the content of an old one,
// through notify.Builder, and queues it. The old one is not touched.
func (s *Server) resend(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	old, err := s.d.Notifications.Notification(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, sess, http.StatusNotFound, "Không có thông báo này.")
		return
	} else if err != nil {
		s.fail(w, r, sess, "read notification", err)
		return
	}
	nn, problems, err := s.builder.Resend(old)
	if err != nil {
		s.fail(w, r, sess, "build notification", err)
		return
	}
	if len(problems) > 0 {
		s.errorPage(w, r, sess, http.StatusUnprocessableEntity, "Không gửi lại được: "+problems[0].Field+": "+problems[0].Message)
		return
	}
	res, err := s.d.Notifications.CreateNotifications(ctx, []*notifydb.NotificationRequest{{Service: old.Service, Test: old.Test,
		Notifications: []notifydb.NewNotification{nn}}})
	if err == nil && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		s.fail(w, r, sess, "create notification", err)
		return
	}
	if j, ok := notify.JobOf(nn.ID, nn.Channel, nn.Test); ok && s.d.Queue != nil {
		if _, err := s.d.Queue.Enqueue(ctx, j); err != nil {
			s.log.Warn("console: enqueue failed; the sweeper will restore the job", "id", nn.ID, "err", err)
		}
	}
	s.auditf(r, sess, "notification.resend", old.ID, "new notification %s (%s to %s)", nn.ID, nn.Channel, nn.Recipient)
	http.Redirect(w, r, "/admin/notifications/"+nn.ID+"?resent="+old.ID, http.StatusSeeOther)
}

type auditView struct {
	Entries []store.AuditEntry
	Next    int64
}

// audit lists the audit log, newest first.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, sess *session) {
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		before, _ = parseInt(b)
	}
	es, err := s.d.Store.Audit(r.Context(), before, 100)
	if err != nil {
		s.fail(w, r, sess, "read audit log", err)
		return
	}
	v := auditView{Entries: es}
	if len(es) == 100 {
		v.Next = es[len(es)-1].ID
	}
	s.render(w, r, http.StatusOK, "audit", sess, "Nhật ký thay đổi", v)
}
