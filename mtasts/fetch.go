package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Resolver looks up the policy's TXT record and the policy host's
// addresses (*net.Resolver implements it).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Cache keeps fetched policies across restarts, so that a restart does not
// open a window in which an attacker who hides the TXT record turns the
// policy off (RFC 8461 section 10.2). The store implements it.
type Cache interface {
	LoadPolicy(ctx context.Context, domain string) (Cached, bool, error)
	SavePolicy(ctx context.Context, domain string, c Cached) error
}

// Cached is a fetched policy as it is kept: its id from the TXT record, the
// body as served and when it was fetched (it expires max_age later).
type Cached struct {
	ID        string
	Body      string
	FetchedAt time.Time
}

// Options configure a Fetcher.
type Options struct {
	// Resolver; default net.DefaultResolver.
	Resolver Resolver
	// Cache, if set, keeps policies across restarts (the Fetcher also
	// keeps them in memory).
	Cache Cache
	// RootCAs verify the policy hosts' certificates. Default: the
	// system's.
	RootCAs *x509.CertPool
	// Port is the HTTPS port of policy hosts. Default 443 (another is
	// for tests).
	Port int
	// Timeout bounds a policy fetch, and the TXT lookup. Default 10 s.
	Timeout time.Duration
	// Recheck is how long the answer of a domain's TXT record is used
	// before asking the DNS again. Default 1 min.
	Recheck time.Duration
	// Now is the clock of policy expiry. Default time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Fetcher finds the MTA-STS policy of destination domains (RFC 8461
// section 5): the TXT record at _mta-sts.<domain> names the current policy
// id; a policy with another id is fetched from
// https://mta-sts.<domain>/.well-known/mta-sts.txt (certificate verified,
// no redirects, text/plain, at most 64 KB) and kept until its max_age
// runs out. While a policy is cached it applies even when the TXT record
// disappears or the fetch fails. It is safe for concurrent use; one fetch
// per domain runs at a time.
type Fetcher struct {
	o      Options
	client *http.Client

	mu       sync.Mutex
	mem      map[string]*state
	inflight map[string]*flight
}

// maxMemEntries bounds what the Fetcher keeps in memory; when full it is
// emptied (the Cache still has the policies).
const maxMemEntries = 10000

// NewFetcher returns a Fetcher.
func NewFetcher(o Options) *Fetcher {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Port <= 0 {
		o.Port = 443
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Recheck <= 0 {
		o.Recheck = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	f := &Fetcher{o: o, mem: map[string]*state{}, inflight: map[string]*flight{}}
	tr := &http.Transport{
		Proxy:               nil, // policy hosts are reached directly
		DialContext:         f.dial,
		TLSClientConfig:     &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: o.Timeout,
		MaxIdleConns:        16,
		IdleConnTimeout:     30 * time.Second,
	}
	f.client = &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// RFC 8461 section 3.3: redirects must not be followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return f
}

// dial connects to a policy host through the Fetcher's resolver.
func (f *Fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := f.o.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var last error = fmt.Errorf("mtasts: %s has no address", host)
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.IP.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// Lookup returns the policy that applies to mail for domain now, or nil
// when there is none (or its mode is none). An error says why a current
// policy could not be had (DNS, the fetch, a bad policy); the policy
// returned alongside is still the one to apply: a cached one or nil.
//
// The TXT record is checked at most once per Recheck, whatever the
// outcome (a DNS failure or a failed fetch is tried again after Recheck,
// not on every delivery); concurrent lookups of a domain share one check.
func (f *Fetcher) Lookup(ctx context.Context, domain string) (*Policy, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := f.o.Now()
	f.mu.Lock()
	st := f.mem[domain]
	if fl, busy := f.inflight[domain]; busy {
		f.mu.Unlock()
		select {
		case <-fl.done:
			return fl.p, fl.err
		case <-ctx.Done():
			f.mu.Lock()
			defer f.mu.Unlock()
			return st.current(now), ctx.Err()
		}
	}
	if st != nil && now.Sub(st.checked) < f.o.Recheck && (st.pol == nil || now.Before(st.pol.expires)) {
		p := st.current(now)
		f.mu.Unlock()
		return p, nil
	}
	fl := &flight{done: make(chan struct{})}
	f.inflight[domain] = fl
	if st == nil {
		if len(f.mem) >= maxMemEntries {
			clear(f.mem)
		}
		st = &state{}
		f.mem[domain] = st
	}
	f.mu.Unlock()
	fl.p, fl.err = f.refresh(ctx, domain, st, now)
	f.mu.Lock()
	delete(f.inflight, domain)
	f.mu.Unlock()
	close(fl.done)
	return fl.p, fl.err
}

// flight is a refresh in progress; the lookups that wait for it take its
// result.
type flight struct {
	done chan struct{}
	p    *Policy
	err  error
}

// state is what the Fetcher knows of a domain. Only the goroutine that
// holds the domain's inflight slot changes it; the others read it under
// f.mu.
type state struct {
	pol     *entry    // the kept policy, nil if none
	loaded  bool      // the Cache was asked
	checked time.Time // the TXT record was last looked at
}

type entry struct {
	c       Cached
	p       *Policy
	expires time.Time
}

// current is the policy to apply at now (st may be nil).
func (st *state) current(now time.Time) *Policy {
	if st == nil || st.pol == nil || !now.Before(st.pol.expires) {
		return nil
	}
	return applicable(st.pol.p)
}

func (f *Fetcher) refresh(ctx context.Context, domain string, st *state, now time.Time) (*Policy, error) {
	f.mu.Lock()
	loaded := st.loaded
	f.mu.Unlock()
	if !loaded && f.o.Cache != nil {
		e, err := f.load(ctx, domain)
		if err != nil {
			f.o.Log.Warn("mtasts: load kept policy", "domain", domain, "err", err)
		} else {
			f.mu.Lock()
			st.pol, st.loaded = e, true
			f.mu.Unlock()
		}
	}
	keep := func(err error) (*Policy, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return st.current(now), err
	}
	id, err := f.recordID(ctx, domain)
	f.mu.Lock()
	st.checked = now // whatever the outcome: asked again after Recheck
	// The same id, and at least a quarter of max_age left: nothing to
	// fetch. Within the last quarter the policy is fetched again, so
	// that it does not lapse while the domain keeps publishing it (RFC
	// 8461 section 10.2); until then the old one applies.
	same := st.pol != nil && st.pol.c.ID == id && now.Before(st.pol.expires.Add(-time.Duration(st.pol.p.MaxAge)*time.Second/4))
	f.mu.Unlock()
	if err != nil {
		return keep(err)
	}
	if id == "" || same {
		return keep(nil)
	}
	body, err := f.fetch(ctx, domain)
	if err != nil {
		return keep(err)
	}
	p, err := Parse(body)
	if err != nil {
		return keep(fmt.Errorf("mtasts: policy of %s: %w", domain, err))
	}
	c := Cached{ID: id, Body: body, FetchedAt: now}
	f.mu.Lock()
	st.pol = &entry{c: c, p: p, expires: now.Add(time.Duration(p.MaxAge) * time.Second)}
	f.mu.Unlock()
	if f.o.Cache != nil {
		if err := f.o.Cache.SavePolicy(ctx, domain, c); err != nil {
			f.o.Log.Warn("mtasts: keep policy", "domain", domain, "err", err)
		}
	}
	f.o.Log.Info("mtasts: new policy", "domain", domain, "id", id, "mode", p.Mode, "mx", strings.Join(p.MX, " "), "max_age", p.MaxAge)
	return applicable(p), nil
}

// load reads the policy the Cache keeps for domain (nil if none, or
// unreadable: a policy that no longer parses protects nothing).
func (f *Fetcher) load(ctx context.Context, domain string) (*entry, error) {
	c, ok, err := f.o.Cache.LoadPolicy(ctx, domain)
	if err != nil || !ok {
		return nil, err
	}
	p, err := Parse(c.Body)
	if err != nil {
		f.o.Log.Warn("mtasts: a kept policy does not parse", "domain", domain, "err", err)
		return nil, nil
	}
	return &entry{c: c, p: p, expires: c.FetchedAt.Add(time.Duration(p.MaxAge) * time.Second)}, nil
}

func applicable(p *Policy) *Policy {
	if p == nil || p.Mode == None {
		return nil
	}
	return p
}

// recordID returns the policy id the domain publishes, "" when it
// publishes none (no record, several, or an invalid one: RFC 8461 section
// 3.1 treats them all as no record).
func (f *Fetcher) recordID(ctx context.Context, domain string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	txts, err := f.o.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return "", nil
		}
		return "", fmt.Errorf("mtasts: TXT lookup of _mta-sts.%s: %w", domain, err)
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			recs = append(recs, t)
		}
	}
	if len(recs) != 1 {
		return "", nil
	}
	id, err := ParseRecord(recs[0])
	if err != nil {
		return "", nil
	}
	return id, nil
}

func (f *Fetcher) fetch(ctx context.Context, domain string) (string, error) {
	host := "mta-sts." + domain
	if f.o.Port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(f.o.Port))
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+host+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return "", fmt.Errorf("mtasts: policy of %s: %w", domain, err)
	}
	res, err := f.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("mtasts: fetch policy of %s: %w", domain, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("mtasts: fetch policy of %s: HTTP %s (redirects are not followed)", domain, res.Status)
	}
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return "", fmt.Errorf("mtasts: fetch policy of %s: Content-Type %q, want text/plain", domain, res.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxPolicyBytes+1))
	if err != nil {
		return "", fmt.Errorf("mtasts: fetch policy of %s: %w", domain, err)
	}
	if len(b) > MaxPolicyBytes {
		return "", fmt.Errorf("mtasts: policy of %s is larger than %d bytes", domain, MaxPolicyBytes)
	}
	return string(b), nil
}
