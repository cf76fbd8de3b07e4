package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true},
		{"203.162.4.191", true}, // a Vietnamese public address
		{"2001:4860:4860::8888", true},
		{"64:ff9b::808:808", true}, // NAT64 form of 8.8.8.8
		{"2002:808:808::1", true},  // 6to4 form of 8.8.8.8
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::127.0.0.1", false}, // IPv4-compatible, deprecated
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"169.254.169.254", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"100.64.0.1", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"2001:db8::1", false},
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 form of 169.254.169.254
		{"64:ff9b::7f00:1", false},
		{"2002:7f00:1::1", false}, // 6to4 form of 127.0.0.1
		{"64:ff9b:1::1", false},
		{"fec0::1", false},
		{"2001::1", false}, // Teredo
	} {
		ip := netip.MustParseAddr(c.ip)
		if got := Allowed(ip, nil); got != c.want {
			t.Errorf("Allowed(%s): got %v, want %v", c.ip, got, c.want)
		}
	}
	allow := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"10.20.3.4", true}, {"::ffff:10.20.3.4", true}, {"::1", true},
		{"10.21.0.1", false}, {"127.0.0.1", false}, {"8.8.8.8", true},
	} {
		if got := Allowed(netip.MustParseAddr(c.ip), allow); got != c.want {
			t.Errorf("Allowed(%s, %v): got %v, want %v", c.ip, allow, got, c.want)
		}
	}
}

// fakeResolver answers from a map; other names do not resolve.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range a {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	r := fakeResolver{
		"motcua.hanoi.gov.vn":  {"203.162.4.191"},
		"localhost":            {"127.0.0.1", "::1"},
		"split.example":        {"203.162.4.191", "10.0.0.5"},
		"metadata.example":     {"169.254.169.254"},
		"backoffice.internal":  {"10.20.3.4"},
		"v6only.example":       {"2001:4860:4860::8888"},
		"v6loopback.example":   {"::1"},
		"mapped.example":       {"::ffff:192.168.0.1"},
		"trailing-dot.example": {"203.162.4.191"},
	}
	for _, c := range []struct {
		url   string
		allow string
		want  string // "" ok, "unresolved", or a part of the error
	}{
		{"https://motcua.hanoi.gov.vn/cb", "", ""},
		{"http://motcua.hanoi.gov.vn:8443/cb?x=1", "", ""},
		{"https://v6only.example/cb", "", ""},
		{"https://trailing-dot.example./cb", "", ""},
		{"https://[2001:4860:4860::8888]/cb", "", ""},
		{"https://8.8.8.8/cb", "", ""},
		{"http://127.0.0.1:8080/cb", "", "loopback"},
		{"http://[::1]:8080/cb", "", "loopback"},
		{"http://[::ffff:127.0.0.1]/cb", "", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "", "link-local"},
		{"http://[fe80::1]/cb", "", "link-local"},
		{"http://10.0.0.1/cb", "", "private"},
		{"http://192.168.1.1/cb", "", "private"},
		{"http://[fc00::1]/cb", "", "private"},
		{"http://100.64.0.1/cb", "", "not a public address"},
		{"http://0.0.0.0:8080/cb", "", "unspecified"},
		{"http://224.0.0.1/cb", "", "multicast"},
		{"http://localhost:8080/cb", "", "loopback"},
		{"http://split.example/cb", "", "10.0.0.5"},
		{"http://metadata.example/", "", "link-local"},
		{"http://v6loopback.example/", "", "loopback"},
		{"http://mapped.example/", "", "private"},
		{"https://backoffice.internal/cb", "", "private"},
		{"https://backoffice.internal/cb", "10.20.0.0/16", ""},
		{"http://127.0.0.1:8080/cb", "127.0.0.0/8", ""},
		{"ftp://motcua.hanoi.gov.vn/cb", "", "scheme"},
		{"file:///etc/passwd", "", "scheme"},
		{"gopher://127.0.0.1:6379/_FLUSHALL", "", "scheme"},
		{"http:///cb", "", "no host"},
		{"http:cb", "", "no host"},
		{"https://unknown.example/cb", "", "unresolved"},
		{"://x", "", "not a URL"},
	} {
		var allow []netip.Prefix
		if c.allow != "" {
			allow = append(allow, netip.MustParsePrefix(c.allow))
		}
		err := CheckURL(context.Background(), c.url, allow, r)
		var ue *UnresolvedError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckURL(%s): got %v, want ok", c.url, err)
		case c.want == "unresolved" && !errors.As(err, &ue):
			t.Errorf("CheckURL(%s): got %v, want an UnresolvedError", c.url, err)
		case c.want != "" && c.want != "unresolved" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckURL(%s): got %v, want an error with %q", c.url, err, c.want)
		}
	}
}

// The client refuses loopback unless allowed, and never follows a
// redirect: a 307 to another listener is the answer, and that listener
// receives nothing.
func TestClientGuard(t *testing.T) {
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
	}))
	defer thief.Close()
	var hits atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, thief.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	post := func(c *http.Client, url string) (*http.Response, error) {
		return c.Post(url, "application/json", strings.NewReader(`{"id":"x"}`))
	}
	// Not allowed: refused at connect time, whatever the name.
	for _, u := range []string{redirector.URL, strings.Replace(redirector.URL, "127.0.0.1", "localhost", 1)} {
		resp, err := post(NewClient(5*time.Second, nil), u)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("POST %s: got %s, want a refused connection", u, resp.Status)
		}
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("POST %s: got %v, want ErrRefusedAddress", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the refused receiver got %d requests", hits.Load())
	}
	// Allowed: the 307 is the answer.
	c := NewClient(5*time.Second, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	resp, err := post(c, redirector.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || hits.Load() != 1 {
		t.Errorf("got %s after %d requests, want 307 after 1", resp.Status, hits.Load())
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests, want 0", n)
	}
}
