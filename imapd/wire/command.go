package wire

import (
	"github.com/emersion/go-imap/v2"
)

// Command is one decoded client command.
type Command struct {
	Tag string
	// Name is the command name in upper case, without "UID " ("FETCH" for
	// both FETCH and UID FETCH).
	Name string
	// UID is set for the UID forms (RFC 9051 section 6.4.9).
	UID bool
	// Args holds the arguments as one of the pointer types of this file,
	// nil for commands without arguments (CAPABILITY, NOOP, LOGOUT,
	// STARTTLS, NAMESPACE, IDLE, CHECK, CLOSE, UNSELECT, EXPUNGE), and
	// *Unknown for a command name the decoder does not know.
	Args any
}

// Unknown is the argument of a command whose name is not known; its
// arguments have been consumed unparsed. The server answers BAD and goes
// on, before or after login.
type Unknown struct{}

// Authenticate is AUTHENTICATE (RFC 9051 section 6.2.2) with RFC 4959
// SASL-IR's initial response.
type Authenticate struct {
	Mechanism string // upper case
	// Initial is the decoded initial response; HasInitial tells "=" (an
	// empty response) from none.
	Initial    []byte
	HasInitial bool
}

// Login is LOGIN.
type Login struct {
	Username, Password string
}

// Enable is ENABLE (RFC 5161); capability names are upper case.
type Enable struct {
	Caps []imap.Cap
}

// Select is SELECT, and EXAMINE with Options.ReadOnly.
type Select struct {
	Mailbox string
	Options imap.SelectOptions
	// QResync is the RFC 7162 QRESYNC parameter, nil when absent.
	QResync *QResync
}

// QResync is the parameter of SELECT (QRESYNC (...)) (RFC 7162 section
// 3.2.5).
type QResync struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   imap.UIDSet // nil when absent
	// SeqMatch is the known sequence set with its UIDs, nil when absent.
	SeqMatch *SeqMatch
}

// SeqMatch pairs message sequence numbers with their UIDs.
type SeqMatch struct {
	SeqNums imap.SeqSet
	UIDs    imap.UIDSet
}

// Create is CREATE, with RFC 6154's USE.
type Create struct {
	Mailbox string
	Options imap.CreateOptions
}

// Mailbox is the argument of DELETE, SUBSCRIBE, UNSUBSCRIBE and
// GETQUOTAROOT.
type Mailbox struct {
	Mailbox string
}

// Rename is RENAME.
type Rename struct {
	From, To string
}

// List is LIST (RFC 9051 section 6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819
// LIST-STATUS) and LSUB. Reference and patterns are decoded to UTF-8;
// wildcards are left in the patterns.
type List struct {
	Reference string
	Patterns  []string
	Options   imap.ListOptions
	// Extended is set when the command used selection options, a
	// pattern list or RETURN (the answer then follows RFC 5258).
	Extended bool
}

// Status is STATUS.
type Status struct {
	Mailbox string
	Options imap.StatusOptions
}

// Append is APPEND, with RFC 3502 MULTIAPPEND's several messages.
type Append struct {
	Mailbox  string
	Messages []AppendMessage
}

// AppendMessage is one message of APPEND.
type AppendMessage struct {
	Options imap.AppendOptions
	Literal []byte
	// Binary is set for a literal8 (RFC 3516) message, UTF8 for RFC 6855's
	// "UTF8 (~{n})" form.
	Binary bool
	UTF8   bool
}

// Search is SEARCH (RFC 9051 section 6.4.4), with RFC 4731/5267 RETURN
// options and RFC 7162 MODSEQ.
//
// Search keys map onto imap.SearchCriteria: FROM, TO, CC, BCC and SUBJECT
// become Header fields; ON d becomes Since d and Before d+1 day (likewise
// SENTON); ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, KEYWORD and their UN-
// forms become Flag and NotFlag; RECENT is Flag \Recent, OLD is NotFlag
// \Recent and NEW both Flag \Recent and NotFlag \Seen; SMALLER 0, which
// nothing matches, is NOT ALL (an empty criteria in Not); "$" (RFC 5182) is
// the UID set imap.SearchRes(); a parenthesised list is merged into its
// parent; NOT k and OR a b nest.
type Search struct {
	Charset  string // upper case, "" when absent
	Criteria imap.SearchCriteria
	// Return is nil without RETURN; RETURN () gives a non-nil empty value.
	Return *SearchReturn
}

