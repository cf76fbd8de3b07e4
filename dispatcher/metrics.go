package dispatcher

import (
	"strings"

	"congthu/internal/metrics"
	"congthu/outbox"
)

// Metrics are the dispatcher's counters: recipients' outcomes by result
// and destination class, and the DSNs sent. Build them with NewMetrics
// and give them to Options.Metrics; counting is an atomic add on a
// counter resolved in advance.
type Metrics struct {
	outcomes [numResults][numDestinations]*metrics.Counter
	dsns     map[string]*metrics.Counter // by action
}

// destination is a recipient's domain class, the destination label: the
// class of a remote domain, never the domain itself.
type destination uint8

const (
	destRemoteOther destination = iota // any other remote domain
	destRemoteVN                       // a remote domain under .vn
	destRemoteGovVN                    // a remote domain under .gov.vn: another agency's server
	destLocal                          // one of ours (it became local after the message was queued)
	numDestinations
)

var destinationNames = [numDestinations]string{"remote_other", "remote_vn", "remote_gov_vn", "local"}

// remoteClass is the class of a remote domain.
func remoteClass(domain string) destination {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	switch {
	case d == "gov.vn" || strings.HasSuffix(d, ".gov.vn"):
		return destRemoteGovVN
	case d == "vn" || strings.HasSuffix(d, ".vn"):
		return destRemoteVN
	}
	return destRemoteOther
}

// outcomeResult is a recipient's outcome, the result label (outbox
// states; failed and expired are the bounces).
type outcomeResult uint8

const (
	resultDelivered outcomeResult = iota
	resultDeferred
	resultFailed
	resultExpired
	numResults
)

var resultNames = [numResults]string{"delivered", "deferred", "failed", "expired"}

func resultOf(status string) outcomeResult {
	switch status {
	case outbox.Delivered:
		return resultDelivered
	case outbox.Failed:
		return resultFailed
	case outbox.Expired:
		return resultExpired
	}
	return resultDeferred
}

// NewMetrics registers the dispatcher's families in reg.
func NewMetrics(reg *metrics.Registry) *Metrics {
	m := &Metrics{dsns: map[string]*metrics.Counter{}}
	v := reg.CounterVec("congthu_outbox_outcomes_total",
		"Recorded outcomes of outbox recipients' attempts, by result (delivered; deferred: a temporary failure, tried again; failed: a permanent one; expired: past delivery.max_queue_age — failed and expired are the bounces) and destination (local, remote_gov_vn, remote_vn, remote_other: the class of the recipient's domain).",
		"result", "destination")
	for r := range numResults {
		for d := range numDestinations {
			m.outcomes[r][d] = v.With(resultNames[r], destinationNames[d])
		}
	}
	dv := reg.CounterVec("congthu_outbox_dsns_total",
		"Delivery status notifications put in local senders' INBOX, by action: failed (a bounce, RFC 3464) or delayed (the delay notice).",
		"action")
	for _, a := range []string{"failed", "delayed"} {
		m.dsns[a] = dv.With(a)
	}
	return m
}

// outcome counts one recorded outcome.
func (m *Metrics) outcome(status string, dest destination) {
	m.outcomes[resultOf(status)][dest].Inc()
}

// dsn counts a DSN stored for its sender.
func (m *Metrics) dsn(action string) {
	if c := m.dsns[action]; c != nil {
		c.Inc()
	}
}
