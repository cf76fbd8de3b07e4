package httpapi

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/internal/redisbatch"
)

// limiter is a token bucket per API key in Redis, shared by every node:
// capacity perMinute tokens, refilled continuously at perMinute per
// minute; a request takes one token per message it creates. The Lua script
// reads Redis' own clock (TIME), so nodes' clocks don't matter, and runs
// atomically. The key holds one hash tag, so it is Cluster-safe.
type limiter struct {
	rdb       redis.UniversalClient
	batch     *redisbatch.Batcher // shares round trips with concurrent requests (nil: a round trip per take)
	perMinute int
}

// scriptBucket: KEYS[1] bucket; ARGV[1] capacity (per minute), ARGV[2]
// cost (negative: a refund, never above the capacity). Returns {allowed
// (0/1), wait in ms until the cost is available}.
var scriptBucket = redis.NewScript(`
local cap = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 't', 'n')
local last = tonumber(b[1])
local tokens = tonumber(b[2])
if last == nil or tokens == nil then
	last = now
	tokens = cap
end
local rate = cap / 60000
if now > last then
	tokens = math.min(cap, tokens + (now - last) * rate)
end
local allowed = 0
local wait = 0
if tokens >= cost then
	tokens = math.min(cap, tokens - cost)
	allowed = 1
else
	wait = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 't', now, 'n', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], 120000)
return {allowed, wait}
`)

// take takes cost tokens from key's bucket. It returns ok false and how
// long to wait when there are not enough.
func (l *limiter) take(ctx context.Context, keyID int64, cost int) (ok bool, retryAfter time.Duration, err error) {
	if l.perMinute < 0 || cost <= 0 {
		return true, 0, nil
	}
	return l.eval(ctx, keyID, min(cost, l.perMinute))
}

// refund gives back the tokens a request took when it turned out to be a
// replay (which costs nothing).
func (l *limiter) refund(ctx context.Context, keyID int64, cost int) error {
	if l.perMinute < 0 || cost <= 0 {
		return nil
	}
	_, _, err := l.eval(ctx, keyID, -min(cost, l.perMinute))
	return err
}

func (l *limiter) eval(ctx context.Context, keyID int64, cost int) (ok bool, retryAfter time.Duration, err error) {
	k := "congthu:ratelimit:{key" + strconv.FormatInt(keyID, 10) + "}"
	var cmd *redis.Cmd
	if l.batch == nil {
		cmd = scriptBucket.EvalSha(ctx, l.rdb, []string{k}, l.perMinute, cost)
	} else {
		err = l.batch.Do(ctx, func(p redis.Pipeliner) { cmd = scriptBucket.EvalSha(ctx, p, []string{k}, l.perMinute, cost) })
	}
	if err == nil {
		err = cmd.Err()
	}
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd, err = scriptBucket.Run(ctx, l.rdb, []string{k}, l.perMinute, cost), nil // loads the script
	}
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	r, err := cmd.Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	if len(r) != 2 {
		return false, 0, fmt.Errorf("rate limit: short reply %v", r)
	}
	return r[0] == 1, time.Duration(r[1]) * time.Millisecond, nil
}
