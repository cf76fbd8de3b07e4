package dkim

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"congthu/internal/mailaddr"
	"congthu/mailhdr"
)

// KeySource looks up the DKIM signing key of a domain. The store
// implements it. A domain that is not local, or has no key, has selector
// "" and a nil error.
type KeySource interface {
	DKIMKey(ctx context.Context, domain string) (selector string, keyPEM []byte, err error)
}

// keyCacheTTL is how long a Signer remembers a domain's key (or that it
// has none): a new key is used within this time.
const keyCacheTTL = 5 * time.Second

// Signer signs outgoing mail with the key of its sender's domain. One
// Signer is shared by submission (which signs what it accepts for remote
// recipients) and the delivery workers (which sign what was queued
// unsigned, such as notification mail).
type Signer struct {
	src  KeySource
	log  *slog.Logger
	keys sync.Map // domain -> cachedKey
}

type cachedKey struct {
	key *Key // nil: no key
	at  time.Time
}

// NewSigner returns a Signer looking keys up in src.
func NewSigner(src KeySource, log *slog.Logger) *Signer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Signer{src: src, log: log}
}

// Sign returns msg with a DKIM-Signature (RFC 6376) prepended when the
// From: domain (else the envelope sender's) is local and has a key; msg
// itself otherwise. The bytes of msg are not changed. SMTP submission
// calls it when it accepts a message for remote recipients, so that the
// queue holds the signed message (as with OpenDKIM in front of Postfix,
// or mox and maddy): delivery and every retry send the stored bytes.
func (s *Signer) Sign(ctx context.Context, mailFrom string, msg []byte) []byte {
	return s.sign(ctx, s.log, candidates(mailFrom, msg), msg)
}

// SignUnlessSigned is Sign, except for a message that already carries a
// DKIM-Signature of the domain Sign would use. log receives its warnings
// (nil: the Signer's).
func (s *Signer) SignUnlessSigned(ctx context.Context, log *slog.Logger, mailFrom string, msg []byte) []byte {
	if log == nil {
		log = s.log
	}
	cands := candidates(mailFrom, msg)
	for _, dom := range cands {
		if hasSignatureOf(msg, dom) {
			return msg
		}
	}
	return s.sign(ctx, log, cands, msg)
}

// sign signs msg with the key of the first of cands that has one.
func (s *Signer) sign(ctx context.Context, log *slog.Logger, cands []string, msg []byte) []byte {
	for _, dom := range cands {
		k, err := s.key(ctx, dom)
		if err != nil {
			log.Warn("dkim: cannot read domain's key", "domain", dom, "err", err)
			continue
		}
		if k == nil {
			continue
		}
		sig, err := k.Sign(msg)
		if err != nil {
			log.Error("dkim: signing failed; sending unsigned", "domain", dom, "err", err)
			return msg
		}
		out := make([]byte, 0, len(sig)+len(msg))
		return append(append(out, sig...), msg...)
	}
	return msg
}

// key returns the parsed key of domain (nil without one), reading it
// from the source when the cached one is older than keyCacheTTL.
func (s *Signer) key(ctx context.Context, domain string) (*Key, error) {
	if v, ok := s.keys.Load(domain); ok {
		c := v.(cachedKey)
		if time.Since(c.at) < keyCacheTTL {
			return c.key, nil
		}
	}
	sel, pem, err := s.src.DKIMKey(ctx, domain)
	if err != nil {
		return nil, err
	}
	c := cachedKey{at: time.Now()}
	if sel != "" && len(pem) > 0 {
		if c.key, err = NewKey(domain, sel, pem); err != nil {
			s.log.Error("dkim: bad key; mail from the domain goes unsigned", "domain", domain, "err", err)
		}
	}
	s.keys.Store(domain, c)
	return c.key, nil
}

// candidates returns the domains whose key may sign msg, in order: the
// From: header's, then the envelope sender's.
func candidates(mailFrom string, msg []byte) []string {
	var out []string
	if from := headerFromDomain(msg); from != "" {
		out = append(out, from)
	}
	if dom := mailaddr.Domain(mailFrom); dom != "" && (len(out) == 0 || out[0] != dom) {
		out = append(out, dom)
	}
	return out
}

// hasSignatureOf reports whether msg's header has a DKIM-Signature field
// with d= dom.
func hasSignatureOf(msg []byte, dom string) bool {
	h, err := mailhdr.Parse(msg)
	if err != nil {
		return false
	}
	for _, v := range h.Values("DKIM-Signature") {
		for tag := range strings.SplitSeq(v, ";") {
			k, val, ok := strings.Cut(tag, "=")
			if ok && strings.TrimSpace(k) == "d" && strings.EqualFold(strings.Join(strings.Fields(val), ""), dom) {
				return true
			}
		}
	}
	return false
}

// headerFromDomain returns the domain of the first address in the From:
// header field, lower case, or "": read as mailhdr reads it, which is how
// submission checked that the sender may use it and how the receiver's
// DMARC check reads it. A header section mailhdr refuses has no From
// domain here (the envelope sender's key may still sign).
func headerFromDomain(msg []byte) string {
	h, err := mailhdr.Parse(msg)
	if err != nil {
		return ""
	}
	s, err := h.Senders()
	if err != nil || len(s.From) == 0 {
		return ""
	}
	return mailaddr.Domain(s.From[0])
}
