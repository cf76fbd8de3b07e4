package zns

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The webhook. Zalo POSTs events to the OA's webhook URL, each a JSON
// object signed in the header
//
//	X-ZEvent-Signature: mac=<hex sha256(app_id + raw body + timestamp + OA secret key)>
//
// where timestamp is the body's "timestamp" field (milliseconds, as text).
// The event congthu acts on is user_received_message: message.msg_id was
// delivered to the user's Zalo.

// Event names.
const (
	EventUserReceived = "user_received_message"
)

// Event is a verified webhook event.
type Event struct {
	Name      string
	AppID     string
	Timestamp time.Time
	// MsgID is message.msg_id (user_received_message and the other message
	// events), "" otherwise.
	MsgID string
	// DeliveryTime is message.delivery_time when given.
	DeliveryTime time.Time
}

// Webhook errors.
var (
	ErrSignature = errors.New("zns: webhook signature does not verify")
	ErrEvent     = errors.New("zns: webhook body is not an event")
)

// MaxEventBytes bounds a webhook body; callers read at most this much.
const MaxEventBytes = 64 << 10

// Sign returns the X-ZEvent-Signature value of body for the app and OA
// secret; ts is the body's timestamp field.
func Sign(appID, oaSecret string, body []byte, ts string) string {
	h := sha256.New()
	h.Write([]byte(appID))
	h.Write(body)
	h.Write([]byte(ts))
	h.Write([]byte(oaSecret))
	return "mac=" + hex.EncodeToString(h.Sum(nil))
}

// VerifyEvent checks the signature header of body with our app id and OA
// secret and reads the event: ErrSignature when the signature is missing
// or wrong (the body's own app_id is not trusted for it), ErrEvent when the
// body is not an event object with a name and a timestamp.
func VerifyEvent(appID, oaSecret string, body []byte, signature string) (*Event, error) {
	if appID == "" || oaSecret == "" {
		return nil, ErrSignature
	}
	if len(body) > MaxEventBytes {
		return nil, ErrEvent
	}
	var raw struct {
		Name      string          `json:"event_name"`
		AppID     string          `json:"app_id"`
		Timestamp json.RawMessage `json:"timestamp"`
		Message   *struct {
			MsgID        string          `json:"msg_id"`
			DeliveryTime json.RawMessage `json:"delivery_time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Name == "" || len(raw.Timestamp) == 0 {
		// Verify first all the same: an unsigned body learns nothing.
		if !macEqual(signature, Sign(appID, oaSecret, body, "")) {
			return nil, ErrSignature
		}
		return nil, ErrEvent
	}
	ts := strings.Trim(string(raw.Timestamp), `"`)
	if !macEqual(signature, Sign(appID, oaSecret, body, ts)) {
		return nil, ErrSignature
	}
	ms, ok := number(raw.Timestamp)
	if !ok {
		return nil, ErrEvent
	}
	ev := &Event{Name: raw.Name, AppID: raw.AppID, Timestamp: time.UnixMilli(ms)}
	if raw.Message != nil {
		ev.MsgID = raw.Message.MsgID
		if d, ok := number(raw.Message.DeliveryTime); ok && d > 0 {
			ev.DeliveryTime = time.UnixMilli(d)
		}
	}
	return ev, nil
}

// macEqual compares a received signature with the expected one in
// constant time; the "mac=" prefix and hex case are as Zalo sends them.
func macEqual(got, want string) bool {
	got = strings.TrimSpace(got)
	return len(got) == len(want) && subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}
