package webhook

// Callback URLs are chosen by whoever holds the admin CLI, but they are
// fetched by the server, from inside the agency's network: without a guard
// a callback could be aimed at the server itself (127.0.0.1, [::1]), at a
// cloud metadata service (169.254.169.254) or at any internal host, and
// would carry the signed body there. So a callback goes only to public
// (globally routable) addresses, unless the operator allows a network
// (CONGTHU_API_CALLBACK_ALLOW, for a back office inside the WAN):
//
//   - CheckURL refuses, when the callback is registered, a URL that is not
//     http(s) or whose host is, or resolves to, a refused address;
//   - the client of NewClient checks every address it connects to (after
//     DNS resolution, so a name that later resolves inside is refused too)
//     and never follows redirects (a 3xx is a failed delivery, retried).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefusedAddress is the error (wrapped) of a callback to an address
// that is not allowed.
var ErrRefusedAddress = errors.New("webhook: callback address not allowed")

// specialPrefixes are the non-global ranges of the IANA special-purpose
// address registries (RFC 6890 and successors) that netip's predicates do
// not name: a callback never goes there unless allowed.
var specialPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network" (RFC 791)
		"100.64.0.0/10",   // shared address space, carrier-grade NAT (RFC 6598)
		"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",    // documentation, TEST-NET-1 (RFC 5737)
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // documentation, TEST-NET-2
		"203.0.113.0/24",  // documentation, TEST-NET-3
		"240.0.0.0/4",     // reserved, and the limited broadcast address (RFC 1112, RFC 919)
		"2001::/23",       // IETF protocol assignments, Teredo (RFC 2928, RFC 4380)
		"2001:db8::/32",   // documentation (RFC 3849)
		"3fff::/20",       // documentation (RFC 9637)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Allowed reports whether a callback may connect to ip: an address inside
// one of the allow prefixes always may; otherwise only a global unicast
// address does (not loopback, link-local, private, multicast, unspecified,
// nor another special-purpose range). IPv4 inside IPv6 (mapped, NAT64's
// 64:ff9b::/96, 6to4's 2002::/16) is judged by its IPv4 address.
func Allowed(ip netip.Addr, allow []netip.Prefix) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	if !ip.IsValid() {
		return false
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return Allowed(v4, allow)
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	if ip.Is6() && !globalIPv6.Contains(ip) {
		// Outside 2000::/3, the only IPv6 space IANA allocates for
		// global unicast: ::/8 (IPv4-compatible), 64:ff9b:1::/48,
		// 100::/64, 5f00::/16, fc00::/7, fec0::/10 and the rest.
		return false
	}
	for _, p := range specialPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

var (
	globalIPv6  = netip.MustParsePrefix("2000::/3")
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address an IPv6 address stands for when it
// is a NAT64 (RFC 6052) or 6to4 (RFC 3056) address.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// Resolver looks up a host name's addresses (net.DefaultResolver).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// UnresolvedError is CheckURL's answer for a URL whose host name did not
// resolve: nothing can be said about it now. The caller may accept it
// (the client checks the address again at each connection) or not.
type UnresolvedError struct {
	Host string
	Err  error
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("callback host %s does not resolve: %v", e.Host, e.Err)
}

func (e *UnresolvedError) Unwrap() error { return e.Err }

// CheckURL checks a callback URL when it is registered: an absolute http
// or https URL with a host, whose host is an allowed address (see Allowed)
// or a name all of whose addresses are allowed. A name that does not
// resolve gives an *UnresolvedError. A nil resolver is net.DefaultResolver.
func CheckURL(ctx context.Context, raw string, allow []netip.Prefix, r Resolver) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("no host: want http(s)://host/path")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !Allowed(ip, allow) {
			return fmt.Errorf("%w: %s is %s", ErrRefusedAddress, host, describe(ip))
		}
		return nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip", strings.TrimSuffix(host, "."))
	if err != nil {
		return &UnresolvedError{Host: host, Err: err}
	}
	if len(ips) == 0 {
		return &UnresolvedError{Host: host, Err: errors.New("no address")}
	}
	for _, ip := range ips {
		if !Allowed(ip, allow) {
			return fmt.Errorf("%w: %s resolves to %s, %s", ErrRefusedAddress, host, ip.Unmap(), describe(ip))
		}
	}
	return nil
}

// describe names the kind of a refused address, for error messages.
func describe(ip netip.Addr) string {
	ip = ip.Unmap()
	if v4, ok := embeddedIPv4(ip); ok {
		return "an IPv6 form of " + v4.String() + ", " + describe(v4)
	}
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast(), ip.IsLinkLocalMulticast():
		return "a multicast address"
	}
	return "not a public address"
}

// dialControl is a net.Dialer Control that refuses connections to
// addresses Allowed refuses: it sees the address after DNS resolution.
func dialControl(allow []netip.Prefix) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrRefusedAddress, address, err)
		}
		if !Allowed(ap.Addr(), allow) {
			return fmt.Errorf("%w: %s is %s (CONGTHU_API_CALLBACK_ALLOW allows a network)", ErrRefusedAddress, ap.Addr().Unmap(), describe(ap.Addr()))
		}
		return nil
	}
}

// NewClient returns the HTTP client callbacks are sent with: a timeout,
// every connection checked with Allowed (allow lists the networks allowed
// besides public addresses), no redirects followed (the 3xx response is
// returned as it is), and no proxy from the environment (the check must
// see the callback's own address).
func NewClient(timeout time.Duration, allow []netip.Prefix) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl(allow)}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
