package dispatcher

import (
	"context"
	"net"
	"sync"
	"time"
)

// cachingResolver remembers successful MX and address lookups for a short
// time, so that a burst of mail to one domain does not ask the DNS for
// every message (what a local caching resolver does for Postfix). Failures
// are not cached: the next attempt asks again.
type cachingResolver struct {
	r   Resolver
	ttl time.Duration

	mu  sync.Mutex
	mx  map[string]cacheEntry[[]*net.MX]
	ips map[string]cacheEntry[[]net.IPAddr]
}

type cacheEntry[T any] struct {
	v  T
	at time.Time
}

// maxCacheEntries bounds each map; a full map is emptied.
const maxCacheEntries = 10000

func newCachingResolver(r Resolver, ttl time.Duration) *cachingResolver {
	return &cachingResolver{r: r, ttl: ttl, mx: map[string]cacheEntry[[]*net.MX]{}, ips: map[string]cacheEntry[[]net.IPAddr]{}}
}

// LookupMX implements Resolver.
func (c *cachingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	c.mu.Lock()
	e, ok := c.mx[name]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.v, nil
	}
	v, err := c.r.LookupMX(ctx, name)
	if err == nil {
		c.mu.Lock()
		if len(c.mx) >= maxCacheEntries {
			clear(c.mx)
		}
		c.mx[name] = cacheEntry[[]*net.MX]{v, time.Now()}
		c.mu.Unlock()
	}
	return v, err
}

// LookupIPAddr implements Resolver.
func (c *cachingResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	c.mu.Lock()
	e, ok := c.ips[host]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.v, nil
	}
	v, err := c.r.LookupIPAddr(ctx, host)
	if err == nil && len(v) > 0 {
		c.mu.Lock()
		if len(c.ips) >= maxCacheEntries {
			clear(c.ips)
		}
		c.ips[host] = cacheEntry[[]net.IPAddr]{v, time.Now()}
		c.mu.Unlock()
	}
	return v, err
}
