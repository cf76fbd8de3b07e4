package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"congthu/internal/blob"
	"congthu/internal/sqldb"
)

// NormalizeMailboxName checks an IMAP mailbox name (UTF-8, "/" as the
// hierarchy separator) and returns it in canonical form: NFC, with "INBOX"
// in upper case as the first level in any case. It returns
// ErrMailboxInvalid for empty names, control characters, the LIST
// wildcards * and %, and empty hierarchy levels.
func NormalizeMailboxName(name string) (string, error) {
	if name == "" || len(name) > 1000 || !utf8.ValidString(name) {
		return "", fmt.Errorf("store: mailbox name %q: %w", name, ErrMailboxInvalid)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '*' || r == '%' || (r >= 0x80 && r < 0xa0) {
			return "", fmt.Errorf("store: mailbox name %q: bad character %q: %w", name, r, ErrMailboxInvalid)
		}
	}
	name = norm.NFC.String(name)
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" {
			return "", fmt.Errorf("store: mailbox name %q: empty level: %w", name, ErrMailboxInvalid)
		}
	}
	if strings.EqualFold(parts[0], "INBOX") {
		parts[0] = "INBOX"
	}
	return strings.Join(parts, "/"), nil
}

const mailboxColumns = `mb.id, mb.account_id, mb.name, mb.special_use, mb.uidvalidity, mb.uidnext, mb.highest_modseq,
	CASE WHEN sub.name IS NULL THEN 0 ELSE 1 END`

const mailboxFrom = ` FROM mailboxes mb LEFT JOIN subscriptions sub ON sub.account_id = mb.account_id AND sub.name = mb.name`

func scanMailbox(row interface{ Scan(...any) error }) (*Mailbox, error) {
	var m Mailbox
	var uidvalidity, uidnext int64
	var subscribed int
	if err := row.Scan(&m.ID, &m.AccountID, &m.Name, &m.SpecialUse, &uidvalidity, &uidnext, &m.HighestModSeq, &subscribed); err != nil {
		return nil, err
	}
	m.UIDValidity, m.UIDNext, m.Subscribed = uint32(uidvalidity), uint32(uidnext), subscribed != 0
	return &m, nil
}

// Mailboxes lists an account's mailboxes ordered by name.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error) {
	rows, err := s.r().Query(ctx, "SELECT "+mailboxColumns+mailboxFrom+" WHERE mb.account_id = ? ORDER BY mb.name", accountID)
	if err != nil {
		return nil, fmt.Errorf("store: mailboxes: %w", err)
	}
	defer rows.Close()
	var out []Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: mailboxes: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: mailboxes: %w", err)
	}
	return out, nil
}

// Mailbox returns one mailbox by name ("inbox" in any case is INBOX). ErrNotFound.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (*Mailbox, error) {
	n, err := NormalizeMailboxName(name)
	if err != nil {
		return nil, fmt.Errorf("store: mailbox %q: %w", name, ErrNotFound)
	}
	m, err := scanMailbox(s.r().Row(ctx, "SELECT "+mailboxColumns+mailboxFrom+" WHERE mb.account_id = ? AND mb.name = ?", accountID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: mailbox %q: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: mailbox %q: %w", n, err)
	}
	return m, nil
}

// validSpecialUse reports whether v is "" or one of the Special* values.
func validSpecialUse(v string) bool {
	switch v {
	case "", SpecialSent, SpecialDrafts, SpecialTrash, SpecialJunk, SpecialArchive:
		return true
	}
	return false
}

// CreateMailbox creates a mailbox (and missing parents, RFC 9051 6.3.4)
// with a fresh UIDVALIDITY. ErrExists, ErrMailboxInvalid.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*Mailbox, error) {
	n, err := NormalizeMailboxName(name)
	if err != nil {
		return nil, err
	}
	if !validSpecialUse(specialUse) {
		return nil, fmt.Errorf("store: special-use %q: %w", specialUse, ErrInvalid)
	}
	var mb *Mailbox
	err = s.writeTx(ctx, func(tx dbtx, ch changes) error {
		if err := s.createParents(ctx, tx, ch, accountID, n); err != nil {
			return err
		}
		mb, err = s.createMailboxTx(ctx, tx, ch, accountID, n, specialUse)
		return err
	})
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// createParents creates the missing superiors of name.
func (s *Store) createParents(ctx context.Context, tx dbtx, ch changes, accountID int64, name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], "/")
		var one int
		err := tx.Row(ctx, "SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?", accountID, parent).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: create mailbox %q: %w", parent, err)
		}
		if _, err := s.createMailboxTx(ctx, tx, ch, accountID, parent, ""); err != nil {
			return err
		}
	}
	return nil
}

