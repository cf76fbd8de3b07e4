package httpapi

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"congthu/connlimit"
)

// Refusal of a connection over the caps: 503 with Retry-After and the
// usual error body, then the connection is closed (nginx's limit_conn
// answers 503 too). The request is not read first.
var (
	reply503      = refusal("too many connections from your address; try again later")
	reply503Total = refusal("too many connections; try again later")
)

func refusal(msg string) string {
	b, _ := json.Marshal(errorBody{Errors: []fieldError{{Message: msg}}})
	b = append(b, '\n')
	return "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json; charset=utf-8\r\n" +
		"Retry-After: 10\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n" + string(b)
}

// LimitListener caps the connections accepted on ln with lim. A refused
// client is answered 503 (over TLS when tlsConfig is set) and closed.
// Serve the result with http.Server.Serve (the TLS, if any, goes above
// it).
func LimitListener(ln net.Listener, lim *connlimit.Limiter, tlsConfig *tls.Config, log interface {
	Warn(msg string, args ...any)
}) net.Listener {
	return &connlimit.Listener{Listener: ln, Limiter: lim, Refuse: func(c net.Conn, why connlimit.Refusal) {
		reply := reply503Total
		if why == connlimit.TooManyFromClient {
			reply = reply503
		}
		if log != nil {
			log.Warn("http: connection refused", "remote", c.RemoteAddr().String(), "status", http.StatusServiceUnavailable, "why", refusalText(why))
		}
		if tlsConfig != nil {
			tc := tls.Server(c, tlsConfig)
			tc.SetDeadline(time.Now().Add(5 * time.Second))
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		connlimit.WriteAndLinger(c, reply, 2*time.Second)
	}}
}

func refusalText(why connlimit.Refusal) string {
	if why == connlimit.TooManyFromClient {
		return "per-client cap"
	}
	return "total cap"
}
