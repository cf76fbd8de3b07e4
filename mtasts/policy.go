// Package mtasts implements the sending side of SMTP MTA Strict Transport
// Security (RFC 8461): a receiving domain publishes, in DNS and over
// HTTPS, which MX hosts may take its mail and that they must be reached
// over TLS with a certificate valid for their name. Without it, TLS
// between mail servers is opportunistic and an attacker on the path can
// strip STARTTLS or answer with a certificate of his own.
//
// Parse and ParseRecord read the policy and its DNS record; Fetcher finds,
// fetches, validates and caches the policy of a domain, as a sending MTA
// needs it before each delivery.
package mtasts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Policy modes (RFC 8461 section 3.2).
const (
	// Enforce: deliver only to a matching MX host over TLS with a
	// valid certificate; otherwise defer.
	Enforce = "enforce"
	// Testing: deliver as without a policy, reporting what enforce
	// would have refused.
	Testing = "testing"
	// None: the domain withdrew its policy.
	None = "none"
)

// MaxAge is the largest max_age a policy may have: about a year.
const MaxAge = 31557600

// MaxPolicyBytes bounds the policy body a Fetcher reads (RFC 8461 section
// 3.3 suggests 64 KB).
const MaxPolicyBytes = 64 << 10

// Policy is a domain's MTA-STS policy.
type Policy struct {
	Mode   string
	MX     []string // host names and "*.domain" patterns, lower case, no trailing dot
	MaxAge int      // seconds
}

// ErrInvalid is wrapped by the errors of Parse and ParseRecord.
var ErrInvalid = errors.New("mtasts: invalid")

// Parse reads a policy body (RFC 8461 section 3.2): "key: value" lines
// ending in CRLF (or LF), with version STSv1, a mode, max_age and, unless
// the mode is none, at least one mx. Unknown keys are ignored. Leniently,
// so that a publisher's slip does not leave its domain unprotected: of a
// key other than mx given twice the first counts, and an mx value that is
// not a host name or pattern is skipped (at least one must remain).
func Parse(body string) (*Policy, error) {
	p := &Policy{MaxAge: -1}
	version := ""
	var badMX []string
	for line := range strings.SplitSeq(body, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%w policy: line %q is not key: value", ErrInvalid, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			if version == "" {
				version = v
			}
		case "mode":
			if p.Mode != "" {
				continue
			}
			if v != Enforce && v != Testing && v != None {
				return nil, fmt.Errorf("%w policy: mode %q (want enforce, testing or none)", ErrInvalid, v)
			}
			p.Mode = v
		case "max_age":
			if p.MaxAge >= 0 {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" {
				return nil, fmt.Errorf("%w policy: max_age %q", ErrInvalid, v)
			}
			p.MaxAge = min(n, MaxAge)
		case "mx":
			pat := strings.ToLower(strings.TrimSuffix(v, "."))
			if !validPattern(pat) {
				badMX = append(badMX, v)
				continue
			}
			p.MX = append(p.MX, pat)
		}
	}
	switch {
	case version != "STSv1":
		return nil, fmt.Errorf("%w policy: version %q (want STSv1)", ErrInvalid, version)
	case p.Mode == "":
		return nil, fmt.Errorf("%w policy: no mode", ErrInvalid)
	case p.MaxAge < 0:
		return nil, fmt.Errorf("%w policy: no max_age", ErrInvalid)
	case len(p.MX) == 0 && p.Mode != None:
		if len(badMX) > 0 {
			return nil, fmt.Errorf("%w policy: no valid mx (%q)", ErrInvalid, strings.Join(badMX, ", "))
		}
		return nil, fmt.Errorf("%w policy: no mx", ErrInvalid)
	}
	return p, nil
}

// validPattern: a host name of two labels or more, or "*." and one.
func validPattern(p string) bool {
	p = strings.TrimPrefix(p, "*.")
	if !strings.Contains(p, ".") || len(p) > 253 {
		return false
	}
	for l := range strings.SplitSeq(p, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Matches reports whether the MX host name is one the policy allows
// (RFC 8461 section 4.1): equal to an mx value, or matching a "*.domain"
// pattern in exactly its leftmost label.
func (p *Policy) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// ParseRecord reads the TXT record at _mta-sts.<domain> (RFC 8461 section
// 3.1): "v=STSv1; id=<1-32 letters and digits>;" with optional further
// fields. It returns the policy id.
func ParseRecord(txt string) (id string, err error) {
	fields := strings.Split(txt, ";")
	if strings.TrimSpace(fields[0]) != "v=STSv1" {
		return "", fmt.Errorf("%w record: does not start with v=STSv1", ErrInvalid)
	}
	for _, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "", fmt.Errorf("%w record: field %q", ErrInvalid, f)
		}
		if k == "id" {
			if id != "" {
				continue // the first counts
			}
			if len(v) < 1 || len(v) > 32 || strings.TrimLeft(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
				return "", fmt.Errorf("%w record: id %q (want 1 to 32 letters and digits)", ErrInvalid, v)
			}
			id = v
		}
	}
	if id == "" {
		return "", fmt.Errorf("%w record: no id", ErrInvalid)
	}
	return id, nil
}

// String is the policy as served (RFC 8461 section 3.2), CRLF-terminated
// lines.
func (p *Policy) String() string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\nmode: " + p.Mode + "\r\n")
	for _, mx := range p.MX {
		b.WriteString("mx: " + mx + "\r\n")
	}
	b.WriteString("max_age: " + strconv.Itoa(p.MaxAge) + "\r\n")
	return b.String()
}

// ID is a policy id for the TXT record of a policy body: the same body
// gives the same id on every node, and a changed body a new one.
func ID(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:10])
}

// Record is the TXT record to publish at _mta-sts.<domain> for a policy
// body.
func Record(body string) string { return "v=STSv1; id=" + ID(body) + ";" }
