// Package imapd serves the official mailboxes over IMAP (RFC 3501 IMAP4rev1
// and RFC 9051 IMAP4rev2) on top of the store, using the imapserver package
// of github.com/emersion/go-imap/v2 for the wire protocol.
//
// Besides the base protocol it implements, through imapserver:
//
//   - RFC 2177 IDLE, woken at once by (*Server).MailboxChanged (the store's Changed
//     hook) and, across nodes, by a Redis pub/sub bridge, with a slow poll
//     as the fallback;
//   - RFC 4315 UIDPLUS (APPENDUID, COPYUID, UID EXPUNGE);
//   - RFC 6851 MOVE;
//   - RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE;
//   - RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 3348 CHILDREN;
//   - RFC 2342 NAMESPACE, RFC 3691 UNSELECT, RFC 5161 ENABLE;
//   - RFC 4731 ESEARCH, RFC 5182 SEARCHRES, RFC 3516 BINARY;
//   - RFC 7889 APPENDLIMIT, RFC 8438 STATUS=SIZE.
//
// Text SEARCH keys (TEXT, BODY, SUBJECT, FROM, TO, CC, BCC, HEADER) match
// Vietnamese text case-insensitively and ignoring diacritics, so "ho so"
// finds "Hồ sơ" (RFC 9051 section 6.4.4 leaves the matching rules to the
// server beyond "case-insensitive substring").
//
// Sequence numbers: every mailbox open in this process has one
// imapserver.MailboxTracker, fed from the store's modseq change log
// (store.ChangesSince) by whichever session polls first; each session has an
// imapserver.SessionTracker that turns the shared view into the
// session's own (RFC 9051 section 7.5.1: no EXPUNGE during FETCH, STORE and
// SEARCH).
package imapd
