package loginlimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The shared state of one key (an address or an account) is two Redis
// keys with one hash tag, so a Cluster keeps them on one node:
// congthu:login:{KEY}:f, a sorted set of failure times (ms) within the
// window, and congthu:login:{KEY}:l, the end of a lockout (ms). Times
// come from the caller's clock, as in memory; the keys expire on their
// own once they no longer matter.

func redisKeys(key string) []string {
	p := "congthu:login:{" + key + "}:"
	return []string{p + "f", p + "l"}
}

// scriptFail records a failure: KEYS f, l; ARGV now (ms), window (ms),
// limit, lockout (ms), a unique member. Like fail in memory: nothing
// during a lockout; at the limit, a lockout and the count forgotten.
var scriptFail = redis.NewScript(`
local now = tonumber(ARGV[1])
local lockedUntil = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < lockedUntil then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, ARGV[5])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
	local lockout = tonumber(ARGV[4])
	redis.call('SET', KEYS[2], tostring(now + lockout), 'PX', lockout + 60000)
	redis.call('DEL', KEYS[1])
	return 2
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
return 0
`)

func (l *Limiter) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), l.opts.RedisTimeout)
}

// redisCheck returns the most recent failures of the two keys within the
// window and whether either is locked out, in one round trip.
func (l *Limiter) redisCheck(now time.Time, keys ...string) (n int, locked bool, err error) {
	ctx, cancel := l.ctx()
	defer cancel()
	ms := now.UnixMilli()
	type cmds struct {
		count *redis.IntCmd
		lock  *redis.StringCmd
	}
	var cs []cmds
	pipe := l.opts.Redis.Pipeline()
	for _, k := range keys {
		if k == "" {
			continue
		}
		rk := redisKeys(k)
		cs = append(cs, cmds{
			pipe.ZCount(ctx, rk[0], "("+strconv.FormatInt(ms-l.opts.Window.Milliseconds(), 10), "+inf"),
			pipe.Get(ctx, rk[1]),
		})
	}
	if len(cs) == 0 {
		return 0, false, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, false, err
	}
	for _, c := range cs {
		if until, err := c.lock.Int64(); err == nil && ms < until {
			locked = true
		} else if err != nil && err != redis.Nil {
			return 0, false, err
		}
		count, err := c.count.Result()
		if err != nil {
			return 0, false, err
		}
		n = max(n, int(count))
	}
	return n, locked, nil
}

// redisFail records a failure of each key in Redis and returns the keys
// it could not record ("" for those it did, or that were empty).
func (l *Limiter) redisFail(now time.Time, ipKey, acctKey string) (ipLeft, acctLeft string) {
	ctx, cancel := l.ctx()
	defer cancel()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	var b [8]byte
	rand.Read(b[:])
	member := ms + "-" + hex.EncodeToString(b[:]) // two failures in one ms both count
	keys := []string{ipKey, acctKey}
	limits := []int{l.opts.IPFailures, l.opts.AccountFailures}
	cmds := make([]*redis.Cmd, len(keys))
	pipe := l.opts.Redis.Pipeline()
	for i, k := range keys {
		if k != "" {
			cmds[i] = scriptFail.EvalSha(ctx, pipe, redisKeys(k), ms, l.opts.Window.Milliseconds(), limits[i], l.opts.Lockout.Milliseconds(), member)
		}
	}
	pipe.Exec(ctx) // each command holds its own error
	left := make([]string, len(keys))
	for i, c := range cmds {
		if c == nil {
			continue
		}
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			// Redis lost its scripts (a restart): Run loads it.
			c = scriptFail.Run(ctx, l.opts.Redis, redisKeys(keys[i]), ms, l.opts.Window.Milliseconds(),
				limits[i], l.opts.Lockout.Milliseconds(), member)
		}
		err := c.Err()
		if err != nil {
			l.redisTrouble("fail", err)
			left[i] = keys[i]
			continue
		}
		if n, _ := c.Int(); n == 2 {
			// The script began a lockout.
			l.lockouts.locked(keys[i])
		}
	}
	return left[0], left[1]
}

// redisTrouble logs, at most once a minute, that Redis did not answer.
func (l *Limiter) redisTrouble(op string, err error) {
	if l.opts.Log == nil {
		return
	}
	now := time.Now().Unix()
	last := l.lastTrouble.Load()
	if now-last < 60 || !l.lastTrouble.CompareAndSwap(last, now) {
		return
	}
	l.opts.Log.Warn("loginlimit: Redis did not answer; counting failed logins on this node only", "op", op, "err", err)
}

func (l *Limiter) redisSucceed(acctKey string) {
	ctx, cancel := l.ctx()
	defer cancel()
	if err := l.opts.Redis.Del(ctx, redisKeys(acctKey)[0]).Err(); err != nil {
		l.redisTrouble("succeed", err)
	}
}
