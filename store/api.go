package store

// This file is the contract between the store and its users (smtpd, imapd,
// the dispatcher, the CLI). Signatures here are stable: other packages are
// written against them. Add methods freely; change these only together with
// every caller.

import (
	"errors"
	"time"

	"congthu/internal/sqldb"
	"congthu/outbox"
)

// Errors returned by the store. Callers test them with errors.Is.
var (
	ErrNotFound       = sqldb.ErrNotFound // shared with the outbox
	ErrExists         = errors.New("store: already exists")
	ErrAuthFailed     = errors.New("store: authentication failed")
	ErrDisabled       = errors.New("store: account disabled")
	ErrInUse          = errors.New("store: still in use") // e.g. removing a domain that has accounts
	ErrInvalid        = sqldb.ErrInvalid                  // also for Open's options, checked by the SQL layer
	ErrMailboxInvalid = errors.New("store: invalid mailbox name")
	ErrNonExistent    = ErrNotFound
)

// Options configures Open.
type Options struct {
	// URL selects the backend: "" or "sqlite:PATH" for SQLite (the
	// embedded default; an empty URL means DataDir/congthu.db),
	// "postgres://..." or "postgresql://..." for PostgreSQL.
	URL string
	// DataDir is where the SQLite file lives when URL is empty.
	DataDir string
	// Changed, if set, is called after a commit that changed a mailbox
	// (new message, flags, expunge, mailbox created/deleted/renamed), once
	// per mailbox per commit, with the mailbox's new highest modseq.
	// imapd uses it to wake IDLE sessions (and publishes to Redis for other
	// nodes). It must not block.
	Changed func(accountID, mailboxID int64, modseq int64)
	// Outbox configures the outbox (congthu/outbox) that Open builds
	// over the same database, and that Deliver adds the entries of remote
	// recipients to: Outbox.Added is called once per new entry after its
	// commit, so the caller can enqueue its delivery job at once.
	Outbox outbox.Options
	// AuthCacheTTL is how long a successful password verification is
	// remembered (default 5 minutes; negative disables the cache).
	AuthCacheTTL time.Duration
	// DefaultQuota is the storage quota in bytes of accounts that have
	// none of their own (SetQuota); 0 is unlimited.
	DefaultQuota int64
}

// Domain is a mail domain served locally.
type Domain struct {
	Name      string // lower case, ASCII (IDNA A-labels)
	CreatedAt time.Time
	// DKIMSelector and DKIMPrivateKey (PKCS#8 PEM) are set by the outbound
	// mail issue; empty until then.
	DKIMSelector   string
	DKIMPrivateKey []byte
}

// Account is a mailbox owner: a civil servant or a unit.
type Account struct {
	ID           int64
	Address      string // lower case local@domain
	Domain       string
	DisplayName  string
	PasswordHash string // PHC string: $argon2id$... or a bcrypt $2a$/$2b$ hash
	Disabled     bool
	CreatedAt    time.Time
	// PasswordChangedAt moves forward (by at least a microsecond) with
	// every password change and every disable: sessions that logged in
	// before it end (see CredentialStamp).
	PasswordChangedAt time.Time
}

// Special-use attributes (RFC 6154) given to the default mailboxes.
const (
	SpecialSent    = `\Sent`
	SpecialDrafts  = `\Drafts`
	SpecialTrash   = `\Trash`
	SpecialJunk    = `\Junk`
	SpecialArchive = `\Archive`
)

// DefaultMailboxes are created for every new account, in this order.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", SpecialSent},
	{"Drafts", SpecialDrafts},
	{"Trash", SpecialTrash},
	{"Junk", SpecialJunk},
	{"Archive", SpecialArchive},
}

// Mailbox is an IMAP mailbox (folder). Names use "/" as the hierarchy
// separator; "INBOX" is always spelled in upper case.
type Mailbox struct {
	ID            int64
	AccountID     int64
	Name          string
	SpecialUse    string // "" or one of the Special* constants
	UIDValidity   uint32 // never reused, not even after delete and re-create
	UIDNext       uint32
	HighestModSeq int64 // the mailbox's change counter
	Subscribed    bool
}

