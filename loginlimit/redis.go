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
		n = max(n, int(c.count.Val()))
	}
	return n, locked, nil
}

func (l *Limiter) redisFail(now time.Time, ipKey, acctKey string) error {
	ctx, cancel := l.ctx()
	defer cancel()
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	var b [8]byte
	rand.Read(b[:])
	member := ms + "-" + hex.EncodeToString(b[:]) // two failures in one ms both count
	type keyLimit struct {
		key   string
		limit int
	}
	var todo []keyLimit
	for _, k := range []keyLimit{{ipKey, l.opts.IPFailures}, {acctKey, l.opts.AccountFailures}} {
		if k.key != "" {
			todo = append(todo, k)
		}
	}
	run := func(c redis.Scripter, k keyLimit) *redis.Cmd {
		return scriptFail.EvalSha(ctx, c, redisKeys(k.key), ms, l.opts.Window.Milliseconds(), k.limit, l.opts.Lockout.Milliseconds(), member)
	}
	pipe := l.opts.Redis.Pipeline()
	cmds := make([]*redis.Cmd, len(todo))
	for i, k := range todo {
		cmds[i] = run(pipe, k)
	}
	if len(cmds) == 0 {
		return nil
	}
	pipe.Exec(ctx) // each command holds its own error
	for i, c := range cmds {
		err := c.Err()
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Redis lost its scripts (a restart): load it.
			err = scriptFail.Run(ctx, l.opts.Redis, redisKeys(todo[i].key), ms, l.opts.Window.Milliseconds(),
				todo[i].limit, l.opts.Lockout.Milliseconds(), member).Err()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *Limiter) redisSucceed(acctKey string) {
	ctx, cancel := l.ctx()
	defer cancel()
	l.opts.Redis.Del(ctx, redisKeys(acctKey)[0])
}
