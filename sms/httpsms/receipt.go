package httpsms

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"congthu/internal/vntime"
	"congthu/sms/smpp"
)

// Receipt is one delivery report from the provider's webhook.
type Receipt struct {
	// ProviderID is the provider's message id, as Result.ProviderID gave it.
	ProviderID string
	// Status is the provider's status word as sent (see Outcome).
	Status string
	// ErrorCode is the provider's or network's error code, if any.
	ErrorCode string
	// DoneAt is when the final state was reached; zero when absent.
	DoneAt time.Time
}

// Outcome maps Status (case and "-"/"_"/" " ignored) to the outcomes of
// SMPP receipts:
//
//   - Delivered: delivered, delivrd, success, successful
//   - Pending: pending, enroute, accepted, acceptd, sent, queued, submitted
//   - PermanentFailure: undelivered, undeliverable, undeliv, rejected,
//     rejectd, deleted, failed, permanentfailure, invalid
//   - TemporaryFailure: everything else (expired, unknown, temporaryfailure...),
//     as smpp.Receipt.Outcome does for a stat it does not know.
func (r Receipt) Outcome() smpp.Outcome {
	s := strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c == ' ' {
			return -1
		}
		return c
	}, strings.ToLower(strings.TrimSpace(r.Status)))
	switch s {
	case "delivered", "delivrd", "success", "successful":
		return smpp.Delivered
	case "pending", "enroute", "accepted", "acceptd", "sent", "queued", "submitted":
		return smpp.Pending
	case "undelivered", "undeliverable", "undeliv", "rejected", "rejectd", "deleted",
		"failed", "permanentfailure", "invalid":
		return smpp.PermanentFailure
	}
	return smpp.TemporaryFailure
}

// wireReceipt is the webhook's JSON. error_code and done_at may be strings
// or numbers (done_at as Unix seconds).
type wireReceipt struct {
	ID        json.RawMessage `json:"id"`
	Status    string          `json:"status"`
	ErrorCode json.RawMessage `json:"error_code"`
	DoneAt    json.RawMessage `json:"done_at"`
}

// ErrBadReceipt: a webhook body that does not parse or lacks id or status.
var ErrBadReceipt = errors.New("httpsms: malformed receipt")

// ParseReceipts reads a webhook body: one JSON object or an array of them.
// Times without a zone are read in loc (nil means UTC+7).
func ParseReceipts(body []byte, loc *time.Location) ([]Receipt, error) {
	if loc == nil {
		loc = vntime.Zone
	}
	body = bytes.TrimSpace(body)
	var ws []wireReceipt
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &ws); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReceipt, err)
		}
	} else {
		var w wireReceipt
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReceipt, err)
		}
		ws = []wireReceipt{w}
	}
	out := make([]Receipt, 0, len(ws))
	for i, w := range ws {
		r := Receipt{ProviderID: scalar(w.ID), Status: strings.TrimSpace(w.Status), ErrorCode: scalar(w.ErrorCode)}
		if r.ProviderID == "" || r.Status == "" {
			return nil, fmt.Errorf("%w: receipt %d has no id or status", ErrBadReceipt, i)
		}
		if d := scalar(w.DoneAt); d != "" {
			t, err := parseTime(d, loc)
			if err != nil {
				return nil, fmt.Errorf("%w: receipt %d: done_at: %v", ErrBadReceipt, i, err)
			}
			r.DoneAt = t
		}
		out = append(out, r)
	}
	return out, nil
}

// scalar returns a JSON string's text or a number's spelling; "" otherwise.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// parseTime reads RFC 3339, "2006-01-02 15:04:05" in loc, or Unix seconds.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).In(loc), nil
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

// ReceiptHandler returns the webhook the provider posts delivery reports to.
// It checks the shared secret (constant-time), parses the body (see
// ParseReceipts) and calls onReceipt for each receipt in order. Answers:
// 200 when all were handled; 401 on a missing or wrong secret; 405 for
// other methods than POST; 400 for a malformed body (nothing is handed on);
// 500 when onReceipt fails, so that the provider sends the report again
// (onReceipt must therefore be idempotent, and store the receipt before
// returning nil).
func (p *Provider) ReceiptHandler(onReceipt func(ctx context.Context, r Receipt) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !p.secretOK(r.Header.Get(p.opts.ReceiptHeader)) {
			p.log.WarnContext(r.Context(), "httpsms receipt refused: wrong secret", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusBadRequest)
			return
		}
		rs, err := ParseReceipts(body, p.opts.Location)
		if err != nil {
			p.log.WarnContext(r.Context(), "httpsms receipt refused", "err", err)
			http.Error(w, "malformed receipt", http.StatusBadRequest)
			return
		}
		for _, rc := range rs {
			if err := onReceipt(r.Context(), rc); err != nil {
				p.log.ErrorContext(r.Context(), "httpsms receipt not stored", "provider_id", rc.ProviderID, "err", err)
				http.Error(w, "try again later", http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`+"\n")
	})
}

// secretOK compares the header with ReceiptSecret in constant time. An
// unset secret refuses everything.
func (p *Provider) secretOK(got string) bool {
	want := p.opts.ReceiptSecret
	if want == "" {
		if p.warnSecret.CompareAndSwap(false, true) {
			p.log.Error("httpsms receipts webhook has no ReceiptSecret: refusing every receipt")
		}
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
