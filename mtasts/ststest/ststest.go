// Package ststest is a policy host for tests of MTA-STS senders: an HTTPS
// server on 127.0.0.1 that answers /.well-known/mta-sts.txt as the test
// sets it, as net/http/httptest is for HTTP clients.
package ststest

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a running policy host.
type Server struct {
	// Port is the HTTPS port (mtasts.Options.Port).
	Port int

	hits  atomic.Int64
	mu    sync.Mutex
	code  int
	ctype string
	body  string
	srv   *http.Server
}

// Start serves body as text/plain with cert (valid for mta-sts.<domain>)
// until the test ends.
func Start(t testing.TB, cert tls.Certificate, body string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Port: ln.Addr().(*net.TCPAddr).Port, code: http.StatusOK, ctype: "text/plain; charset=utf-8", body: body}
	s.srv = &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Handler:   http.HandlerFunc(s.serve),
	}
	go s.srv.ServeTLS(ln, "", "")
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	code, ctype, body := s.code, s.ctype, s.body
	s.mu.Unlock()
	if code == http.StatusFound {
		http.Redirect(w, r, "https://elsewhere.test/policy", code)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// Set changes the answer: status code (302 redirects elsewhere),
// Content-Type and body.
func (s *Server) Set(code int, ctype, body string) {
	s.mu.Lock()
	s.code, s.ctype, s.body = code, ctype, body
	s.mu.Unlock()
}

// Hits is how many requests the server answered.
func (s *Server) Hits() int64 { return s.hits.Load() }

// Close stops the server (the test's end does it too).
func (s *Server) Close() { s.srv.Close() }
