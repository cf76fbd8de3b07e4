package smpp

import (
	"congthu/internal/vntime"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Receipt is an SMSC delivery receipt: a deliver_sm whose esm_class message
// type is "SMSC delivery receipt" (§5.2.12). Its fields come from the
// receipted_message_id and message_state TLVs (§5.3.2.12, §5.3.2.35) when
// present, else from the de-facto text format of SMPP 3.4 Appendix B:
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text: ...
type Receipt struct {
	// MessageID is the id the SMSC gave in submit_sm_resp, as the receipt
	// spells it (it may be decimal where the response was hex, or the
	// reverse: compare with SameMessageID).
	MessageID string
	// Stat is the final state as in the text format: DELIVRD, EXPIRED,
	// DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD or ENROUTE.
	Stat string
	// Err is the network-specific error code of the text ("000"), if any.
	Err string
	// Submitted and Done are the submit and done dates, zero when absent
	// or unreadable; read in the Client's Location.
	Submitted, Done time.Time
	// Source and Dest are the receipt's addresses: Source is the handset
	// the message went to. Mask it before logging.
	Source, Dest string
}

// Outcome is what a receipt means for the dispatcher.
type Outcome int

// Outcomes of a receipt.
const (
	// Pending: not final yet (ENROUTE, ACCEPTD).
	Pending Outcome = iota
	// Delivered: the handset has it (DELIVRD).
	Delivered
	// TemporaryFailure: not delivered, but sending again later may work:
	// EXPIRED (the handset was off or out of coverage for the whole
	// validity period) and UNKNOWN.
	TemporaryFailure
	// PermanentFailure: not delivered and sending again will not help:
	// UNDELIV (no such subscriber, barred), REJECTD, DELETED.
	PermanentFailure
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case TemporaryFailure:
		return "temporary-failure"
	case PermanentFailure:
		return "permanent-failure"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Outcome maps Stat to an Outcome; an unknown Stat is a TemporaryFailure.
func (r Receipt) Outcome() Outcome {
	switch strings.ToUpper(r.Stat) {
	case "DELIVRD":
		return Delivered
	case "ENROUTE", "ACCEPTD":
		return Pending
	case "UNDELIV", "REJECTD", "DELETED":
		return PermanentFailure
	}
	return TemporaryFailure
}

// messageStates maps message_state (§5.2.28) to the text format's stat.
var messageStates = map[byte]string{
	1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED",
	5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD",
}

// ErrNotReceipt: the deliver_sm is not a delivery receipt, or has no id.
var ErrNotReceipt = errors.New("smpp: not a delivery receipt")

// ParseReceipt reads a delivery receipt from a deliver_sm body, reading
// dates in loc (nil means UTC+7, Asia/Ho_Chi_Minh, which has no DST).
func ParseReceipt(sm *ShortMessage, loc *time.Location) (Receipt, error) {
	if sm.ESMClass&esmTypeMask != ESMClassReceipt {
		return Receipt{}, ErrNotReceipt
	}
	if loc == nil {
		loc = vntime.Zone
	}
	r := Receipt{Source: sm.Source, Dest: sm.Dest}
	text := string(sm.Message)
	if v, ok := sm.TLV(TagMessagePayload); ok && len(sm.Message) == 0 {
		text = string(v)
	}
	f := receiptFields(text)
	r.MessageID = f["id"]
	r.Stat = strings.ToUpper(f["stat"])
	r.Err = f["err"]
	r.Submitted = receiptTime(f["submit date"], loc)
	r.Done = receiptTime(f["done date"], loc)
	if v, ok := sm.TLV(TagReceiptedMessageID); ok {
		if id := strings.TrimRight(string(v), "\x00"); id != "" {
			r.MessageID = id
		}
	}
	if v, ok := sm.TLV(TagMessageState); ok && len(v) == 1 {
		if s, ok := messageStates[v[0]]; ok {
			r.Stat = s
		}
	}
	if r.MessageID == "" {
		return r, ErrNotReceipt
	}
	return r, nil
}

// receiptKeys are the text format's keys, longest first where one is a
// suffix of another ("submit date" before "date").
var receiptKeys = []string{"id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"}

// receiptFields splits "key:value key:value ..." into a map with lower-case
// keys. Values end at the next space, except text, which runs to the end.
func receiptFields(s string) map[string]string {
	out := map[string]string{}
	lower := asciiLower(s) // same byte offsets as s, whatever the bytes
	for _, k := range receiptKeys {
		i := indexKey(lower, k+":")
		if i < 0 {
			continue
		}
		v := s[i+len(k)+1:]
		if k != "text" {
			v = strings.TrimLeft(v, " ")
			if j := strings.IndexByte(v, ' '); j >= 0 {
				v = v[:j]
			}
		}
		out[k] = v
	}
	return out
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// indexKey finds key at the start of s or after a space.
func indexKey(s, key string) int {
	for from := 0; from <= len(s); {
		i := strings.Index(s[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		if i == 0 || s[i-1] == ' ' {
			return i
		}
		from = i + 1
	}
	return -1
}

func receiptTime(s string, loc *time.Location) time.Time {
	for _, layout := range []string{"0601021504", "060102150405"} {
		if len(s) == len(layout) {
			if t, err := time.ParseInLocation(layout, s, loc); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// SameMessageID reports whether two message ids name the same message. It
// compares the strings (ignoring case and leading zeros), and also reads one
// as hexadecimal and the other as decimal, because SMSCs commonly give the
// id in hex in submit_sm_resp and in decimal in the receipt text, or the
// reverse. Reading both ways can in rare cases match two different ids; the
// destination number is a second key to check when that matters.
func SameMessageID(a, b string) bool {
	na, nb := NormalizeMessageID(a), NormalizeMessageID(b)
	if na == "" || nb == "" {
		return false
	}
	if na == nb {
		return true
	}
	ah, aErr := strconv.ParseUint(na, 16, 64)
	bd, bErr := strconv.ParseUint(nb, 10, 64)
	if aErr == nil && bErr == nil && ah == bd {
		return true
	}
	ad, aErr := strconv.ParseUint(na, 10, 64)
	bh, bErr := strconv.ParseUint(nb, 16, 64)
	return aErr == nil && bErr == nil && ad == bh
}

// NormalizeMessageID trims spaces and NULs, lower-cases and drops leading
// zeros ("0A1b" → "a1b"), so ids can be stored and compared in one form.
func NormalizeMessageID(id string) string {
	id = strings.ToLower(strings.Trim(id, " \x00"))
	t := strings.TrimLeft(id, "0")
	if t == "" && id != "" {
		return "0"
	}
	return t
}

// MessageIDForms returns the normalised id and, when it reads as a number,
// its other spelling (hex → decimal and decimal → hex), for looking up a
// receipt's id among stored submit ids.
func MessageIDForms(id string) []string {
	n := NormalizeMessageID(id)
	if n == "" {
		return nil
	}
	forms := []string{n}
	if v, err := strconv.ParseUint(n, 16, 64); err == nil {
		forms = append(forms, strconv.FormatUint(v, 10))
	}
	if v, err := strconv.ParseUint(n, 10, 64); err == nil {
		forms = append(forms, strconv.FormatUint(v, 16))
	}
	// Drop duplicates ("7" is 7 both ways).
	out := forms[:1]
	for _, f := range forms[1:] {
		dup := false
		for _, o := range out {
			dup = dup || o == f
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}
