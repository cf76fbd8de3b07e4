package dispatcher

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"congthu/internal/testcert"
	"congthu/internal/testdns"
	"congthu/mtasts"
	"congthu/mtasts/ststest"
	"congthu/outbox"
)

// Deliveries to a domain with an MTA-STS policy (RFC 8461): under enforce
// only to the MX hosts it names, over TLS with a certificate valid for the
// host; otherwise the mail waits and is retried. Under testing, and
// without a policy, TLS stays opportunistic.
func TestMTASTS(t *testing.T) {
	ca := testcert.NewCA(t)
	good := ca.Server(t, "mx1.remote.test")
	wrongName := ca.Server(t, "mail.elsewhere.test")
	const enforce = "version: STSv1\r\nmode: enforce\r\nmx: mx1.remote.test\r\nmax_age: 86400\r\n"
	for _, tc := range []struct {
		name      string
		policy    string // "" publishes none
		sink      sinkOpts
		delivered bool
		verified  bool   // the sink saw TLS
		reason    string // in the last error when not delivered
	}{
		{"enforce, valid certificate", enforce, sinkOpts{tls: true, cert: &good}, true, true, ""},
		{"enforce, certificate for another name", enforce, sinkOpts{tls: true, cert: &wrongName}, false, false, "certificate"},
		{"enforce, self-signed certificate", enforce, sinkOpts{tls: true}, false, false, "certificate"},
		{"enforce, no STARTTLS", enforce, sinkOpts{}, false, false, "MTA-STS"},
		{"enforce, MX host not in the policy", "version: STSv1\r\nmode: enforce\r\nmx: *.mx.remote.test\r\nmax_age: 86400\r\n",
			sinkOpts{tls: true, cert: &good}, false, false, "matches its MTA-STS policy"},
		{"testing, certificate for another name", strings.Replace(enforce, "enforce", "testing", 1), sinkOpts{tls: true, cert: &wrongName}, true, true, ""},
		{"testing, MX host not in the policy", "version: STSv1\r\nmode: testing\r\nmx: other.remote.test\r\nmax_age: 86400\r\n", sinkOpts{}, true, false, ""},
		{"no policy, certificate for another name", "", sinkOpts{tls: true, cert: &wrongName}, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := startSink(t, tc.sink)
			ps := ststest.Start(t, ca.Server(t, "mta-sts.remote.test"), tc.policy)
			var dns *testdns.Server
			var seen atomic.Value // the mode of the last policy looked up ("" none)
			e := newEnv(t, envOpts{opts: func(o *Options) {
				o.Port = portOf(t, sk.addr)
				o.RootCAs = ca.Pool
				o.MTASTS = policyLookupFunc(func() PolicyLookup {
					return mtasts.NewFetcher(mtasts.Options{Resolver: dns.Resolver(), RootCAs: ca.Pool, Port: ps.Port})
				}, &seen)
			}})
			dns = e.dns
			e.mx("remote.test", testdns.MX{Pref: 10, Host: "mx1.remote.test"})
			e.dns.SetA("mx1.remote.test", "127.0.0.1")
			e.dns.SetA("mta-sts.remote.test", "127.0.0.1")
			if tc.policy != "" {
				e.dns.SetTXT("_mta-sts.remote.test", "v=STSv1; id=1;")
			}
			id := e.submit("alice@local.test", []string{"bob@remote.test"}, message("alice@local.test", "bob@remote.test", "mta-sts", 100))
			defer func() {
				want := ""
				if p, err := mtasts.Parse(tc.policy); err == nil {
					want = p.Mode
				}
				if got, _ := seen.Load().(string); got != want {
					t.Errorf("the delivery saw policy mode %q, want %q", got, want)
				}
			}()
			if tc.delivered {
				e.waitStatus(id, "bob@remote.test", outbox.Delivered, 10*time.Second)
				if m := sk.messages(); len(m) != 1 || m[0].tls != tc.verified {
					t.Errorf("sink: %d messages (tls %v), want 1 with tls %v", len(m), len(m) > 0 && m[0].tls, tc.verified)
				}
				return
			}
			waitFor(t, "two attempts", 10*time.Second, func() bool { return e.state(id)["bob@remote.test"].Attempts >= 2 })
			r := e.state(id)["bob@remote.test"]
			if r.Status != outbox.Queued || sk.count() != 0 {
				t.Errorf("status %q, %d messages at the sink; want queued (to retry) and none", r.Status, sk.count())
			}
			if !strings.Contains(r.LastError, tc.reason) {
				t.Errorf("last error %q, want one mentioning %q", r.LastError, tc.reason)
			}
		})
	}
}

// policyLookupFunc builds the lookup on first use (the test's DNS server
// exists only once newEnv has started it) and stores the mode of each
// policy it returns in seen.
func policyLookupFunc(mk func() PolicyLookup, seen *atomic.Value) PolicyLookup {
	return &lazyLookup{mk: mk, seen: seen}
}

type lazyLookup struct {
	once sync.Once
	mk   func() PolicyLookup
	l    PolicyLookup
	seen *atomic.Value
}

func (l *lazyLookup) Lookup(ctx context.Context, domain string) (*mtasts.Policy, error) {
	l.once.Do(func() { l.l = l.mk() })
	p, err := l.l.Lookup(ctx, domain)
	mode := ""
	if p != nil {
		mode = p.Mode
	}
	l.seen.Store(mode)
	return p, err
}

// A pooled connection whose certificate was not verified for the host is
// not reused for a delivery that needs a verified one.
func TestPoolKeepsUnverifiedApart(t *testing.T) {
	tr := newTransport(&Options{IdleTimeout: time.Minute, MaxPerDomain: 10, MaxMessagesPerConn: 100}, testLogger(t))
	cleartext := &remoteConn{addr: "192.0.2.1:25", host: "mx1.remote.test", lastUsed: time.Now()}
	plain := &remoteConn{addr: "192.0.2.1:25", host: "mx1.remote.test", tls: true, lastUsed: time.Now()}
	verified := &remoteConn{addr: "192.0.2.1:25", host: "mx1.remote.test", tls: true, verified: true, lastUsed: time.Now()}
	tr.idle["192.0.2.1:25"] = []*remoteConn{verified, plain, cleartext}
	enforce := tlsPolicy{require: true, verify: true}
	if s, _ := tr.get("192.0.2.1:25", "mx2.remote.test", enforce); s != nil {
		t.Fatal("a session verified for mx1 was handed out for mx2")
	}
	if s, _ := tr.get("192.0.2.1:25", "MX1.remote.test", enforce); s != verified {
		t.Fatalf("got %+v, want the verified session", s)
	}
	if s, _ := tr.get("192.0.2.1:25", "mx1.remote.test", enforce); s != nil {
		t.Fatal("an unverified session was handed out for a verified delivery")
	}
	// TLS required (CONGTHU_REQUIRE_TLS_DOMAINS): never the session
	// that fell back to clear text.
	if s, _ := tr.get("192.0.2.1:25", "mx1.remote.test", tlsPolicy{require: true}); s != plain {
		t.Fatalf("got %+v, want the TLS session for a delivery requiring TLS", s)
	}
	if s, _ := tr.get("192.0.2.1:25", "mx1.remote.test", tlsPolicy{require: true}); s != nil {
		t.Fatal("a clear-text session was handed out for a delivery requiring TLS")
	}
	if s, _ := tr.get("192.0.2.1:25", "mx1.remote.test", tlsPolicy{}); s != cleartext {
		t.Fatalf("got %+v, want the clear-text session for an opportunistic delivery", s)
	}
}
