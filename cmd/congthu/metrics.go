package main

import (
	"congthu/dispatcher"
	"congthu/imapd"
	"congthu/internal/metrics"
	"congthu/outbox"
	"congthu/smtpd"
)

// mailMetrics are the mail side's counters, in the process's registry
// (served at /metrics with the API's; docs/metrics.md lists them). The
// login limiter registers its lockouts there too (newLoginLimiter).
type mailMetrics struct {
	smtp     *smtpd.Metrics      // submission and the MX
	delivery *dispatcher.Metrics // the dispatcher's outcomes and DSNs
	imap     *imapd.Metrics      // IMAP connections, commands and logins
}

// newMailMetrics registers the mail side's families in reg: SMTP, the
// dispatcher, IMAP, and the outbox's backlog read from ob at each scrape.
// A component that starts counting registers here, so that
// docs/metrics.md (TestMetricsDoc) lists its families too.
func newMailMetrics(reg *metrics.Registry, ob *outbox.Store) mailMetrics {
	ob.RegisterMetrics(reg, nil)
	return mailMetrics{smtp: smtpd.NewMetrics(reg), delivery: dispatcher.NewMetrics(reg), imap: imapd.NewMetrics(reg)}
}
