package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"sync"

	"congthu/console"
	"congthu/notify/notifydb"
)

// providers is what serve knows of its SMS and Zalo providers, filled in
// while the channels start; the console's dashboard reads it through
// health (console.Options.Health).
type providers struct {
	nst *notifydb.Store

	mu       sync.Mutex
	smsc     *lazySMPP
	smscAddr string
	httpSMS  string // the HTTP provider's host
	zaloApp  string
}

func (p *providers) setSMPP(addr string, l *lazySMPP) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.smscAddr, p.smsc = addr, l
}

func (p *providers) setHTTPSMS(raw string) {
	host := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		host = u.Host
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.httpSMS = host
}

func (p *providers) setZalo(appID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.zaloApp = appID
}

// health reports each configured provider: the SMPP bind up or not, the
// HTTP provider as configured, and Zalo's stored token and quota (as
// `congthu zalo status` reads them).
func (p *providers) health(ctx context.Context) []console.ProviderHealth {
	p.mu.Lock()
	smsc, smscAddr, httpSMS, zaloApp := p.smsc, p.smscAddr, p.httpSMS, p.zaloApp
	p.mu.Unlock()
	var out []console.ProviderHealth
	if smsc != nil {
		up, detail := smsc.state()
		out = append(out, console.ProviderHealth{Channel: "sms", Provider: "smpp", Target: smscAddr, Up: up, Detail: detail})
	}
	if httpSMS != "" {
		out = append(out, console.ProviderHealth{Channel: "sms", Provider: "http", Target: httpSMS, Up: true})
	}
	if zaloApp != "" {
		h := console.ProviderHealth{Channel: "zalo", Provider: "zns", Target: zaloApp, QuotaDaily: -1, QuotaRemaining: -1}
		tok, err := p.nst.ZNSToken(ctx, zaloApp)
		switch {
		case errors.Is(err, notifydb.ErrNotFound):
		case err != nil:
			h.Detail = "token not read: " + err.Error()
		default:
			h.TokenRefreshed, h.TokenExpires = tok.RefreshedAt, tok.Expires
			h.QuotaDaily, h.QuotaRemaining, h.QuotaAt = tok.QuotaDaily, tok.QuotaRemaining, tok.QuotaAt
			h.Up = tok.Access != "" && !tok.Expires.IsZero()
		}
		out = append(out, h)
	}
	return out
}

// leafCertificates returns the leaves of the certificates cfg presents.
func leafCertificates(cfg *tls.Config) func() []*x509.Certificate {
	var leaves []*x509.Certificate
	for _, c := range cfg.Certificates {
		leaf := c.Leaf
		if leaf == nil && len(c.Certificate) > 0 {
			leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		if leaf != nil {
			leaves = append(leaves, leaf)
		}
	}
	return func() []*x509.Certificate { return leaves }
}
