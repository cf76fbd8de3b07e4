package mtasts

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/testcert"
	"congthu/internal/testdns"
	"congthu/mtasts/ststest"
)

var ctx = context.Background()

const enforcePolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.bocongan.test\r\nmx: *.mx.bocongan.test\r\nmax_age: 86400\r\n"

type env struct {
	dns   *testdns.Server
	ca    *testcert.CA
	host  *ststest.Server
	cache *memCache
	now   time.Time
	f     *Fetcher
}

func newEnv(t *testing.T) *env {
	e := &env{dns: testdns.Start(t), ca: testcert.NewCA(t), cache: &memCache{m: map[string]Cached{}}, now: time.Now()}
	e.host = ststest.Start(t, e.ca.Server(t, "mta-sts.bocongan.test"), enforcePolicy)
	e.dns.SetA("mta-sts.bocongan.test", "127.0.0.1")
	e.dns.SetTXT("_mta-sts.bocongan.test", "v=STSv1; id=20261128;")
	e.f = e.fetcher()
	return e
}

// later moves the clock past the TXT recheck interval.
func (e *env) later() { e.now = e.now.Add(2 * time.Minute) }

func (e *env) fetcher() *Fetcher {
	return NewFetcher(Options{Resolver: e.dns.Resolver(), Cache: e.cache, RootCAs: e.ca.Pool, Port: e.host.Port,
		Timeout: 5 * time.Second, Now: func() time.Time { return e.now }})
}

type memCache struct {
	mu    sync.Mutex
	m     map[string]Cached
	loads atomic.Int64
}

func (c *memCache) LoadPolicy(_ context.Context, domain string) (Cached, bool, error) {
	c.loads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[domain]
	return v, ok, nil
}

func (c *memCache) SavePolicy(_ context.Context, domain string, v Cached) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[domain] = v
	return nil
}

func mustEnforce(t *testing.T, p *Policy, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if p == nil || p.Mode != Enforce || !p.Matches("mx1.bocongan.test") || !p.Matches("b.mx.bocongan.test") {
		t.Fatalf("policy %+v, want the enforce policy", p)
	}
}

// The policy is fetched once per id, kept (in memory and in the Cache)
// while the TXT record keeps its id, and fetched again when the id changes.
func TestFetchAndKeep(t *testing.T) {
	e := newEnv(t)
	p, err := e.f.Lookup(ctx, "BoCongAn.test.")
	mustEnforce(t, p, err)
	for range 3 {
		p, err = e.f.Lookup(ctx, "bocongan.test")
		mustEnforce(t, p, err)
	}
	if n := e.host.Hits(); n != 1 {
		t.Fatalf("%d fetches for one id, want 1", n)
	}
	if c, ok := e.cache.m["bocongan.test"]; !ok || c.ID != "20261128" || c.Body != enforcePolicy {
		t.Fatalf("cache holds %+v, %v", c, ok)
	}

	e.host.Set(200, "text/plain", "version: STSv1\nmode: testing\nmx: mx1.bocongan.test\nmax_age: 600\n")
	e.dns.SetTXT("_mta-sts.bocongan.test", "v=STSv1; id=20261129;")
	// The TXT record is looked at again only after the recheck interval.
	p, err = e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)
	e.later()
	if p, err := e.f.Lookup(ctx, "bocongan.test"); err != nil || p == nil || p.Mode != Testing || p.MaxAge != 600 {
		t.Fatalf("after a new id: %+v, %v; want the testing policy", p, err)
	}
	if n := e.host.Hits(); n != 2 {
		t.Fatalf("%d fetches after a new id, want 2", n)
	}

	// mode none withdraws the policy.
	e.host.Set(200, "text/plain", "version: STSv1\nmode: none\nmax_age: 600\n")
	e.dns.SetTXT("_mta-sts.bocongan.test", "v=STSv1; id=3;")
	e.later()
	if p, err := e.f.Lookup(ctx, "bocongan.test"); err != nil || p != nil {
		t.Fatalf("mode none: %+v, %v; want no policy", p, err)
	}
}

