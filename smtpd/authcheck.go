package smtpd

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Message authentication on inbound mail: SPF (RFC 7208), DKIM (RFC 6376)
// and DMARC (RFC 7489), recorded in an Authentication-Results header field
// (RFC 8601). All DNS goes through the injected resolver.

// spfOutcome is the SPF check of a transaction's MAIL FROM identity.
type spfOutcome struct {
	result spf.Result
	domain string // the domain checked: MAIL FROM's, or HELO's for <>
	ident  string // smtp.mailfrom as recorded: MAIL FROM or postmaster@HELO
	err    error  // detail for the log
}

// checkSPF evaluates SPF for the client (RFC 7208 section 2.4: the MAIL
// FROM identity; for the null reverse-path, postmaster@<HELO domain>).
func checkSPF(ctx context.Context, res resolver, ip netip.Addr, helo, from string) spfOutcome {
	var o spfOutcome
	if at := strings.LastIndexByte(from, '@'); at >= 0 {
		o.domain = strings.ToLower(from[at+1:])
		o.ident = from
	} else {
		// RFC 7208 section 2.4: "When the reverse-path is null, this
		// document defines the "MAIL FROM" identity to be the mailbox
		// composed of the local-part "postmaster" and the "HELO"
		// identity".
		o.domain = strings.ToLower(helo)
		o.ident = "postmaster@" + helo
	}
	if o.domain == "" || strings.HasPrefix(o.domain, "[") || !ip.IsValid() {
		// An address literal or no domain: nothing to look up.
		o.result = spf.None
		return o
	}
	sender := from
	if sender == "" {
		sender = o.ident
	}
	o.result, o.err = spf.CheckHostWithSender(net.IP(ip.AsSlice()), helo, sender,
		spf.WithResolver(res), spf.WithContext(ctx))
	return o
}

// dkimOutcome is the verification of one DKIM-Signature field.
type dkimOutcome struct {
	result authres.ResultValue // pass, fail, neutral, temperror, permerror
	domain string              // d=
	ident  string              // i=
	err    error
}

// maxDKIMSignatures bounds the signatures verified per message; the rest
// are ignored (RFC 6376 section 6.1 lets a verifier limit its work).
const maxDKIMSignatures = 5

// verifyDKIM verifies every DKIM signature of msg (at most
// maxDKIMSignatures).
func verifyDKIM(ctx context.Context, res resolver, msg []byte) []dkimOutcome {
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT:        lookupTXT(ctx, res),
		MaxVerifications: maxDKIMSignatures,
	})
	if err != nil && !errors.Is(err, msgdkim.ErrTooManySignatures) {
		return []dkimOutcome{{result: authres.ResultPermError, err: err}}
	}
	out := make([]dkimOutcome, 0, len(vs))
	for _, v := range vs {
		o := dkimOutcome{domain: strings.ToLower(v.Domain), ident: v.Identifier, err: v.Err}
		switch {
		case v.Err == nil:
			o.result = authres.ResultPass
		case msgdkim.IsTempFail(v.Err):
			o.result = authres.ResultTempError
		case msgdkim.IsPermFail(v.Err):
			o.result = authres.ResultPermError
		default:
			o.result = authres.ResultFail
		}
		out = append(out, o)
	}
	return out
}

// lookupTXT adapts the resolver for go-msgauth, which classifies errors by
// asserting net.Error on them (so they are returned unwrapped).
func lookupTXT(ctx context.Context, res resolver) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		return res.LookupTXT(ctx, name)
	}
}

// orgDomain returns the organizational domain of a domain (RFC 7489
// section 3.2) using the public suffix list built into x/net: for
// "a.b.hcm.gov.vn", "hcm.gov.vn".
func orgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// aligned reports whether an authenticated domain is aligned with the
// From: domain (RFC 7489 section 3.1): equal in strict mode, the same
// organizational domain in relaxed mode.
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a, f := strings.ToLower(authDomain), strings.ToLower(fromDomain)
	if a == "" || f == "" {
		return false
	}
	if a == f {
		return true
	}
	return mode != dmarc.AlignmentStrict && orgDomain(a) == orgDomain(f)
}

