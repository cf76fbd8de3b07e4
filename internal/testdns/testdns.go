// Package testdns is a small authoritative DNS server for tests: it answers
// A, AAAA, MX and TXT questions over UDP and TCP on 127.0.0.1 from records
// the test sets, so that MX lookups, SPF, DKIM and DMARC run through the
// real resolver code (net.Resolver, or the binary pointed at it with
// CONGTHU_DNS_RESOLVER) against a real DNS peer.
package testdns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// MX is one mail exchanger.
type MX struct {
	Pref uint16
	Host string
}

// Server is a running test DNS server.
type Server struct {
	udp *net.UDPConn
	tcp net.Listener

	mu   sync.Mutex
	a    map[string][]netip.Addr
	mx   map[string][]MX
	txt  map[string][]string
	fail map[string]bool // names answered with SERVFAIL
}

// Start starts a server on a free port, stopped at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	var (
		udp *net.UDPConn
		tcp net.Listener
		err error
	)
	// The UDP port's TCP twin may be taken by another test's connection:
	// try other ports.
	for range 20 {
		udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(port)))
		if err == nil {
			break
		}
		udp.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{udp: udp, tcp: tcp, a: map[string][]netip.Addr{}, mx: map[string][]MX{}, txt: map[string][]string{}, fail: map[string]bool{}}
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() { udp.Close(); tcp.Close() })
	return s
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func canon(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

// Addr is the server's host:port (for CONGTHU_DNS_RESOLVER).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Resolver returns a pure-Go resolver that asks only this server.
func (s *Server) Resolver() *net.Resolver {
	addr := s.Addr()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// SetA sets the A/AAAA records of name.
func (s *Server) SetA(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	s.a[canon(name)] = as
}

// SetMX sets the MX records of name. A host "." is a null MX (RFC 7505).
func (s *Server) SetMX(name string, mx ...MX) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mx[canon(name)] = mx
}

// SetTXT sets the TXT records of name (each value one record; long values
// are split into 255-byte strings).
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[canon(name)] = values
}

// SetFail makes every question about name answer SERVFAIL (a temporary
// DNS error).
func (s *Server) SetFail(name string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[canon(name)] = fail
}

func (s *Server) serveUDP() {
	buf := make([]byte, 4096)
	for {
		n, from, err := s.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n], 512); resp != nil {
			s.udp.WriteToUDP(resp, from)
		}
	}
}

func (s *Server) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				resp := s.answer(msg, 65535)
				if resp == nil {
					return
				}
				binary.BigEndian.PutUint16(l[:], uint16(len(resp)))
				if _, err := c.Write(append(l[:], resp...)); err != nil {
					return
				}
			}
		}(c)
	}
}

// answer builds the response to one query; nil for garbage.
func (s *Server) answer(query []byte, limit int) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := canon(q.Name.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if s.fail[name] {
		rh.RCode = dnsmessage.RCodeServerFailure
	}
	_, hasA := s.a[name]
	_, hasMX := s.mx[name]
	_, hasTXT := s.txt[name]
	if rh.RCode == dnsmessage.RCodeSuccess && !hasA && !hasMX && !hasTXT {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	rn := q.Name
	hdr := func(t dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: rn, Type: t, Class: dnsmessage.ClassINET, TTL: 60}
	}
	if rh.RCode == dnsmessage.RCodeSuccess {
		switch q.Type {
		case dnsmessage.TypeA:
			for _, a := range s.a[name] {
				if a.Is4() {
					b.AResource(hdr(dnsmessage.TypeA), dnsmessage.AResource{A: a.As4()})
				}
			}
		case dnsmessage.TypeAAAA:
			for _, a := range s.a[name] {
				if a.Is6() {
					b.AAAAResource(hdr(dnsmessage.TypeAAAA), dnsmessage.AAAAResource{AAAA: a.As16()})
				}
			}
		case dnsmessage.TypeMX:
			for _, m := range s.mx[name] {
				host := m.Host
				if host != "." {
					host = canon(host)
				}
				b.MXResource(hdr(dnsmessage.TypeMX), dnsmessage.MXResource{Pref: m.Pref, MX: dnsmessage.MustNewName(host)})
			}
		case dnsmessage.TypeTXT:
			for _, v := range s.txt[name] {
				var parts []string
				for len(v) > 255 {
					parts = append(parts, v[:255])
					v = v[255:]
				}
				parts = append(parts, v)
				b.TXTResource(hdr(dnsmessage.TypeTXT), dnsmessage.TXTResource{TXT: parts})
			}
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	if len(msg) > limit {
		// Truncated: the client retries over TCP.
		rh.Truncated = true
		b := dnsmessage.NewBuilder(nil, rh)
		b.StartQuestions()
		b.Question(q)
		msg, _ = b.Finish()
	}
	return msg
}
