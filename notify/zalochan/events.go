package zalochan

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"congthu/notify/notifydb"
	"congthu/zns"
)

// Events is the webhook Zalo posts its OA events to (POST
// /v1/zalo/events). It verifies X-ZEvent-Signature with the app id and the
// OA secret before reading anything (401 and nothing changed otherwise),
// and applies user_received_message: the notification whose msg_id it
// names becomes delivered. Other events are acknowledged and ignored.
type Events struct {
	st       *notifydb.Store
	tr       Tracker
	appID    string
	oaSecret string
	log      *slog.Logger
}

// NewEvents returns the webhook of the app's events.
func NewEvents(st *notifydb.Store, tr Tracker, appID, oaSecret string, log *slog.Logger) *Events {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Events{st: st, tr: tr, appID: appID, oaSecret: oaSecret, log: log}
}

type problem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func answer(w http.ResponseWriter, status int, p problem) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []problem{p}})
}

func (e *Events) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, zns.MaxEventBytes+1))
	if err != nil {
		answer(w, http.StatusBadRequest, problem{Message: "reading the body: " + err.Error()})
		return
	}
	if len(body) > zns.MaxEventBytes {
		answer(w, http.StatusRequestEntityTooLarge, problem{Message: "event body over 64 KiB"})
		return
	}
	ev, err := zns.VerifyEvent(e.appID, e.oaSecret, body, r.Header.Get("X-ZEvent-Signature"))
	switch {
	case errors.Is(err, zns.ErrSignature):
		e.log.Warn("zalo event refused: bad signature", "remote", r.RemoteAddr)
		answer(w, http.StatusUnauthorized, problem{Field: "X-ZEvent-Signature", Message: "signature does not verify"})
		return
	case err != nil:
		answer(w, http.StatusBadRequest, problem{Message: "not a Zalo event (event_name and timestamp required)"})
		return
	}
	if ev.Name != zns.EventUserReceived {
		w.WriteHeader(http.StatusOK)
		return
	}
	if ev.MsgID == "" {
		answer(w, http.StatusBadRequest, problem{Field: "message.msg_id", Message: "required for user_received_message"})
		return
	}
	at := ev.DeliveryTime
	if at.IsZero() {
		at = ev.Timestamp
	}
	// Not bounded by Zalo's deadline: the receipt must be recorded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	id, err := e.st.ZNSReceipt(ctx, ev.MsgID, at)
	if err == nil && id != "" {
		_, err = e.tr.SetStatus(ctx, id, notifydb.NotificationDelivered, ReceivedDetail, at)
	}
	if err != nil {
		e.log.Error("zalo receipt not recorded", "msg_id", ev.MsgID, "err", err)
		answer(w, http.StatusServiceUnavailable, problem{Message: "not recorded; send it again"})
		return
	}
	w.WriteHeader(http.StatusOK)
}
