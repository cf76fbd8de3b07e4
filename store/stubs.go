package store

// TEMPORARY: signatures of the store's methods, so that smtpd and imapd can
// be written against them while the store is implemented. The store's
// implementer replaces each stub with the real method (moving it to its own
// file) and deletes this file when empty. Signatures are the contract.

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"time"
)

var errTODO = errors.New("store: not implemented yet")

// Store is the system of record. It is safe for concurrent use by many
// goroutines and by several processes sharing one PostgreSQL database.
type Store struct{}

// Open opens (creating if needed) the store and applies migrations.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*Store, error) {
	return nil, errTODO
}

// Close closes the database.
func (s *Store) Close() error { return errTODO }

// Ping checks the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return errTODO }

// Backend returns "sqlite" or "postgres".
func (s *Store) Backend() string { return "" }

// --- domains

// AddDomain adds a local domain. ErrExists if present, ErrInvalid if not a domain name.
func (s *Store) AddDomain(ctx context.Context, name string) (*Domain, error) { return nil, errTODO }

// Domains lists local domains by name.
func (s *Store) Domains(ctx context.Context) ([]Domain, error) { return nil, errTODO }

// RemoveDomain removes a domain; ErrInUse while it has accounts or aliases.
func (s *Store) RemoveDomain(ctx context.Context, name string) error { return errTODO }

// IsLocalDomain reports whether name (any case) is a local domain.
func (s *Store) IsLocalDomain(ctx context.Context, name string) (bool, error) { return false, errTODO }

// SetDomainDKIM stores a domain's DKIM selector and private key (PKCS#8 PEM).
func (s *Store) SetDomainDKIM(ctx context.Context, name, selector string, key []byte) error {
	return errTODO
}

// --- accounts and aliases

// AddAccount creates an account in an existing local domain with its
// default mailboxes (DefaultMailboxes) and subscriptions, in one transaction.
// The password is hashed with argon2id. ErrNotFound if the domain is not
// local, ErrExists if the address is taken (as account or alias).
func (s *Store) AddAccount(ctx context.Context, address, password string) (*Account, error) {
	return nil, errTODO
}

// Account returns the account with that address (any case). ErrNotFound.
func (s *Store) Account(ctx context.Context, address string) (*Account, error) { return nil, errTODO }

// AccountByID returns an account by ID. ErrNotFound.
func (s *Store) AccountByID(ctx context.Context, id int64) (*Account, error) { return nil, errTODO }

// Accounts lists accounts, of one domain when domain != "".
func (s *Store) Accounts(ctx context.Context, domain string) ([]Account, error) { return nil, errTODO }

// SetPassword changes the password (and invalidates cached verifications).
func (s *Store) SetPassword(ctx context.Context, address, password string) error { return errTODO }

// SetDisabled disables or enables an account. A disabled account cannot log
// in and receives no mail (its address answers as unknown).
func (s *Store) SetDisabled(ctx context.Context, address string, disabled bool) error {
	return errTODO
}

// RemoveAccount deletes an account with its mailboxes, messages and aliases.
func (s *Store) RemoveAccount(ctx context.Context, address string) error { return errTODO }

// Authenticate checks a password. It returns ErrAuthFailed for an unknown
// address or a wrong password (indistinguishably, and taking about as long),
// ErrDisabled for a disabled account. Successful verifications are cached
// for Options.AuthCacheTTL keyed on (address, password, stored hash), so a
// password change — by this process or another — invalidates them.
func (s *Store) Authenticate(ctx context.Context, address, password string) (*Account, error) {
	return nil, errTODO
}

// AddAlias makes alias (an address in a local domain) deliver to the
// account of target. ErrExists if alias is an account or alias already.
func (s *Store) AddAlias(ctx context.Context, target, alias string) error { return errTODO }

// RemoveAlias removes an alias. ErrNotFound.
func (s *Store) RemoveAlias(ctx context.Context, alias string) error { return errTODO }

// Aliases lists the aliases of an account.
func (s *Store) Aliases(ctx context.Context, address string) ([]string, error) { return nil, errTODO }

// ResolveRecipient maps a local address (account or alias, any case) to
// its enabled account. ErrNotFound otherwise (also for disabled accounts).
func (s *Store) ResolveRecipient(ctx context.Context, address string) (*Account, error) {
	return nil, errTODO
}

// CanSendAs reports whether the account may use address as MAIL FROM /
// From: its own address or one of its aliases.
func (s *Store) CanSendAs(ctx context.Context, accountID int64, address string) (bool, error) {
	return false, errTODO
}

// --- mailboxes

// Mailboxes lists an account's mailboxes ordered by name.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error) {
	return nil, errTODO
}

// Mailbox returns one mailbox by name ("inbox" in any case is INBOX). ErrNotFound.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (*Mailbox, error) {
	return nil, errTODO
}

// MailboxByID returns one mailbox by ID. ErrNotFound.
func (s *Store) MailboxByID(ctx context.Context, id int64) (*Mailbox, error) { return nil, errTODO }

// CreateMailbox creates a mailbox (and missing parents, RFC 9051 6.3.4)
// with a fresh UIDVALIDITY. ErrExists, ErrMailboxInvalid.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*Mailbox, error) {
	return nil, errTODO
}

// DeleteMailbox deletes a mailbox and its messages. INBOX cannot be
// deleted (ErrInvalid). A mailbox with children is removed but its
// children stay (RFC 9051 6.3.5 allows leaving the name as \Noselect; we
// simply delete only the named one). ErrNotFound.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	return errTODO
}