// A domain without a record has no policy, and the Cache is not asked
// before every delivery.
func TestNoPolicy(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		if p, err := e.f.Lookup(ctx, "hanoi.test"); p != nil || err != nil {
			t.Fatalf("no record: %+v, %v", p, err)
		}
	}
	if n := e.cache.loads.Load(); n != 1 {
		t.Fatalf("%d cache loads for 5 lookups, want 1", n)
	}
	// Two STSv1 records count as none (RFC 8461 3.1); so does a bad one.
	e.dns.SetTXT("_mta-sts.hanoi.test", "v=STSv1; id=1;", "v=STSv1; id=2;")
	e.dns.SetA("mta-sts.hanoi.test", "127.0.0.1")
	e.later()
	if p, err := e.f.Lookup(ctx, "hanoi.test"); p != nil || err != nil {
		t.Fatalf("two records: %+v, %v", p, err)
	}
	e.dns.SetTXT("_mta-sts.hanoi.test", "v=STSv1; id=not valid;")
	e.later()
	if p, err := e.f.Lookup(ctx, "hanoi.test"); p != nil || err != nil {
		t.Fatalf("bad record: %+v, %v", p, err)
	}
	if n := e.host.Hits(); n != 0 {
		t.Fatalf("%d fetches without a valid record", n)
	}
}

// Once cached, a policy holds against an attacker who hides the TXT record
// or the policy host, until its max_age runs out; a restart keeps it
// through the Cache.
func TestCachedPolicyHolds(t *testing.T) {
	e := newEnv(t)
	p, err := e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)

	e.dns.SetTXT("_mta-sts.bocongan.test")
	e.later()
	p, err = e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)

	e.dns.SetTXT("_mta-sts.bocongan.test", "v=STSv1; id=new;")
	e.host.Set(http.StatusNotFound, "text/plain", "")
	e.later()
	p, err = e.f.Lookup(ctx, "bocongan.test")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("fetch of a missing policy: error %v", err)
	}
	if p == nil || p.Mode != Enforce {
		t.Fatalf("the cached policy no longer applies after a failed fetch: %+v", p)
	}
	// The failed fetch is not repeated on every delivery.
	hits := e.host.Hits()
	p, err = e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)
	if e.host.Hits() != hits {
		t.Fatal("a failed fetch was retried within the recheck interval")
	}

	// A restart: a new Fetcher over the same Cache, the policy host down.
	e.host.Close()
	e.dns.SetTXT("_mta-sts.bocongan.test")
	f2 := e.fetcher()
	p, err = f2.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)

	// A day later the policy has expired.
	e.now = e.now.Add(86400 * time.Second)
	f3 := e.fetcher()
	if p, err := f3.Lookup(ctx, "bocongan.test"); p != nil || err != nil {
		t.Fatalf("after max_age: %+v, %v; want no policy", p, err)
	}
	if p, err := e.f.Lookup(ctx, "bocongan.test"); p != nil || err != nil {
		t.Fatalf("after max_age (in memory): %+v, %v; want no policy", p, err)
	}
}

// What RFC 8461 3.3 forbids is refused: a certificate for another name, a
// redirect, another media type, an oversized body, a body that is not a
// policy.
func TestFetchRefusals(t *testing.T) {
	cases := []struct {
		name string
		prep func(e *env)
		want string
	}{
		{"certificate for another name", func(e *env) {
			other := ststest.Start(t, e.ca.Server(t, "www.bocongan.test"), enforcePolicy)
			e.host = other
			e.f = e.fetcher()
		}, "certificate"},
		{"redirect", func(e *env) { e.host.Set(http.StatusFound, "", "") }, "302"},
		{"media type", func(e *env) { e.host.Set(200, "text/html", enforcePolicy) }, "text/html"},
		{"too large", func(e *env) {
			e.host.Set(200, "text/plain", enforcePolicy+strings.Repeat("x: y\n", MaxPolicyBytes/5+1))
		}, "larger"},
		{"not a policy", func(e *env) { e.host.Set(200, "text/plain", "<html>hello</html>") }, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			c.prep(e)
			p, err := e.f.Lookup(ctx, "bocongan.test")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
			if p != nil {
				t.Fatalf("policy %+v from a refused fetch", p)
			}
			if len(e.cache.m) != 0 {
				t.Fatalf("a refused policy was kept: %+v", e.cache.m)
			}
		})
	}
}

