// Package wire is congthu's IMAP protocol layer at the octet level: a
// Decoder that turns the client's stream into typed commands, one at a
// time, and an Encoder that writes the server's responses. It knows no
// session state and no mailbox; a command dispatch on top of it decides
// what a command means in the state the session is in.
//
// # Grammar
//
// Commands follow RFC 9051 section 9 (IMAP4rev2) and RFC 3501 section 9
// (IMAP4rev1) with these extensions:
//
//	CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT NAMESPACE IDLE EXPUNGE
//	AUTHENTICATE mech [SP initial-response]     RFC 4959 SASL-IR, "=" for empty
//	LOGIN astring SP astring
//	ENABLE 1*(SP capability)                    RFC 5161
//	SELECT/EXAMINE mailbox [SP "(" CONDSTORE / QRESYNC (uidvalidity modseq
//	    [known-uids] [(seqs uids)]) ")"]        RFC 7162
//	CREATE mailbox [SP (USE (attrs))]           RFC 6154
//	DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT mailbox
//	RENAME mailbox SP mailbox
//	LIST [SP (selection)] SP mailbox SP (pattern / (patterns))
//	    [SP RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS (...))]
//	                                            RFC 5258, RFC 5819
//	LSUB mailbox SP pattern
//	STATUS mailbox SP (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE
//	    HIGHESTMODSEQ APPENDLIMIT DELETED-STORAGE)
//	APPEND mailbox 1*(SP [flags SP] [date-time SP] (literal / literal8 /
//	    UTF8 (literal8)))                       RFC 3502 MULTIAPPEND, RFC 3516, RFC 6855
//	[UID] SEARCH [RETURN (MIN MAX ALL COUNT SAVE UPDATE CONTEXT PARTIAL r)]
//	    [CHARSET c] keys                        RFC 4731, RFC 5182, RFC 5267, RFC 7162
//	[UID] FETCH set (ALL / FAST / FULL / att / (atts)) [(CHANGEDSINCE n [VANISHED])]
//	[UID] STORE set [(UNCHANGEDSINCE n)] [+/-]FLAGS[.SILENT] flags
//	[UID] COPY/MOVE set SP mailbox              RFC 6851
//	UID EXPUNGE uid-set                         RFC 4315
//	[UID] SORT [RETURN (...)] (criteria) charset keys   RFC 5256, RFC 5267 ESORT, RFC 5957
//	[UID] THREAD algorithm charset keys         RFC 5256
//	ID (NIL / (field value ...))                RFC 2971
//	GETQUOTA root, SETQUOTA root (resource limit ...)   RFC 9208
//	CANCELUPDATE 1*(SP tag)                     RFC 5267
//
// Search keys are all of RFC 9051 and RFC 3501 (including NEW, OLD, RECENT)
// and MODSEQ with its optional entry; see Search for how they map onto
// imap.SearchCriteria. FETCH attributes are all of RFC 9051 and RFC 3501:
// ENVELOPE FLAGS INTERNALDATE RFC822.SIZE UID BODYSTRUCTURE BODY RFC822
// RFC822.HEADER RFC822.TEXT BODY[section]<o.l> BODY.PEEK[...] BINARY[part]<o.l>
// BINARY.PEEK[...] BINARY.SIZE[part] MODSEQ. Keywords are case-insensitive;
// a bare LF ends a line as CRLF does; empty lines between commands are
// ignored. A command name the decoder does not know gives a Command with
// Args of type *Unknown and its arguments skipped, so the server can
// answer BAD and go on, logged in or not.
//
// # Limits
//
// Limits bounds every command; a zero field takes its default:
//
//	MaxLine           64 KiB   one line, literal data and CRLF excluded
//	MaxAppendLiteral  25 MiB   one APPEND message (imapd's APPENDLIMIT)
//	MaxLiteral        64 KiB   any other literal
//	MaxDepth          50       nesting of lists, search keys and section parts
//	MaxItems          10,000   ranges in a sequence set, items in a list or
//	                           search program
//	MaxAppendMessages 1,000    messages in one APPEND (RFC 3502 MULTIAPPEND)
//	MaxCommand        64 MiB   one command, lines and literals together
//
// Nothing is read ahead of need: a line longer than MaxLine is discarded as
// it arrives (memory stays within MaxLine), and the decoder stops reading
// as soon as a command passes MaxCommand. A literal's buffer grows as its
// octets arrive beyond 64 KiB, so an announced size costs nothing by itself.
//
// # Literals
//
// A synchronizing literal "{n}" must end its line. When it is within its
// limit the decoder calls the continuation callback given to NewDecoder
// (which writes "+ ..." and flushes) and reads the octets; when it is not,
// Next returns a *SyntaxError with Code "TOOBIG" without calling it: the
// client sends nothing more of that command, and the caller answers NO or
// BAD [TOOBIG].
//
// A non-synchronizing literal "{n+}" (RFC 7888 LITERAL+) never gets a
// continuation. With SetLiteralMinus (LITERAL-) one larger than 4096
// octets is refused. The client sends a refused non-synchronizing literal
// regardless, so, as RFC 7888 section 4 allows, the decoder reads and
// discards it when it is no larger than MaxAppendLiteral and fits
// MaxCommand (the command is answered BAD [TOOBIG], the connection goes
// on); a larger one makes the SyntaxError Fatal: the caller answers and
// closes the connection.
//
// literal8 "~{n}" (RFC 3516) is accepted for APPEND messages only, where
// it may hold NUL; a plain literal holding NUL is a syntax error.
//
// # Errors and resynchronisation
//
// A malformed command gives a *SyntaxError at once, with the tag when one
// was read (for a line too long, the tag at its start) and a short message
// fit for BAD. A quoted string ends with its line: an unterminated one is
// an error there and never swallows the next command. Before returning the
// error, Next consumes the rest of the command: the rest of the line and,
// while that line (read whole, not only after the error) ends with a
// non-synchronizing literal, the literal and the line after it. A
// synchronizing literal at the end needs no skipping, since the client
// waits for a continuation that does not come. The next call to Next
// starts on the next command. ReadSASLResponse and ReadDone read the
// lines of an AUTHENTICATE exchange and the DONE that ends IDLE.
//
// The decoder reads through the caller's bufio.Reader, which may hold
// octets sent after a command. After STARTTLS the caller must refuse to go
// on if any are buffered (or drop them) before the TLS handshake, so that
// nothing sent in clear is taken as sent over TLS (RFC 9051 section
// 6.2.1).
//
// # Mailbox names and UTF8=ACCEPT
//
// Mailbox names come out in UTF-8, "INBOX" in any case as "INBOX". Until
// the caller turns on SetUTF8Accept (after ENABLE UTF8=ACCEPT or
// IMAP4rev2, RFC 6855 section 3, RFC 9051 section 5.1), names are modified
// UTF-7 (RFC 3501 section 5.1.3) decoded strictly — invalid base64, a
// run encoding printable ASCII, adjacent runs, non-zero padding bits or
// unpaired surrogates are a SyntaxError with Code "CANNOT" (the name
// names no mailbox: imapd answers NO [CANNOT], and OK with nothing for a
// LIST pattern), 8-bit octets one without a code — and 8-bit octets
// in atoms are refused. Quoted strings may hold valid UTF-8 either way,
// as Dovecot takes them (clients quote UTF-8 passwords and search
// strings); literals may hold any octets, as CHAR8 allows; neither may
// carry an 8-bit mailbox name. With UTF8=ACCEPT on, atoms and names may
// hold UTF-8, which must be valid, and names are taken as they are: "&"
// is no longer special. LIST patterns follow
// the same rules; their wildcards are left for the matcher.
//
// # Encoder
//
// The Encoder writes status responses (Status: tagged or untagged OK, NO,
// BAD, BYE, PREAUTH with an optional response code), continuation requests
// (Continue) and the values responses are made of: Atom, Number, Number64,
// String (quoted when safe, a literal otherwise, a literal8 when it holds
// NUL), NString and NIL, List/Open/Close, Mailbox (modified UTF-7 unless
// SetUTF8Accept), Flag, Flags and NumSet. The FETCH, LIST, STATUS and
// ESEARCH writers of the dispatch are built from these. Its methods chain
// and keep the first write error for Err and Flush.
package wire