// MailboxStatus is what IMAP STATUS and SELECT report.
type MailboxStatus struct {
	Messages      uint32
	Unseen        uint32
	Deleted       uint32
	Size          int64 // sum of message sizes
	UIDNext       uint32
	UIDValidity   uint32
	HighestModSeq int64
	Recent        uint32 // messages with UID >= the mailbox's first recent UID
}

// System flags are stored as their IMAP names.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// MessageMeta is a message's per-mailbox state, without its bytes.
type MessageMeta struct {
	UID    uint32
	ModSeq int64
	Flags  []string // system flags (\Seen ...) and keywords, sorted; never \Recent
	// InternalDate is in the zone (a fixed UTC offset) it was stored
	// with.
	InternalDate time.Time
	Size         int64
}

// Message is a message with its raw bytes.
type Message struct {
	MessageMeta
	Raw       []byte // exactly as received
	HeaderLen int    // Raw[:HeaderLen] is the header section incl. the blank line
}

// Changes are what happened in a mailbox after a modseq.
type Changes struct {
	HighestModSeq int64
	UIDNext       uint32
	// Changed lists messages added or whose flags changed after the
	// given modseq, in UID order.
	Changed []MessageMeta
	// Expunged lists UIDs expunged after the given modseq, ascending.
	Expunged []uint32
}

// Delivery is one accepted message: its bytes once, the local mailboxes it
// goes to and the remote recipients it is queued for.
type Delivery struct {
	Raw          []byte
	InternalDate time.Time // zero: now in Asia/Ho_Chi_Minh; its zone is kept
	// Local recipients: account ID and mailbox name ("" = INBOX), with
	// initial flags (e.g. \Seen for the sender's Sent copy, $Junk).
	Local []LocalTarget
	// Remote recipients go to the outbox (one outbox message with one
	// row per recipient), to be delivered by the dispatcher.
	MailFrom string
	Remote   []string
	// PartialQuota: a local target whose account's quota the message
	// does not fit is left out and listed in DeliveryResult.OverQuota,
	// and the others are stored; the delivery fails with ErrOverQuota
	// only when nothing is left (no local target fits, no remote
	// recipient). Without it, any such target fails the whole delivery
	// with ErrOverQuota.
	PartialQuota bool
}

// LocalTarget is one local mailbox a delivery goes to.
type LocalTarget struct {
	AccountID int64
	Mailbox   string // "" means INBOX; a missing mailbox falls back to INBOX
	Flags     []string
}

// DeliveryResult says where a delivery went.
type DeliveryResult struct {
	// Local has one entry per LocalTarget, in the same order.
	// A target left out (see Delivery.PartialQuota) has a zero entry.
	Local    []AppendResult
	OutboxID int64 // 0 when there were no remote recipients
	// OverQuota lists, ascending, the accounts whose targets were left
	// out because the message did not fit their quota.
	OverQuota []int64
}

// AppendResult identifies a newly stored message (for APPENDUID, RFC 4315).
type AppendResult struct {
	MailboxID   int64
	UIDValidity uint32
	UID         uint32
	ModSeq      int64
}

// StoreOp says how STORE changes flags.
type StoreOp int

// The three STORE operations of RFC 9051 section 6.4.6.
const (
	FlagsSet StoreOp = iota
	FlagsAdd
	FlagsRemove
)

// FlagUpdate is the result of SetFlags for one message.
type FlagUpdate struct {
	UID    uint32
	ModSeq int64
	Flags  []string
}

// CopyResult maps source UIDs to the UIDs of the copies (for COPYUID).
type CopyResult struct {
	UIDValidity uint32 // of the destination
	SrcUIDs     []uint32
	DstUIDs     []uint32
}

// SearchText is what a text SEARCH looks at for one message.
type SearchText struct {
	UID    uint32
	Header []byte // the raw header section
	Body   string // text of the body parts, decoded and folded (see mailtext.Fold)
}
