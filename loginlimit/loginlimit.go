// Package loginlimit throttles failed logins per client IP address and per
// account name, for any password protocol (SMTP AUTH, IMAP LOGIN and
// AUTHENTICATE, the admin pages).
//
// A server asks Check before it verifies a password, then reports the outcome
// with Fail or Succeed:
//
//	wait, locked := lim.Check(ip, user)
//	if locked { reply "too many failed logins, try again later" }
//	sleep(wait) // a growing delay once a key has a few recent failures
//	verify the password, then lim.Fail(ip, user) or lim.Succeed(ip, user)
//
// Failures are counted in a sliding window (Options.Window). After
// DelayAfter failures of a key, each further answer is delayed by a doubling
// delay; after AccountFailures failures of one account (or IPFailures from
// one address) the key is locked out for Options.Lockout, during which no
// password is verified at all. A success resets the account's count, not the
// address's (so one valid account cannot launder an attacker's address).
//
// Account names are counted by their canonical form (accountname.Key), the
// one the store looks accounts up by: every spelling of a name that the
// store would take for an account, and every invalid spelling of it, counts
// against that account.
//
// IPv6 clients are counted per /64 (Options.IPv6Prefix), since one host
// usually has a whole /64 to pick addresses from.
//
// With Options.Redis the counts and lockouts live in Redis, shared by every
// node, so an attacker spreading guesses over several nodes behind a load
// balancer gets one allowance, not one per node (redis.go). Without it, or
// while Redis does not answer, the state is in memory, per process, bounded
// by Options.MaxEntries: when full, expired entries are dropped first, then
// unlocked ones at random.
//
// Locking out an account also locks out its owner (an attacker can keep a
// victim's account locked): that is the price of stopping distributed guessing
// against one account, and why the lockout is temporary.
package loginlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/accountname"
	"congthu/internal/metrics"
)

// Options configures a Limiter. Zero fields take the defaults shown.
type Options struct {
	// AccountFailures is how many failures of one account within Window
	// lock that account out (default 10).
	AccountFailures int
	// IPFailures is how many failures from one address (or IPv6 prefix)
	// within Window lock that address out (default 20).
	IPFailures int
	// Window is how far back failures count (default 15 minutes).
	Window time.Duration
	// Lockout is how long a key stays locked (default 15 minutes).
	Lockout time.Duration
	// DelayAfter is how many recent failures of a key are answered without
	// delay (default 3). Negative: never delay.
	DelayAfter int
	// BaseDelay is the delay after DelayAfter failures, doubled with each
	// further failure (default 500ms).
	BaseDelay time.Duration
	// MaxDelay caps the delay (default 8s).
	MaxDelay time.Duration
	// MaxEntries bounds the number of keys remembered (default 100000).
	MaxEntries int
	// IPv6Prefix is the prefix length IPv6 addresses are counted by
	// (default 64; 128 counts single addresses).
	IPv6Prefix int
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
	// Redis, if set, holds the counts and lockouts for every node
	// (Cluster-safe keys under congthu:login:). When a Redis call fails,
	// that call falls back to this process's memory.
	Redis redis.UniversalClient
	// RedisTimeout bounds each Redis round trip (default 500ms).
	RedisTimeout time.Duration
	// Log, if set, is told (at most once a minute) when Redis does not
	// answer and this process counts on its own.
	Log *slog.Logger
	// Metrics, if set, is where the limiter counts the lockouts it
	// begins (congthu_login_lockouts_total).
	Metrics *metrics.Registry
}

func (o Options) withDefaults() Options {
	if o.AccountFailures <= 0 {
		o.AccountFailures = 10
	}
	if o.IPFailures <= 0 {
		o.IPFailures = 20
	}
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Lockout <= 0 {
		o.Lockout = 15 * time.Minute
	}
	if o.DelayAfter == 0 {
		o.DelayAfter = 3
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 8 * time.Second
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100000
	}
	if o.IPv6Prefix <= 0 || o.IPv6Prefix > 128 {
		o.IPv6Prefix = 64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = 500 * time.Millisecond
	}
	return o
}

// Limiter counts failed logins. It is safe for concurrent use.
type Limiter struct {
	opts     Options
	lockouts lockoutCounters

	lastTrouble atomic.Int64 // unix seconds of the last Redis warning

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	fails       []time.Time // recent failures, oldest first, within Window
	lockedUntil time.Time
	last        time.Time // last failure, for eviction
}

// New returns a Limiter with opts (zero fields take their defaults).
func New(opts Options) *Limiter {
	return &Limiter{opts: opts.withDefaults(), entries: map[string]*entry{}, lockouts: newLockoutCounters(opts.Metrics)}
}