// SearchReturn holds the RETURN options of SEARCH and SORT.
type SearchReturn struct {
	imap.SearchOptions
	// RFC 5267 CONTEXT=SEARCH.
	Update, Context bool
	Partial         *Partial
}

// Partial is the range of RETURN (PARTIAL low:high) (RFC 5267 section
// 4.4, with RFC 9394's negative ranges counted from the end).
type Partial struct {
	Low, High int64
}

// Fetch is FETCH. RFC822, RFC822.HEADER and RFC822.TEXT are kept apart
// (not in Options.BodySection) because the answer names them so. The
// macros ALL, FAST and FULL come expanded. Options.UID is what the client
// asked for: the answers to UID FETCH carry UID regardless (RFC 9051
// section 6.4.9).
type Fetch struct {
	NumSet  imap.NumSet
	Options imap.FetchOptions
	// Vanished is RFC 7162's VANISHED modifier (UID FETCH only).
	Vanished                         bool
	RFC822, RFC822Header, RFC822Text bool
}

// Store is STORE.
type Store struct {
	NumSet  imap.NumSet
	Flags   imap.StoreFlags
	Options imap.StoreOptions
	// HasUnchangedSince tells UNCHANGEDSINCE 0 (which fails for every
	// message, RFC 7162 section 3.1.3) from none.
	HasUnchangedSince bool
}

// Copy is COPY and MOVE.
type Copy struct {
	NumSet  imap.NumSet
	Mailbox string
}

// Expunge is UID EXPUNGE's UID set (RFC 4315); EXPUNGE has no arguments.
type Expunge struct {
	UIDs imap.UIDSet
}

// SortKey is a sort key of RFC 5256 and RFC 5957 (DISPLAYFROM, DISPLAYTO).
type SortKey string

// The sort keys.
const (
	SortArrival     SortKey = "ARRIVAL"
	SortCc          SortKey = "CC"
	SortDate        SortKey = "DATE"
	SortFrom        SortKey = "FROM"
	SortSize        SortKey = "SIZE"
	SortSubject     SortKey = "SUBJECT"
	SortTo          SortKey = "TO"
	SortDisplayFrom SortKey = "DISPLAYFROM"
	SortDisplayTo   SortKey = "DISPLAYTO"
)

// SortCriterion is one sort key, maybe reversed.
type SortCriterion struct {
	Key     SortKey
	Reverse bool
}

// Sort is SORT (RFC 5256), with RFC 5267 ESORT's RETURN.
type Sort struct {
	Criteria []SortCriterion
	Charset  string
	Search   imap.SearchCriteria
	Return   *SearchReturn
}

// Thread is THREAD (RFC 5256).
type Thread struct {
	Algorithm imap.ThreadAlgorithm // upper case; REFERENCES, ORDEREDSUBJECT or another
	Charset   string
	Search    imap.SearchCriteria
}

// ID is ID (RFC 2971); Params is nil for "ID NIL".
type ID struct {
	Params []IDParam
}

// IDParam is one field of ID; Value is nil for NIL.
type IDParam struct {
	Field string
	Value *string
}

// Quota is GETQUOTA's and SETQUOTA's root (RFC 9208); SETQUOTA has Limits.
type Quota struct {
	Root   string
	Limits []QuotaLimit
}

// QuotaLimit is one resource limit of SETQUOTA.
type QuotaLimit struct {
	Resource imap.QuotaResourceType // upper case
	Limit    int64
}

// CancelUpdate is CANCELUPDATE (RFC 5267 section 4.3).
type CancelUpdate struct {
	Tags []string
}