// dmarcRecord is the outcome of DMARC policy discovery.
type dmarcRecord struct {
	rec    *dmarc.Record
	domain string              // where it was found: the From domain or its organizational domain
	result authres.ResultValue // "" found, none, temperror, permerror
	err    error
}

// lookupDMARC discovers the DMARC policy of a From: domain (RFC 7489
// section 6.6.3): _dmarc.<domain>, then _dmarc.<organizational domain>.
func lookupDMARC(ctx context.Context, res resolver, domain string) dmarcRecord {
	d := dmarcAt(ctx, res, domain)
	if d.result == authres.ResultNone {
		if org := orgDomain(domain); org != domain {
			d = dmarcAt(ctx, res, org)
		}
	}
	return d
}

func dmarcAt(ctx context.Context, res resolver, domain string) dmarcRecord {
	d := dmarcRecord{domain: domain}
	txts, err := res.LookupTXT(ctx, "_dmarc."+domain)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			d.result = authres.ResultNone
			return d
		}
		d.result, d.err = authres.ResultTempError, err
		return d
	}
	// RFC 7489 section 6.6.3 step 3-5: keep the records that start with
	// "v=DMARC1"; none or several mean no DMARC.
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			recs = append(recs, t)
		}
	}
	if len(recs) != 1 {
		d.result = authres.ResultNone
		return d
	}
	rec, err := dmarc.Parse(recs[0])
	if err != nil {
		// Step 6: a record without a valid p= is not applied.
		d.result, d.err = authres.ResultPermError, err
		return d
	}
	d.rec = rec
	return d
}

// verdict is what happens to a message, from the least to the most severe.
type verdict int

const (
	verdictInbox    verdict = iota
	verdictJunk             // DMARC quarantine
	verdictTempFail         // 451: the outcome depends on a DNS answer we could not get
	verdictReject           // 550
)

// dmarcOutcome is DMARC's evaluation for one From: domain.
type dmarcOutcome struct {
	domain  string
	result  authres.ResultValue // pass, fail, none, temperror, permerror
	policy  dmarc.Policy        // the policy applied after pct sampling ("" when none)
	verdict verdict
	reason  string // for the log: why this verdict
}

// dmarcPolicy is the local handling of DMARC results (see MXOptions).
type dmarcPolicy struct {
	quarantineToInbox bool
	noReject          bool
	rejectLocalSpoof  bool
}

