// Package smtpd is congthu's SMTP submission server (RFC 6409) for civil
// servants' mail clients, and its inbound MX server for mail from other
// servers (see "Inbound MX" below), on github.com/emersion/go-smtp.
//
// One Server serves two kinds of listeners: Serve for the STARTTLS port
// (587, RFC 3207) and ServeTLS for the implicit-TLS port (465, RFC 8314
// section 3.3). Clients must authenticate (AUTH PLAIN, RFC 4616, or LOGIN,
// draft-murchison-sasl-login; RFC 4954) over TLS; failed logins are throttled
// with loginlimit. An authenticated user may only use addresses it owns (its
// account address or an alias) as MAIL FROM and in the From:/Sender: header
// fields.
//
// Both servers read the header section with mailhdr, the one reading every
// check shares with IMAP's ENVELOPE: a field name must be followed directly
// by its colon ("From :" is refused, not read as a field that no check
// looks at), and there must be exactly one From: with an address and at
// most one Sender:. Incoming X-Congthu-* fields, whatever their case, and
// Authentication-Results fields carrying our host name as authserv-id,
// however it is spelled (case, trailing dot, comments, folding, quoted),
// are removed before the message is stored, on submission as on the MX.
//
// Accepted messages get a Received: trace field (RFC 5321 section 4.4, "with
// ESMTPSA" per RFC 3848) and, when the client left them out, Date: and
// Message-ID: (RFC 6409 sections 8.2 and 8.3), and are stored with one
// store.Deliver call: local recipients into their INBOX, other domains into
// the outbox. 250 is sent only after that call returned, i.e. after the
// commit is durable.
//
// Replies (RFC 3463 enhanced codes):
//
//	MAIL before AUTH                    530 5.7.0 Authentication required
//	AUTH without TLS                    538 5.7.11 Encryption required for requested authentication mechanism
//	wrong user or password              535 5.7.8 Authentication credentials invalid
//	too many failed logins              454 4.7.0 Too many failed logins, try again later
//	MAIL FROM / From: not owned         553 5.7.1 Sender address not allowed for this account
//	non-ASCII address (no SMTPUTF8)     553 5.6.7 Non-ASCII addresses are not supported
//	unknown local recipient             550 5.1.1 No such user here
//	local recipient's mailbox full      452 4.2.2 Mailbox full (at RCPT; see quota.go)
//	malware, rspamd reject (filter.go)  554 5.7.1 (as on the MX)
//	rspamd soft reject or greylist      451 4.7.1 Try again later
//	message fits no local recipient     452 4.2.2 Mailbox full (at DATA; fits some: 250 and a DSN)
//	too many recipients                 452 4.5.3 Too many recipients (go-smtp)
//	message too big                     552 5.3.4 Maximum message size exceeded (go-smtp)
//	bare CR or LF in DATA               554 5.6.0 Message contains a bare CR or LF (RFC 5321 section 2.3.8)
//	whitespace before a field's colon   554 5.6.0 Header field name followed by whitespace before the colon (RFC 5322 section 4.5)
//	other malformed field name          554 5.6.0 Malformed header field name (RFC 5322 section 3.6.8)
//	no header, line without a colon     554 5.6.0 Malformed message header
//	no From:                            554 5.6.0 Message needs exactly one valid From header field
//	more than one From:                 554 5.6.0 More than one From header field (RFC 5322 section 3.6)
//	From: without a valid address       554 5.6.0 From header field without a valid address
//	more than one Sender:               554 5.6.0 More than one Sender header field
//	Sender: not one valid address       554 5.6.0 Sender header field is not one valid address
//	store or other temporary failure    451 4.3.0 Temporary failure, try again later
//	server shutting down                421 4.3.2 Service shutting down
//	accepted                            250 2.0.0 OK <transaction id>
//
// The reply texts are generic; the details go to the log, one line per
// login attempt and one per mail transaction. Passwords and message bodies
// are never logged.
//
// # Inbound MX
//
// MXServer (NewMX) receives mail from other servers (RFC 5321, port 25)
// for local recipients only: it never relays and offers no AUTH. Any
// reverse-path is accepted, the null one included. Each message is checked
// with SPF (RFC 7208, blitiri.com.ar/go/spf, started at MAIL), DKIM (RFC
// 6376, every signature, go-msgauth) and DMARC (RFC 7489: policy at
// _dmarc.<From domain>, else at its organizational domain from the public
// suffix list; relaxed or strict alignment per aspf/adkim; sp and pct
// honoured), all through the injected resolver. The results are recorded
// in one Authentication-Results field (RFC 8601) prepended above a
// Received: field; Authentication-Results fields already carrying our
// authserv-id are removed (RFC 8601 section 5), and so are X-Congthu-*
// fields (see above).
//
// DMARC handling: p=reject refuses the message at the end of DATA;
// p=quarantine delivers it to the recipients' Junk mailbox with the $Junk
// keyword; p=none, no record or an invalid one deliver to the INBOX. A
// message whose From: is one of our own domains but that has neither an
// aligned SPF pass nor an aligned DKIM pass is refused as if our domain
// published p=reject, whatever it publishes (MXOptions.AllowLocalSpoofing
// turns this off). When the outcome would be a refusal or quarantine but a
// temporary DNS error kept an aligned identifier or the policy from being
// checked, the message is deferred with 451 instead; temporary errors
// that cannot change the outcome are only recorded (temperror). SPF alone
// never refuses a message: DMARC decides.
//
// MX replies:
//
//	too many connections                 421 4.7.0 Too many connections, try again later
//	too many connections from the IP     421 4.7.0 Too many connections from your address, try again later
//	too many messages from the IP        451 4.7.1 Too many messages from your address, try again later
//	non-ASCII address (no SMTPUTF8)      553 5.6.7 Non-ASCII addresses are not supported
//	recipient in another domain          550 5.7.1 Relaying not permitted
//	unknown local recipient              550 5.1.1 No such user here
//	local recipient's mailbox full       452 4.2.2 Mailbox full (at RCPT)
//	message fits no local recipient      452 4.2.2 Mailbox full (at DATA; fits some: 250 and a DSN to the sender)
//	too many recipients                  452 4.5.3 Too many recipients (go-smtp)
//	message too big                      552 5.3.4 Maximum message size exceeded (go-smtp)
//	bare CR or LF in DATA                554 5.6.0 Message contains a bare CR or LF
//	header field name, From:, Sender:    554 5.6.0 as on submission (the same texts)
//	more than MaxReceived Received:      554 5.4.6 Too many hops, mail loop suspected
//	DMARC reject, local domain spoofed   550 5.7.1 Rejected by DMARC policy of <domain>
//	DMARC outcome pending on DNS         451 4.7.0 Temporary authentication failure, try again later
//	malware (clamd)                      554 5.7.1 Message refused: it contains malware (<signature>)
//	rspamd: reject                       554 5.7.1 Message refused as spam: <rspamd's message>
//	rspamd: soft reject, greylist        451 4.7.1 Try again later
//	a filter failed (failure tempfail)   451 4.7.1 The message could not be scanned; try again later
//	store or other temporary failure     451 4.3.0 Temporary failure, try again later
//	server shutting down                 421 4.3.2 Service shutting down
//	accepted and committed               250 2.0.0 OK <transaction id>
//
// Each transaction is logged on one line: client IP, HELO, MAIL FROM,
// recipients, SPF/DKIM/DMARC results, the action taken and why, size and
// duration.
//
// # Metrics
//
// Both servers count (Metrics, metrics.go; give them the same one) their
// connections, transactions and RCPT commands by listener (submission,
// submissions, mx), result (accepted, rejected for a 5xx reply, deferred
// for a 4xx, aborted) and reason: the check that answered, named from the
// reply each row of the tables above gives (relay, unknown, dmarc, spam,
// quota, ...). Submission counts its logins in the family every protocol
// shares (loginlimit.NewAttempts). A transaction is counted once, where
// its log line is written.
package smtpd