// nextUIDValidity hands out a UIDVALIDITY from the global counter: never
// 0, never reused, and at least the current Unix time.
func (s *Store) nextUIDValidity(ctx context.Context, tx dbtx) (uint32, error) {
	now := time.Now().Unix()
	var v int64
	err := tx.Row(ctx, `UPDATE counters SET value = CASE WHEN value + 1 > ? THEN value + 1 ELSE ? END
		WHERE name = 'uidvalidity' RETURNING value`, now, now).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: allocate UIDVALIDITY: %w", err)
	}
	if v <= 0 || v > math.MaxUint32 {
		return 0, fmt.Errorf("store: UIDVALIDITY counter out of range (%d)", v)
	}
	return uint32(v), nil
}

// createMailboxTx creates one mailbox (its parents must exist or be
// unneeded). ErrExists if the name is taken.
func (s *Store) createMailboxTx(ctx context.Context, tx dbtx, ch changes, accountID int64, name, specialUse string) (*Mailbox, error) {
	uv, err := s.nextUIDValidity(ctx, tx)
	if err != nil {
		return nil, err
	}
	var id int64
	err = tx.Row(ctx, `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, name) DO NOTHING RETURNING id`,
		accountID, name, specialUse, int64(uv), sqldb.Micro(time.Now())).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: mailbox %q: %w", name, ErrExists)
	}
	if err != nil {
		if sqldb.IsForeignKeyViolation(err) {
			return nil, fmt.Errorf("store: account %d: %w", accountID, ErrNotFound)
		}
		return nil, fmt.Errorf("store: create mailbox %q: %w", name, err)
	}
	var subscribed int
	if err := tx.Row(ctx, "SELECT COUNT(*) FROM subscriptions WHERE account_id = ? AND name = ?", accountID, name).Scan(&subscribed); err != nil {
		return nil, fmt.Errorf("store: create mailbox %q: %w", name, err)
	}
	ch.add(accountID, id, 1)
	return &Mailbox{ID: id, AccountID: accountID, Name: name, SpecialUse: specialUse,
		UIDValidity: uv, UIDNext: 1, HighestModSeq: 1, Subscribed: subscribed > 0}, nil
}

// lockAccountMailboxes locks all of an account's mailbox rows in ascending
// ID order (the order every writer locks mailboxes in) and returns the IDs.
func (s *Store) lockAccountMailboxes(ctx context.Context, tx dbtx, accountID int64) ([]int64, error) {
	rows, err := tx.Query(ctx, "SELECT id FROM mailboxes WHERE account_id = ? ORDER BY id"+s.dialect.ForUpdate, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: lock mailboxes: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: lock mailboxes: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: lock mailboxes: %w", err)
	}
	return ids, nil
}

// deleteMailboxTx deletes a mailbox with its messages, and the bytes no
// other mailbox or outbox entry uses.
func (s *Store) deleteMailboxTx(ctx context.Context, tx dbtx, ch changes, accountID, mailboxID int64) error {
	rows, err := tx.Query(ctx, "DELETE FROM messages WHERE mailbox_id = ? RETURNING blob_id, size", mailboxID)
	if err != nil {
		return fmt.Errorf("store: delete messages of mailbox %d: %w", mailboxID, err)
	}
	var blobs []int64
	var freed int64
	for rows.Next() {
		var b, size int64
		if err := rows.Scan(&b, &size); err != nil {
			rows.Close()
			return fmt.Errorf("store: delete messages of mailbox %d: %w", mailboxID, err)
		}
		freed += size
		blobs = append(blobs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: delete messages of mailbox %d: %w", mailboxID, err)
	}
	if err := blob.DeleteUnused(ctx, tx, blobs); err != nil {
		return err
	}
	if err := freeUsage(ctx, tx, accountID, freed); err != nil {
		return err
	}
	var modseq int64
	err = tx.Row(ctx, "DELETE FROM mailboxes WHERE id = ? RETURNING highest_modseq", mailboxID).Scan(&modseq)
	if err != nil {
		return fmt.Errorf("store: delete mailbox %d: %w", mailboxID, err)
	}
	ch.add(accountID, mailboxID, modseq+1)
	return nil
}

// chunkSize bounds the number of values in one IN (...) list.
const chunkSize = 500

// DeleteMailbox deletes a mailbox and its messages. INBOX cannot be
// deleted (ErrInvalid). A mailbox with children is removed but its
// children stay (RFC 9051 6.3.5 allows leaving the name as \Noselect; we
// simply delete only the named one). ErrNotFound.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	n, err := NormalizeMailboxName(name)
	if err != nil {
		return fmt.Errorf("store: mailbox %q: %w", name, ErrNotFound)
	}
	if n == "INBOX" {
		return fmt.Errorf("store: INBOX cannot be deleted: %w", ErrInvalid)
	}
	return s.writeTx(ctx, func(tx dbtx, ch changes) error {
		var id int64
		err := tx.Row(ctx, "SELECT id FROM mailboxes WHERE account_id = ? AND name = ?"+s.dialect.ForUpdate, accountID, n).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: mailbox %q: %w", n, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: delete mailbox %q: %w", n, err)
		}
		return s.deleteMailboxTx(ctx, tx, ch, accountID, id)
	})
}

