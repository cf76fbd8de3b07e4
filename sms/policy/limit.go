package policy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/text/unicode/norm"
)

// Reasons a Limiter refuses a message.
const (
	// ReasonRateLimited: the number already got Limits.Max messages in the
	// last Limits.Window.
	ReasonRateLimited = "rate-limited"
	// ReasonDuplicate: the same text went to the same number less than
	// Limits.DuplicateWindow ago.
	ReasonDuplicate = "duplicate"
)

// Limits configure a Limiter. Zero values take the defaults named.
type Limits struct {
	// Max is the most SMS one number gets per Window; default 5, negative
	// means no rate limit.
	Max int
	// Window is the rate window; default 1h. It slides: a message is
	// allowed when fewer than Max were allowed in the Window before it.
	Window time.Duration
	// DuplicateWindow is how long an identical text to the same number is
	// refused after it was allowed once; default 10m, negative disables.
	DuplicateWindow time.Duration
	// Prefix starts every Redis key; default "congthu:sms:".
	Prefix string
}

// Decision is a Limiter's answer.
type Decision struct {
	// Allowed says the message may be sent now.
	Allowed bool
	// Reason is ReasonRateLimited or ReasonDuplicate when not Allowed.
	Reason string
	// RetryAt is when the same request would be allowed again: when the
	// oldest message of the window leaves it (rate-limited), or when the
	// duplicate window ends (duplicate). Zero when Allowed.
	RetryAt time.Time
}

// Limiter enforces per-number limits in Redis, so that every node of a
// cluster shares them. It keeps, per number, a sorted set of the times
// messages were allowed (a sliding-window log; pruned as it is read and
// expired an hour or so after its last use) and one key per recent text.
// Keys hold SHA-256 hashes, never numbers or texts; the two keys of one
// number share a hash tag, so the check is one script on Redis Cluster too.
type Limiter struct {
	rdb    redis.Scripter
	limits Limits
}

// NewLimiter returns a Limiter on rdb (a *redis.Client, *redis.ClusterClient
// or *redis.Ring).
func NewLimiter(rdb redis.Scripter, limits Limits) *Limiter {
	if limits.Max == 0 {
		limits.Max = 5
	}
	if limits.Window <= 0 {
		limits.Window = time.Hour
	}
	if limits.DuplicateWindow == 0 {
		limits.DuplicateWindow = 10 * time.Minute
	}
	if limits.Prefix == "" {
		limits.Prefix = "congthu:sms:"
	}
	return &Limiter{rdb: rdb, limits: limits}
}

// allowScript checks and records one message atomically.
//
// KEYS[1] rate log (sorted set: member → time allowed, ms)
// KEYS[2] duplicate key ("<until ms> <id>")
// ARGV: now ms, window ms, max (<0: none), duplicate window ms (<0: none),
// member, id ("" when the caller gave none).
//
// Returns {allowed 0|1, reason, retry-at ms}.
var allowScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local dwin = tonumber(ARGV[4])
local member, id = ARGV[5], ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
-- Another attempt at a message already allowed: allowed, not counted again.
if id ~= '' and redis.call('ZSCORE', KEYS[1], member) then
  return {1, '', 0}
end
if dwin >= 0 then
  local dup = redis.call('GET', KEYS[2])
  if dup then
    local untilms, holder = string.match(dup, '^(%d+) (.*)$')
    untilms = tonumber(untilms)
    if untilms and untilms > now then
      if id ~= '' and holder == id then
        return {1, '', 0}
      end
      return {0, 'duplicate', untilms}
    end
  end
end
if max >= 0 and redis.call('ZCARD', KEYS[1]) >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, 'rate-limited', tonumber(oldest[2]) + win}
end
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], win + 60000)
if dwin >= 0 then
  redis.call('SET', KEYS[2], (now + dwin) .. ' ' .. id, 'PX', dwin + 60000)
end
return {1, '', 0}
`)

// forgetScript undoes what allowScript recorded for id.
var forgetScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
local dup = redis.call('GET', KEYS[2])
if dup and string.match(dup, '^%d+ (.*)$') == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
return 1
`)

// Allow decides whether one SMS of text to the number e164 may be sent at
// now, and if so counts it. id names the message (a notification id):
// asking again with the same id, as a retry after a failed attempt does,
// is allowed and not counted twice; an empty id counts every call as a new
// message. Texts are compared after NFC normalisation and collapsing
// white space.
func (l *Limiter) Allow(ctx context.Context, id, e164, text string, now time.Time) (Decision, error) {
	rate, dup := l.keys(e164, text)
	member := id
	if member == "" {
		member = randomMember(now)
	}
	v, err := allowScript.Run(ctx, l.rdb, []string{rate, dup},
		now.UnixMilli(), l.limits.Window.Milliseconds(), l.limits.Max,
		durationMS(l.limits.DuplicateWindow), member, id).Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("sms limits: %w", err)
	}
	if len(v) != 3 {
		return Decision{}, errors.New("sms limits: unexpected script answer")
	}
	allowed, _ := v[0].(int64)
	if allowed == 1 {
		return Decision{Allowed: true}, nil
	}
	reason, _ := v[1].(string)
	at, _ := v[2].(int64)
	return Decision{Reason: reason, RetryAt: time.UnixMilli(at).In(now.Location())}, nil
}

// Forget removes the message id from the counts, for a message that was
// allowed but then never reached the network (refused by the provider):
// it no longer counts toward the rate, and its text may be sent again.
func (l *Limiter) Forget(ctx context.Context, id, e164, text string) error {
	if id == "" {
		return errors.New("sms limits: Forget needs the message id")
	}
	rate, dup := l.keys(e164, text)
	if err := forgetScript.Run(ctx, l.rdb, []string{rate, dup}, id).Err(); err != nil {
		return fmt.Errorf("sms limits: %w", err)
	}
	return nil
}

// keys returns the rate log and duplicate keys of a number and text.
func (l *Limiter) keys(e164, text string) (rate, dup string) {
	nh := sha256.Sum256([]byte(e164))
	tag := hex.EncodeToString(nh[:16])
	th := sha256.Sum256([]byte(e164 + "\x00" + NormalizeText(text)))
	return l.limits.Prefix + "rate:{" + tag + "}", l.limits.Prefix + "dup:{" + tag + "}:" + hex.EncodeToString(th[:16])
}

// NormalizeText is the form texts are compared in for duplicates: NFC,
// white space runs as one space, trimmed.
func NormalizeText(s string) string {
	return strings.Join(strings.Fields(norm.NFC.String(s)), " ")
}

func durationMS(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Milliseconds()
}

func randomMember(now time.Time) string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("~%d-%x", now.UnixMilli(), b)
}
