package dispatcher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/emersion/go-smtp"
)

// DeliveryError is why a delivery attempt to a recipient did not succeed.
// Whether it is worth retrying is decided once, here, at the delivery
// boundary (see classify), and nowhere else.
type DeliveryError struct {
	// Code is the remote server's SMTP reply code, or 0 when there was no
	// reply (connection refused, timeout, DNS failure, local error).
	Code int
	// Status is the RFC 3463 enhanced status code ("5.1.1"): the remote
	// server's, or one chosen here for local reasons.
	Status string
	// Message is the remote reply text or the local reason.
	Message string
	// RemoteMTA is the host that gave the reply ("" when none did).
	RemoteMTA string
	// Permanent is true when retrying cannot help (5xx replies, null MX,
	// a domain that does not exist, an unknown local recipient).
	Permanent bool
}

// Error implements error.
func (e *DeliveryError) Error() string {
	s := e.Diagnostic()
	if e.RemoteMTA != "" {
		s = e.RemoteMTA + " said: " + s
	}
	return s
}

// Diagnostic is the text of the DSN's Diagnostic-Code (RFC 3464 2.3.6):
// the SMTP reply when there was one.
func (e *DeliveryError) Diagnostic() string {
	msg := strings.ReplaceAll(e.Message, "\n", " ")
	if e.Code != 0 {
		if e.Status != "" {
			return fmt.Sprintf("%d %s %s", e.Code, e.Status, msg)
		}
		return fmt.Sprintf("%d %s", e.Code, msg)
	}
	return msg
}

// dsnStatus is the RFC 3463 status for the DSN: the enhanced code, or one
// derived from the reply's class.
func (e *DeliveryError) dsnStatus() string {
	if e.Status != "" {
		return e.Status
	}
	if e.Permanent {
		return "5.0.0"
	}
	return "4.0.0"
}

// temporary returns a temporary DeliveryError with a local reason.
func temporary(status, format string, args ...any) *DeliveryError {
	return &DeliveryError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// permanent returns a permanent DeliveryError with a local reason.
func permanent(status, format string, args ...any) *DeliveryError {
	return &DeliveryError{Status: status, Message: fmt.Sprintf(format, args...), Permanent: true}
}

// classify turns any error of an SMTP exchange with host into a
// DeliveryError: SMTP replies keep their code (4xx temporary, 5xx
// permanent, RFC 5321 4.2.1); everything else (network errors, timeouts,
// TLS failures, protocol garbage) is temporary.
func classify(err error, host string) *DeliveryError {
	if err == nil {
		return nil
	}
	var de *DeliveryError
	if errors.As(err, &de) {
		if de.RemoteMTA == "" {
			c := *de
			c.RemoteMTA = host
			return &c
		}
		return de
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := &DeliveryError{Code: se.Code, Message: se.Message, RemoteMTA: host, Permanent: se.Code >= 500 && se.Code < 600}
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			e.Status = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		if se.Code < 400 || se.Code >= 600 {
			// An unexpected 2xx/3xx: a protocol error, not a verdict.
			e.Permanent = false
			e.Status = "4.5.0"
		}
		return e
	}
	e := &DeliveryError{Status: "4.4.1", Message: err.Error(), RemoteMTA: host}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Status = "4.4.2"
		e.Message = "timeout: " + err.Error()
	case isTLSError(err):
		e.Status = "4.7.0"
	}
	return e
}

// isTLSError reports whether err came from a TLS handshake.
func isTLSError(err error) bool {
	var re tls.RecordHeaderError
	var ae tls.AlertError
	var ce *tls.CertificateVerificationError
	return errors.As(err, &re) || errors.As(err, &ae) || errors.As(err, &ce) || errors.Is(err, errTLSHandshake)
}

// errTLSHandshake wraps failures of the STARTTLS handshake.
var errTLSHandshake = errors.New("TLS handshake failed")