// Concurrent deliveries to one domain share one fetch.
func TestConcurrentLookupsFetchOnce(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := e.f.Lookup(ctx, "bocongan.test")
			if err == nil && (p == nil || p.Mode != Enforce) {
				err = errMissing
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := e.host.Hits(); n != 1 {
		t.Fatalf("%d fetches for 20 concurrent lookups, want 1", n)
	}
}

var errMissing = errors.New("no enforce policy")

// slowResolver answers TXT questions slowly, and with an error while fail
// is set, counting them; addresses come from the test DNS server.
type slowResolver struct {
	Resolver
	delay time.Duration
	fail  atomic.Bool
	txts  atomic.Int64
}

func (r *slowResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.txts.Add(1)
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.fail.Load() {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	return r.Resolver.LookupTXT(ctx, name)
}

// A domain whose DNS is slow and failing costs one TXT lookup per recheck
// interval, shared by all the deliveries waiting for it, and they keep the
// cached policy meanwhile.
func TestSlowFailingDNSIsAskedOnce(t *testing.T) {
	e := newEnv(t)
	r := &slowResolver{Resolver: e.dns.Resolver(), delay: 100 * time.Millisecond}
	f := NewFetcher(Options{Resolver: r, Cache: e.cache, RootCAs: e.ca.Pool, Port: e.host.Port, Now: func() time.Time { return e.now }})
	p, err := f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)

	r.fail.Store(true)
	e.later()
	r.txts.Store(0)
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, _ := f.Lookup(ctx, "bocongan.test"); p == nil || p.Mode != Enforce {
				t.Error("a lookup lost the cached policy while DNS failed")
			}
		}()
	}
	wg.Wait()
	if n := r.txts.Load(); n != 1 {
		t.Fatalf("%d TXT lookups for 10 concurrent deliveries, want 1", n)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("10 concurrent lookups took %v", el)
	}
	// Within the recheck interval the failure is not asked again.
	if p, _ := f.Lookup(ctx, "bocongan.test"); p == nil || r.txts.Load() != 1 {
		t.Fatalf("policy %+v, %d TXT lookups after a failure, want the cached policy and still 1", p, r.txts.Load())
	}
}

// A policy is fetched again in the last quarter of its max_age while the
// domain keeps its id, and the old one applies until it expires if that
// fetch fails; an expired policy is never applied, even within a recheck
// interval.
func TestPolicyRefreshedBeforeExpiry(t *testing.T) {
	e := newEnv(t)
	e.host.Set(200, "text/plain", strings.Replace(enforcePolicy, "86400", "600", 1))
	p, err := e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)

	e.now = e.now.Add(300 * time.Second) // half of max_age left: no fetch
	p, err = e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)
	if n := e.host.Hits(); n != 1 {
		t.Fatalf("%d fetches with half of max_age left, want 1", n)
	}

	e.now = e.now.Add(170 * time.Second) // 130 s left
	e.host.Set(http.StatusServiceUnavailable, "text/plain", "")
	p, err = e.f.Lookup(ctx, "bocongan.test")
	if e.host.Hits() != 2 || err == nil {
		t.Fatalf("%d fetches, error %v in the last quarter of max_age; want a second (failed) fetch", e.host.Hits(), err)
	}
	if p == nil || p.Mode != Enforce {
		t.Fatal("the policy was dropped before it expired")
	}

	e.now = e.now.Add(131 * time.Second) // expired, 61 s after the last check
	if p, _ := e.f.Lookup(ctx, "bocongan.test"); p != nil {
		t.Fatalf("an expired policy applies: %+v", p)
	}
	e.host.Set(200, "text/plain", enforcePolicy)
	e.now = e.now.Add(10 * time.Second) // within the recheck interval, but nothing valid is kept
	p, err = e.f.Lookup(ctx, "bocongan.test")
	mustEnforce(t, p, err)
}