// RenameMailbox renames a mailbox and its children (keeping UIDVALIDITY).
// Renaming INBOX moves its messages to the new mailbox and leaves INBOX
// empty (RFC 9051 6.3.6). ErrNotFound, ErrExists.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	return errTODO
}

// SetSubscribed subscribes or unsubscribes a mailbox name (a name may be
// subscribed without existing, RFC 9051 6.3.7).
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	return errTODO
}

// Subscriptions lists subscribed names.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	return nil, errTODO
}

// Status returns counts for STATUS/SELECT. Its cost must not grow with the
// mailbox beyond one indexed aggregate query.
func (s *Store) Status(ctx context.Context, mailboxID int64) (*MailboxStatus, error) {
	return nil, errTODO
}

// --- messages

// Deliver stores one accepted message durably: the bytes once, one message
// row per local target (UIDs allocated from each mailbox's UIDNEXT, O(1) in
// the mailbox's size) and an outbox entry for remote recipients, all in one
// transaction. It returns after the commit is durable (SQLite WAL with
// synchronous=FULL; PostgreSQL commit). Concurrent calls are batched into
// shared transactions (group commit) without weakening durability; one bad
// delivery in a batch does not fail the others.
func (s *Store) Deliver(ctx context.Context, d *Delivery) (*DeliveryResult, error) {
	return nil, errTODO
}

// Append stores a message into one mailbox (IMAP APPEND). Goes through the
// same group commit as Deliver.
func (s *Store) Append(ctx context.Context, mailboxID int64, raw []byte, flags []string, date time.Time) (*AppendResult, error) {
	return nil, errTODO
}

// Messages returns every message's metadata in UID order (for SELECT).
func (s *Store) Messages(ctx context.Context, mailboxID int64) ([]MessageMeta, error) {
	return nil, errTODO
}

// ChangesSince returns what changed in a mailbox after modseq (new
// messages, flag changes, expunges), for IMAP updates and IDLE.
func (s *Store) ChangesSince(ctx context.Context, mailboxID int64, modseq int64) (*Changes, error) {
	return nil, errTODO
}

// Message returns one message with its bytes. ErrNotFound.
func (s *Store) Message(ctx context.Context, mailboxID int64, uid uint32) (*Message, error) {
	return nil, errTODO
}

// MessagesByUID yields the given messages in ascending UID order; when
// headerOnly, Raw holds only the header section. Missing UIDs are skipped.
func (s *Store) MessagesByUID(ctx context.Context, mailboxID int64, uids []uint32, headerOnly bool) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) { yield(nil, errTODO) }
}

// SearchTexts yields header bytes and folded body text of the given
// messages, for text SEARCH.
func (s *Store) SearchTexts(ctx context.Context, mailboxID int64, uids []uint32) iter.Seq2[*SearchText, error] {
	return func(yield func(*SearchText, error) bool) { yield(nil, errTODO) }
}

// SetFlags changes flags of the given UIDs (missing UIDs are skipped) and
// returns the messages whose flags changed, with new modseqs. If
// unchangedSince > 0, messages with a higher modseq are left alone
// (CONDSTORE UNCHANGEDSINCE, RFC 7162 3.1.3).
func (s *Store) SetFlags(ctx context.Context, mailboxID int64, uids []uint32, op StoreOp, flags []string, unchangedSince int64) ([]FlagUpdate, error) {
	return nil, errTODO
}

// Keywords lists the keywords in use in a mailbox (for the FLAGS response).
func (s *Store) Keywords(ctx context.Context, mailboxID int64) ([]string, error) {
	return nil, errTODO
}

// Expunge removes messages flagged \Deleted; when uids is non-nil, only
// those among them (UID EXPUNGE). Returns the expunged UIDs, ascending.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []uint32) ([]uint32, error) {
	return nil, errTODO
}

// Copy copies messages to another mailbox of the same account, keeping
// flags and internal dates (the bytes are shared, not duplicated).
func (s *Store) Copy(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64) (*CopyResult, error) {
	return nil, errTODO
}

// Move moves messages atomically (RFC 6851): copy and expunge in one
// transaction.
func (s *Store) Move(ctx context.Context, srcMailboxID int64, uids []uint32, dstMailboxID int64) (*CopyResult, error) {
	return nil, errTODO
}

// ClaimRecent atomically takes the \Recent messages of a mailbox for one
// session (RFC 3501 2.3.2: only one session sees a message as recent): it
// returns the UID range [from, to) that the caller should treat as recent,
// and advances the mailbox's first-recent UID to to.
func (s *Store) ClaimRecent(ctx context.Context, mailboxID int64) (from, to uint32, err error) {
	return 0, 0, errTODO
}

// --- outbox

// Outbox returns an outbox message with its recipients. ErrNotFound.
func (s *Store) Outbox(ctx context.Context, id int64) (*OutboxMessage, error) { return nil, errTODO }

// OutboxRaw returns the bytes of an outbox message.
func (s *Store) OutboxRaw(ctx context.Context, id int64) ([]byte, error) { return nil, errTODO }

// OutboxDue lists IDs of outbox messages with a queued recipient whose next
// attempt is at or before t (for the queue sweeper), oldest first.
func (s *Store) OutboxDue(ctx context.Context, t time.Time, limit int) ([]int64, error) {
	return nil, errTODO
}
