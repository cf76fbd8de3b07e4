// Package dispatcher delivers congthu's outbox: mail that local users sent
// to other domains (and notification email) leaves through it.
//
// Every entry of the outbox (package outbox) has a job "outbox:<id>" on
// the "outbound" queue (see package queue). A job is idempotent: it attempts only the
// entry's recipients that are still queued and due, and records each
// outcome in the outbox, so running it twice delivers nothing twice except
// in a crash between a remote 250 and the record (at least once). A
// Sweeper over Source re-enqueues entries Redis lost.
//
// For each entry the due recipients are grouped by domain. A domain that is
// local (it may have become local since) gets the message in its users'
// INBOX. Other domains get it over SMTP (RFC 5321), signed with DKIM (RFC
// 6376) when the From: domain (or the envelope sender's) is local and has a
// key:
//
//   - to the domain's MX hosts in preference order, equal preferences
//     shuffled; the domain itself when it has no MX (RFC 5321 5.1); a null
//     MX (RFC 7505) fails at once; or to Options.Smarthost with AUTH PLAIN
//     (RFC 4954, RFC 4616) over STARTTLS or implicit TLS (RFC 8314);
//   - with STARTTLS whenever offered (RFC 3207), without insisting on a
//     valid certificate (opportunistic TLS, RFC 7435); when the handshake
//     fails the host is tried again in clear, unless the domain is in
//     Options.RequireTLS;
//   - at most Options.MaxPerDomain connections per destination domain
//     (Options.SmarthostMaxConnections to the smarthost),
//     connections kept idle for a few seconds and reused for the next
//     messages to the same host.
//
// Outcome per recipient: a 2xx reply delivers; 4xx replies, timeouts and
// network or DNS failures are retried on Options.RetrySchedule until
// Options.MaxQueueAge; 5xx replies fail at once (RFC 5321 4.2.1). The one
// place that decides temporary versus permanent is classify, which turns
// every error into a *DeliveryError.
//
// A recipient that failed or expired is reported to the sender with a DSN
// (RFC 3464 multipart/report, RFC 6522; RFC 6533 fields for
// internationalized addresses), in Vietnamese and English with the original
// header section, put into the sender's INBOX when the sender is a local
// account. After Options.DelayNotice the sender is told once per recipient
// that delivery is delayed (Action: delayed). No DSN ever goes to the null
// sender. The outcomes reach whoever subscribed to the outbox
// (outbox.Store.AddHook) inside the transaction that records them; the
// dispatcher knows nothing of who that is.
//
// Each recorded outcome is counted by result and by the class of the
// recipient's domain (local, remote_gov_vn, remote_vn, remote_other; never
// the domain itself), and each DSN by its action (Metrics, metrics.go).
package dispatcher