// AddrOf returns the IP address of a connection's remote address (a
// *net.TCPAddr or any "host:port" string); the zero Addr if it has none.
func AddrOf(a net.Addr) netip.Addr {
	if a == nil {
		return netip.Addr{}
	}
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (l *Limiter) keys(ip netip.Addr, account string) (ipKey, acctKey string) {
	if ip.IsValid() {
		ip = ip.Unmap()
		if ip.Is6() && l.opts.IPv6Prefix < 128 {
			p, err := ip.Prefix(l.opts.IPv6Prefix)
			if err == nil {
				ipKey = "ip:" + p.String()
			}
		} else {
			ipKey = "ip:" + ip.String()
		}
	}
	// Every spelling of a name counts against the account it stands
	// for ("canbo@ demo.gov.vn" and "canbo@demo.gov.vn." against
	// canbo@demo.gov.vn), so variants cannot bypass a lockout.
	account = accountname.Key(account)
	if account != "" {
		acctKey = "acct:" + account
	}
	return ipKey, acctKey
}

// prune drops failures older than the window.
func (l *Limiter) prune(e *entry, now time.Time) {
	cut := now.Add(-l.opts.Window)
	i := 0
	for i < len(e.fails) && !e.fails[i].After(cut) {
		i++
	}
	if i > 0 {
		e.fails = append(e.fails[:0], e.fails[i:]...)
	}
}

// Check reports whether a login from ip for account may be verified now:
// locked is true while the address or the account is locked out (do not
// verify the password; answer "try again later"), and wait is how long to
// delay the answer because of recent failures. An empty account or a zero ip
// is not counted.
func (l *Limiter) Check(ip netip.Addr, account string) (wait time.Duration, locked bool) {
	ipKey, acctKey := l.keys(ip, account)
	now := l.opts.Now()
	n := 0
	if l.opts.Redis != nil {
		// Redis and this process's memory (which holds what was
		// counted while Redis did not answer) together.
		rn, rlocked, err := l.redisCheck(now, ipKey, acctKey)
		if err != nil {
			l.redisTrouble("check", err)
		}
		n, locked = rn, rlocked
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range []string{ipKey, acctKey} {
		if k == "" {
			continue
		}
		e := l.entries[k]
		if e == nil {
			continue
		}
		if now.Before(e.lockedUntil) {
			locked = true
		}
		l.prune(e, now)
		n = max(n, len(e.fails))
	}
	if locked {
		return 0, true
	}
	return l.delay(n), false
}

func (l *Limiter) delay(n int) time.Duration {
	if l.opts.DelayAfter < 0 || n < l.opts.DelayAfter {
		return 0
	}
	d := l.opts.BaseDelay
	for i := l.opts.DelayAfter; i < n && d < l.opts.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.opts.MaxDelay)
}

// Fail records a failed login (wrong password, unknown or disabled account)
// from ip for account.
func (l *Limiter) Fail(ip netip.Addr, account string) {
	ipKey, acctKey := l.keys(ip, account)
	now := l.opts.Now()
	if l.opts.Redis != nil {
		// The keys Redis could not count are counted in memory.
		ipKey, acctKey = l.redisFail(now, ipKey, acctKey)
		if ipKey == "" && acctKey == "" {
			return
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail(ipKey, l.opts.IPFailures, now)
	l.fail(acctKey, l.opts.AccountFailures, now)
}

func (l *Limiter) fail(key string, limit int, now time.Time) {
	if key == "" {
		return
	}
	e := l.entries[key]
	if e == nil {
		if len(l.entries) >= l.opts.MaxEntries {
			l.evict(now)
		}
		e = &entry{}
		l.entries[key] = e
	}
	e.last = now
	if now.Before(e.lockedUntil) {
		// Failures during a lockout (a caller that did not Check) are
		// not counted and do not extend it: the owner gets back in
		// when it ends.
		return
	}
	l.prune(e, now)
	e.fails = append(e.fails, now)
	if len(e.fails) >= limit {
		e.lockedUntil = now.Add(l.opts.Lockout)
		e.fails = nil
		l.lockouts.locked(key)
	}
}

// evict makes room: first entries with neither recent failures nor a
// lockout, then, if still above 90% of MaxEntries, unlocked entries in map
// order (random).
func (l *Limiter) evict(now time.Time) {
	for k, e := range l.entries {
		l.prune(e, now)
		if len(e.fails) == 0 && !now.Before(e.lockedUntil) {
			delete(l.entries, k)
		}
	}
	target := l.opts.MaxEntries * 9 / 10
	for k, e := range l.entries {
		if len(l.entries) <= target {
			break
		}
		if !now.Before(e.lockedUntil) {
			delete(l.entries, k)
		}
	}
	for k := range l.entries {
		if len(l.entries) <= target {
			break
		}
		delete(l.entries, k)
	}
}

// Succeed records a successful login: the account's failures (not the
// address's) are forgotten. A lockout that began since Check stays: an
// attacker's failures during the owner's login are not undone by it. Call
// it only after Check said not locked.
func (l *Limiter) Succeed(ip netip.Addr, account string) {
	_, acctKey := l.keys(ip, account)
	if acctKey == "" {
		return
	}
	if l.opts.Redis != nil {
		l.redisSucceed(acctKey) // and the memory, in case it was used meanwhile
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[acctKey]; e != nil {
		if l.opts.Now().Before(e.lockedUntil) {
			e.fails = nil
		} else {
			delete(l.entries, acctKey)
		}
	}
}

// Len returns the number of keys remembered (for metrics and tests).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
