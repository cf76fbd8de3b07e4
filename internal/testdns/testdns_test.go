package testdns

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func TestLookups(t *testing.T) {
	s := Start(t)
	s.SetMX("example.org", MX{20, "mx2.example.org"}, MX{10, "mx1.example.org"})
	s.SetA("mx1.example.org", "127.0.0.1", "::1")
	long := "v=DKIM1; k=rsa; p=" + strings.Repeat("A", 400)
	s.SetTXT("sel._domainkey.example.org", long)
	s.SetTXT("example.org", "v=spf1 ip4:127.0.0.1 -all")
	s.SetMX("null.example", MX{0, "."})
	s.SetFail("broken.example", true)
	r := s.Resolver()
	ctx := context.Background()

	mx, err := r.LookupMX(ctx, "example.org")
	if err != nil || len(mx) != 2 || mx[0].Host != "mx1.example.org." || mx[0].Pref != 10 {
		t.Errorf("MX: got %v %v", mx, err)
	}
	ips, err := r.LookupIPAddr(ctx, "mx1.example.org")
	if err != nil || len(ips) != 2 {
		t.Errorf("A/AAAA: got %v %v", ips, err)
	}
	txt, err := r.LookupTXT(ctx, "sel._domainkey.example.org")
	if err != nil || len(txt) != 1 || txt[0] != long {
		t.Errorf("long TXT: got %d records, %v", len(txt), err)
	}
	mx, err = r.LookupMX(ctx, "null.example")
	if err != nil || len(mx) != 1 || mx[0].Host != "." {
		t.Errorf("null MX: got %v %v", mx, err)
	}
	_, err = r.LookupMX(ctx, "missing.example")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("missing: got %v, want not found", err)
	}
	_, err = r.LookupTXT(ctx, "broken.example")
	if !errors.As(err, &de) || de.IsNotFound {
		t.Errorf("SERVFAIL: got %v, want a temporary error", err)
	}
}