// evaluateDMARC decides, for one From: domain, from the SPF and DKIM
// outcomes and the published record (RFC 7489 sections 4.2 and 6.6).
// local says whether domain is one of ours.
func evaluateDMARC(domain string, local bool, sp spfOutcome, dk []dkimOutcome, rec dmarcRecord, pol dmarcPolicy) dmarcOutcome {
	o := dmarcOutcome{domain: domain}
	spfMode, dkimMode := dmarc.AlignmentMode(dmarc.AlignmentRelaxed), dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	if rec.rec != nil {
		spfMode, dkimMode = rec.rec.SPFAlignment, rec.rec.DKIMAlignment
	}
	// An identifier passes DMARC if it is authenticated and aligned;
	// pending says a temporary error kept an aligned identifier from
	// being checked (it might have passed).
	pass, pending := false, false
	if aligned(sp.domain, domain, spfMode) {
		switch sp.result {
		case spf.Pass:
			pass = true
		case spf.TempError:
			pending = true
		}
	}
	for _, d := range dk {
		if aligned(d.domain, domain, dkimMode) {
			switch d.result {
			case authres.ResultPass:
				pass = true
			case authres.ResultTempError:
				pending = true
			}
		}
	}

	switch {
	case pass && rec.rec != nil:
		o.result, o.reason = authres.ResultPass, "aligned pass"
		return o
	case rec.result == authres.ResultTempError:
		o.result = authres.ResultTempError
		if pass {
			o.reason = "aligned pass, policy unknown"
			return o
		}
		// The policy could say reject: ask the sender to retry
		// (RFC 7489 section 6.6.3 lets a receiver defer).
		o.verdict, o.reason = verdictTempFail, "policy lookup failed"
		if local && pol.rejectLocalSpoof && !pending {
			o.verdict, o.reason = verdictReject, "local domain not authenticated"
		}
		return o
	case rec.rec == nil:
		o.result = rec.result // none or permerror
		if pass {
			o.reason = "aligned pass, no policy"
			return o
		}
		if local && pol.rejectLocalSpoof {
			// Our own domain, sent from outside without an
			// aligned SPF or DKIM pass: spoofing, whatever our DNS
			// publishes (mox does the same for its domains).
			o.result = authres.ResultFail
			o.verdict, o.reason = verdictReject, "local domain not authenticated"
			if pending {
				o.verdict, o.reason = verdictTempFail, "local domain, authentication pending"
			}
		}
		return o
	}

	o.result = authres.ResultFail
	o.policy = rec.rec.Policy
	if rec.domain != domain && rec.rec.SubdomainPolicy != "" {
		o.policy = rec.rec.SubdomainPolicy // RFC 7489 section 6.3, "sp"
	}
	if local && pol.rejectLocalSpoof {
		o.policy = dmarc.PolicyReject
	} else if p := rec.rec.Percent; p != nil && *p < 100 && rand.IntN(100) >= *p {
		// RFC 7489 section 6.6.4: outside the sampled percentage, the
		// next less strict policy applies.
		switch o.policy {
		case dmarc.PolicyReject:
			o.policy = dmarc.PolicyQuarantine
		case dmarc.PolicyQuarantine:
			o.policy = dmarc.PolicyNone
		}
	}
	if o.policy == dmarc.PolicyReject && pol.noReject {
		o.policy = dmarc.PolicyQuarantine
	}
	switch o.policy {
	case dmarc.PolicyReject:
		o.verdict, o.reason = verdictReject, "policy reject"
	case dmarc.PolicyQuarantine:
		o.verdict, o.reason = verdictJunk, "policy quarantine"
	default:
		o.reason = "policy none"
	}
	if pending && o.verdict >= verdictJunk {
		// The failure may be a DNS hiccup: let the sender retry rather
		// than reject or quarantine on it.
		o.result = authres.ResultTempError
		o.verdict, o.reason = verdictTempFail, "aligned identifier pending"
	}
	return o
}

// authResults formats the Authentication-Results header field (RFC 8601
// section 2.2), one method per line, with its CRLF.
func authResults(hostname string, sp spfOutcome, dk []dkimOutcome, dm []dmarcOutcome) string {
	var rs []authres.Result
	rs = append(rs, &authres.SPFResult{Value: authres.ResultValue(sp.result), From: sp.ident})
	if len(dk) == 0 {
		rs = append(rs, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range dk {
		rs = append(rs, &authres.DKIMResult{Value: d.result, Domain: d.domain, Identifier: d.ident})
	}
	for _, d := range dm {
		params := map[string]string{"header.from": d.domain}
		if d.policy != "" {
			// RFC 7489 section 11.2 registers policy.dmarc.
			params["policy.dmarc"] = string(d.policy)
		}
		rs = append(rs, &authres.GenericResult{Method: "dmarc", Value: d.result, Params: params})
	}
	var b strings.Builder
	b.WriteString("Authentication-Results: ")
	b.WriteString(sanitizeDomain(hostname))
	for _, r := range rs {
		// Format with a placeholder identity, keep the method part.
		s := strings.TrimSpace(strings.TrimPrefix(authres.Format("x", []authres.Result{r}), "x; "))
		b.WriteString(";\r\n\t")
		b.WriteString(sanitizeHeaderValue(s))
	}
	b.WriteString("\r\n")
	return b.String()
}

// sanitizeHeaderValue drops CR, LF and other controls from a value that
// came (in part) from the client.
func sanitizeHeaderValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// dkimSummary is the DKIM results for the log: "pass:example.org fail:x.org".
func dkimSummary(dk []dkimOutcome) string {
	if len(dk) == 0 {
		return "none"
	}
	parts := make([]string, len(dk))
	for i, d := range dk {
		parts[i] = string(d.result) + ":" + d.domain
	}
	return strings.Join(parts, " ")
}

// dmarcSummary is the DMARC results for the log.
func dmarcSummary(dm []dmarcOutcome) string {
	parts := make([]string, len(dm))
	for i, d := range dm {
		parts[i] = string(d.result) + ":" + d.domain
		if d.policy != "" {
			parts[i] += "(p=" + string(d.policy) + ")"
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