// RenameMailbox renames a mailbox and its children (keeping UIDVALIDITY).
// Renaming INBOX moves its messages to the new mailbox and leaves INBOX
// empty (RFC 9051 6.3.6). ErrNotFound, ErrExists.
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	f, err := NormalizeMailboxName(from)
	if err != nil {
		return fmt.Errorf("store: mailbox %q: %w", from, ErrNotFound)
	}
	t, err := NormalizeMailboxName(to)
	if err != nil {
		return err
	}
	if t == f {
		return fmt.Errorf("store: rename %q to itself: %w", f, ErrExists)
	}
	if strings.HasPrefix(t, f+"/") {
		return fmt.Errorf("store: rename %q into itself: %w", f, ErrMailboxInvalid)
	}
	return s.writeTx(ctx, func(tx dbtx, ch changes) error {
		if _, err := s.lockAccountMailboxes(ctx, tx, accountID); err != nil {
			return err
		}
		var id, modseq, uidnext int64
		err := tx.Row(ctx, "SELECT id, highest_modseq, uidnext FROM mailboxes WHERE account_id = ? AND name = ?", accountID, f).Scan(&id, &modseq, &uidnext)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: mailbox %q: %w", f, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: rename mailbox %q: %w", f, err)
		}
		var taken int
		if err := tx.Row(ctx, "SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND name = ?", accountID, t).Scan(&taken); err != nil {
			return fmt.Errorf("store: rename mailbox %q: %w", f, err)
		}
		if taken > 0 {
			return fmt.Errorf("store: mailbox %q: %w", t, ErrExists)
		}
		if err := s.createParents(ctx, tx, ch, accountID, t); err != nil {
			return err
		}
		if f == "INBOX" {
			return s.renameInbox(ctx, tx, ch, accountID, id, modseq, uidnext, t)
		}
		// The mailbox and its children, each checked for a clash.
		rows, err := tx.Query(ctx, "SELECT id, name, highest_modseq FROM mailboxes WHERE account_id = ?", accountID)
		if err != nil {
			return fmt.Errorf("store: rename mailbox %q: %w", f, err)
		}
		type ren struct {
			id, modseq int64
			old, new   string
		}
		var rs []ren
		for rows.Next() {
			var r ren
			if err := rows.Scan(&r.id, &r.old, &r.modseq); err != nil {
				rows.Close()
				return fmt.Errorf("store: rename mailbox %q: %w", f, err)
			}
			if r.old != f && !strings.HasPrefix(r.old, f+"/") {
				continue
			}
			r.new = t + r.old[len(f):]
			rs = append(rs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: rename mailbox %q: %w", f, err)
		}
		for _, r := range rs {
			if err := tx.Row(ctx, "SELECT COUNT(*) FROM mailboxes WHERE account_id = ? AND name = ?", accountID, r.new).Scan(&taken); err != nil {
				return fmt.Errorf("store: rename mailbox %q: %w", r.old, err)
			}
			if taken > 0 {
				return fmt.Errorf("store: mailbox %q: %w", r.new, ErrExists)
			}
		}
		for _, r := range rs {
			if _, err := tx.Exec(ctx, "UPDATE mailboxes SET name = ? WHERE id = ?", r.new, r.id); err != nil {
				return fmt.Errorf("store: rename mailbox %q: %w", r.old, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE subscriptions SET name = ? WHERE account_id = ? AND name = ?
				AND NOT EXISTS (SELECT 1 FROM subscriptions s2 WHERE s2.account_id = ? AND s2.name = ?)`,
				r.new, accountID, r.old, accountID, r.new); err != nil {
				return fmt.Errorf("store: rename subscription %q: %w", r.old, err)
			}
			ch.add(accountID, r.id, r.modseq)
		}
		return nil
	})
}

// renameInbox moves INBOX's messages into a new mailbox named to, keeping
// their UIDs (the new mailbox has its own UIDVALIDITY) and recording them
// as expunged from INBOX.
func (s *Store) renameInbox(ctx context.Context, tx dbtx, ch changes, accountID, inboxID, modseq, uidnext int64, to string) error {
	mb, err := s.createMailboxTx(ctx, tx, ch, accountID, to, "")
	if err != nil {
		return err
	}
	newModseq := modseq + 1
	if _, err := tx.Exec(ctx, "INSERT INTO expunged (mailbox_id, uid, modseq) SELECT mailbox_id, uid, ? FROM messages WHERE mailbox_id = ?", newModseq, inboxID); err != nil {
		return fmt.Errorf("store: rename INBOX: %w", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?", mb.ID, inboxID); err != nil {
		return fmt.Errorf("store: rename INBOX: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO mailbox_keywords (mailbox_id, keyword) SELECT ?, keyword FROM mailbox_keywords WHERE mailbox_id = ?", mb.ID, inboxID); err != nil {
		return fmt.Errorf("store: rename INBOX: %w", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE mailboxes SET uidnext = ?, highest_modseq = ?, first_recent_uid = ? WHERE id = ?", uidnext, newModseq, uidnext, mb.ID); err != nil {
		return fmt.Errorf("store: rename INBOX: %w", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE mailboxes SET highest_modseq = ? WHERE id = ?", newModseq, inboxID); err != nil {
		return fmt.Errorf("store: rename INBOX: %w", err)
	}
	ch.add(accountID, inboxID, newModseq)
	ch.add(accountID, mb.ID, newModseq)
	return nil
}

// SetSubscribed subscribes or unsubscribes a mailbox name (a name may be
// subscribed without existing, RFC 9051 6.3.7).
func (s *Store) SetSubscribed(ctx context.Context, accountID int64, name string, subscribed bool) error {
	n, err := NormalizeMailboxName(name)
	if err != nil {
		return err
	}
	w := s.w()
	if subscribed {
		_, err = w.Exec(ctx, "INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING", accountID, n)
		if sqldb.IsForeignKeyViolation(err) {
			return fmt.Errorf("store: account %d: %w", accountID, ErrNotFound)
		}
	} else {
		_, err = w.Exec(ctx, "DELETE FROM subscriptions WHERE account_id = ? AND name = ?", accountID, n)
	}
	if err != nil {
		return fmt.Errorf("store: subscribe %q: %w", n, err)
	}
	return nil
}

// Subscriptions lists subscribed names.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	rows, err := s.r().Query(ctx, "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", accountID)
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: subscriptions: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	return out, nil
}

// Status returns counts for STATUS/SELECT. Its cost must not grow with the
// mailbox beyond one indexed aggregate query.
func (s *Store) Status(ctx context.Context, mailboxID int64) (*MailboxStatus, error) {
	var st MailboxStatus
	var messages, unseen, deleted, recent, uidnext, uidvalidity int64
	err := s.r().Row(ctx, `SELECT mb.uidnext, mb.uidvalidity, mb.highest_modseq,
		COUNT(m.uid),
		CAST(COALESCE(SUM(CASE WHEN (m.flags & 1) = 0 THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN (m.flags & 8) <> 0 THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(m.size), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN m.uid >= mb.first_recent_uid THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM mailboxes mb LEFT JOIN messages m ON m.mailbox_id = mb.id
		WHERE mb.id = ? GROUP BY mb.id, mb.uidnext, mb.uidvalidity, mb.highest_modseq`, mailboxID).
		Scan(&uidnext, &uidvalidity, &st.HighestModSeq, &messages, &unseen, &deleted, &st.Size, &recent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: mailbox %d: %w", mailboxID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: status of mailbox %d: %w", mailboxID, err)
	}
	st.Messages, st.Unseen, st.Deleted, st.Recent = uint32(messages), uint32(unseen), uint32(deleted), uint32(recent)
	st.UIDNext, st.UIDValidity = uint32(uidnext), uint32(uidvalidity)
	return &st, nil
}
