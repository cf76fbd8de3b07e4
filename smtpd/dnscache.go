package smtpd

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// txtCache remembers TXT answers (records, or "no such name") for a short
// while in front of the resolver: a busy peer sends many messages with the
// same MAIL FROM and From: domains and DKIM selectors, and each would
// otherwise cost the SPF, DMARC and key lookups again. net.Resolver does
// not report TTLs, so the time is fixed and short. Temporary errors are
// never cached.
type txtCache struct {
	res *net.Resolver
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]txtEntry
}

type txtEntry struct {
	txts    []string
	err     error // a *net.DNSError with IsNotFound
	expires time.Time
}

func newTXTCache(res *net.Resolver, ttl time.Duration, max int) *txtCache {
	return &txtCache{res: res, ttl: ttl, max: max, entries: map[string]txtEntry{}}
}

// LookupTXT is net.Resolver.LookupTXT through the cache. Errors are
// returned as the resolver returned them (callers assert net.Error and
// *net.DNSError).
func (c *txtCache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	key := strings.ToLower(strings.TrimSuffix(name, "."))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		if e.err != nil {
			return nil, e.err
		}
		return append([]string(nil), e.txts...), nil
	}
	txts, err := c.res.LookupTXT(ctx, name)
	var de *net.DNSError
	if err == nil || (errors.As(err, &de) && de.IsNotFound) {
		c.mu.Lock()
		if len(c.entries) >= c.max {
			for k, e := range c.entries {
				if !now.Before(e.expires) {
					delete(c.entries, k)
				}
			}
			if len(c.entries) >= c.max {
				clear(c.entries)
			}
		}
		c.entries[key] = txtEntry{txts: append([]string(nil), txts...), err: err, expires: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return txts, err
}

// resolver is what the checks look names up with: the injected resolver,
// with TXT answers cached when the cache is on.
type resolver struct {
	*net.Resolver
	txt *txtCache // nil: no cache
}

func (r resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if r.txt != nil {
		return r.txt.LookupTXT(ctx, name)
	}
	return r.Resolver.LookupTXT(ctx, name)
}

// dirCacheTTL is how long the MX server reuses the store's answers about
// local domains and recipients. For recipients only what makes mail
// acceptable is used (a local domain, an existing recipient), so a new
// domain or account is reachable at once; a removed or disabled one may
// still receive mail for this long. "Not local" answers serve only the
// From: domain check (local spoofing). Of the storage quota only "has
// room" is remembered: an account that fills up within dirCacheTTL is
// let past RCPT and refused at the end of DATA, where the store decides
// exactly (see quota.go); a full one is asked about again at each RCPT,
// so room made by an expunge is seen at once.
const dirCacheTTL = 10 * time.Second

// dirCache remembers the store's positive answers for dirCacheTTL, shared
// by all sessions: most senders open a connection per message, so a
// per-session cache would not spare the store's queries.
type dirCache struct {
	max int

	mu      sync.Mutex
	domains map[string]dirDomain
	rcpts   map[string]dirRcpt
	room    map[int64]time.Time // accounts not full, until
}

type dirDomain struct {
	local   bool
	expires time.Time
}

type dirRcpt struct {
	id      int64
	expires time.Time
}

func newDirCache(max int) *dirCache {
	return &dirCache{max: max, domains: map[string]dirDomain{}, rcpts: map[string]dirRcpt{}, room: map[int64]time.Time{}}
}

// hasRoom reports whether the store said recently that an account is not
// full.
func (c *dirCache) hasRoom(account int64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.room[account]
	return ok && now.Before(until)
}

func (c *dirCache) setRoom(account int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.room) >= c.max {
		clear(c.room)
	}
	c.room[account] = now.Add(dirCacheTTL)
}

// localDomain returns the remembered answer for d, if any.
func (c *dirCache) localDomain(d string, now time.Time) (local, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.domains[d]
	if !ok || !now.Before(e.expires) {
		return false, false
	}
	return e.local, true
}

func (c *dirCache) setLocalDomain(d string, local bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.domains) >= c.max {
		clear(c.domains)
	}
	c.domains[d] = dirDomain{local: local, expires: now.Add(dirCacheTTL)}
}

func (c *dirCache) recipient(addr string, now time.Time) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rcpts[addr]
	if !ok || !now.Before(r.expires) {
		return 0, false
	}
	return r.id, true
}

func (c *dirCache) setRecipient(addr string, id int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rcpts) >= c.max {
		for k, r := range c.rcpts {
			if !now.Before(r.expires) {
				delete(c.rcpts, k)
			}
		}
		if len(c.rcpts) >= c.max {
			clear(c.rcpts)
		}
	}
	c.rcpts[addr] = dirRcpt{id: id, expires: now.Add(dirCacheTTL)}
}
