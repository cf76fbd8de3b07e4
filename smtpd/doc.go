// Package smtpd is congthu's SMTP submission server (RFC 6409) for civil
// servants' mail clients, on github.com/emersion/go-smtp.
//
// One Server serves two kinds of listeners: Serve for the STARTTLS port
// (587, RFC 3207) and ServeTLS for the implicit-TLS port (465, RFC 8314
// section 3.3). Clients must authenticate (AUTH PLAIN, RFC 4616, or LOGIN,
// draft-murchison-sasl-login; RFC 4954) over TLS; failed logins are throttled
// with loginlimit. An authenticated user may only use addresses it owns (its
// account address or an alias) as MAIL FROM and in the From:/Sender: header
// fields.
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
//	too many recipients                 452 4.5.3 Too many recipients (go-smtp)
//	message too big                     552 5.3.4 Maximum message size exceeded (go-smtp)
//	bare CR or LF in DATA               554 5.6.0 Message contains a bare CR or LF (RFC 5321 section 2.3.8)
//	no or malformed header, no From:    554 5.6.0 ...
//	store or other temporary failure    451 4.3.0 Temporary failure, try again later
//	server shutting down                421 4.3.2 Service shutting down
//	accepted                            250 2.0.0 OK <transaction id>
//
// The reply texts are generic; the details go to the log, one line per
// login attempt and one per mail transaction. Passwords and message bodies
// are never logged.
package smtpd
