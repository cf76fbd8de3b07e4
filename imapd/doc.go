// Package imapd serves the official mailboxes over IMAP (RFC 3501 IMAP4rev1
// and RFC 9051 IMAP4rev2) on top of the store. The protocol layer is
// congthu's own: package wire decodes commands into go-imap v2's imap
// types and encodes responses; conn.go runs each connection (greeting,
// STARTTLS, LOGIN and AUTHENTICATE PLAIN, the states of RFC 9051 section
// 3, dispatch by command, IDLE, the autologout timer); the rest answers
// each command from the store.
//
// Besides the base protocol it implements:
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
//   - RFC 5256 SORT and THREAD (ORDEREDSUBJECT, REFERENCES), RFC 5957
//     SORT=DISPLAY, RFC 5267 ESORT (sort.go over package sortthread);
//   - RFC 5267 CONTEXT=SEARCH and CONTEXT=SORT: PARTIAL, UPDATE contexts
//     kept up to date by ADDTO and REMOVEFROM, CANCELUPDATE (context.go);
//   - RFC 7889 APPENDLIMIT, RFC 8438 STATUS=SIZE;
//   - RFC 7162 CONDSTORE and QRESYNC (mod-sequences from the store's
//     change log, VANISHED from its expunge log);
//   - RFC 2971 ID, RFC 7888 LITERAL+, RFC 4959 SASL-IR, RFC 6855
//     UTF8=ACCEPT (8-bit mailbox names only after ENABLE UTF8=ACCEPT or
//     IMAP4rev2).
//
// Errors: a malformed command is answered BAD at once and the session goes
// on, before login too; ten BAD answers in a row end the connection with
// BYE (another protocol's request, a lost client). Waiting longer than
// Options.IdleTimeout for a command, or in IDLE, ends it with BYE.
//
// Text SEARCH keys (TEXT, BODY, SUBJECT, FROM, TO, CC, BCC, HEADER) match
// Vietnamese text case-insensitively and ignoring diacritics, so "ho so"
// finds "Hồ sơ" (RFC 9051 section 6.4.4 leaves the matching rules to the
// server beyond "case-insensitive substring").
//
// Sequence numbers: every mailbox open in this process has one shared
// state, fed from the store's modseq change log (store.ChangesSince) by
// whichever session polls first, which queues the changes on each session
// that has it selected; each session keeps its own view, the UIDs its
// client knows, and applies the queue when it may tell the client
// (tracker.go; RFC 9051 section 7.5.1: no EXPUNGE during FETCH, STORE and
// SEARCH). A new keyword's FLAGS goes out before any FETCH that uses it.
package imapd
