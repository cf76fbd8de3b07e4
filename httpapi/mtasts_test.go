package httpapi

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"congthu/internal/testcert"
	"congthu/internal/testdns"
	"congthu/mtasts"
)

// Our MTA-STS policy is served for mta-sts.<local domain> only, and a
// sending MTA (our own mtasts.Fetcher, over HTTPS, through a real DNS
// server) fetches and accepts it.
func TestMTASTSPolicyServed(t *testing.T) {
	pol := (&mtasts.Policy{Mode: mtasts.Enforce, MX: []string{"mail.hanoi.gov.vn"}, MaxAge: 604800}).String()
	e := newEnv(t, "sqlite", func(o *Options) { o.MTASTSPolicy = pol })
	if _, err := e.st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		t.Fatal(err)
	}
	get := func(host string) (int, string, string) {
		req, _ := http.NewRequest("GET", e.ts.URL+"/.well-known/mta-sts.txt", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(b)
	}
	if code, ctype, body := get("MTA-STS.Hanoi.gov.vn:443"); code != 200 || !strings.HasPrefix(ctype, "text/plain") || body != pol {
		t.Fatalf("mta-sts.hanoi.gov.vn: %d %q %q", code, ctype, body)
	}
	for _, host := range []string{"mta-sts.other.example", "hanoi.gov.vn", "api.hanoi.gov.vn"} {
		if code, _, _ := get(host); code != 404 {
			t.Errorf("%s: %d, want 404", host, code)
		}
	}
	off := newEnv(t, "sqlite")
	if _, err := off.st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", off.ts.URL+"/.well-known/mta-sts.txt", nil)
	req.Host = "mta-sts.hanoi.gov.vn"
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 404 {
		t.Fatalf("without a policy: %v %v, want 404", res, err)
	}

	// A sender fetches it over HTTPS, as RFC 8461 asks.
	ca := testcert.NewCA(t)
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "mta-sts.hanoi.gov.vn")}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dns := testdns.Start(t)
	dns.SetA("mta-sts.hanoi.gov.vn", "127.0.0.1")
	dns.SetTXT("_mta-sts.hanoi.gov.vn", mtasts.Record(pol))
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	portN, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	f := mtasts.NewFetcher(mtasts.Options{Resolver: dns.Resolver(), RootCAs: ca.Pool, Port: portN})
	p, err := f.Lookup(ctx, "hanoi.gov.vn")
	if err != nil || p == nil || p.Mode != mtasts.Enforce || !p.Matches("mail.hanoi.gov.vn") || p.Matches("evil.example") {
		t.Fatalf("fetched %+v, %v", p, err)
	}
}
