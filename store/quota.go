package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
)

// Storage quotas.
//
// Each account has a usage, accounts.used: the sum of the sizes of its
// messages, a copy counting again (as STORAGE in RFC 9208 section 5.1).
// Every transaction that adds or removes messages changes it in the same
// transaction (storeBatch for Deliver and Append, copyMove, Expunge,
// deleteMailboxTx), so it is exact and reading it costs one row.
//
// The limit is the account's own quota (SetQuota), or Options.DefaultQuota
// when it has none; 0 is unlimited. fits is the one reading of "over
// quota": adding n bytes must leave the usage at most the limit. A
// delivery or append is checked while the account row is locked in the
// transaction that adds the bytes, so concurrent deliveries cannot both
// slip under the limit.
//
// Lock order: a writer locks mailbox rows (ascending ID) before the
// account row, as the UPDATE of accounts.used comes after the messages
// are placed.

// ErrOverQuota is returned when a message does not fit in an account's
// storage quota (IMAP NO [OVERQUOTA], SMTP 452 4.2.2).
var ErrOverQuota = errors.New("store: over quota")

// QuotaDefault, given to SetQuota, removes an account's own quota: the
// configured default applies again. Account.Quota is QuotaDefault when
// the account has none of its own.
const QuotaDefault = -1

// Quota is an account's storage use and limit.
type Quota struct {
	Used  int64 // bytes: the sum of its message sizes
	Limit int64 // bytes; 0 is unlimited
	// Own is the account's own limit, or QuotaDefault when Limit is the
	// configured default.
	Own int64
}

// limit is the effective limit of an account whose own quota column
// holds q.
func (s *Store) limit(q sql.NullInt64) int64 {
	if q.Valid {
		return q.Int64
	}
	return s.opts.DefaultQuota
}

// fits reports whether n more bytes keep used within limit.
func fits(used, n, limit int64) bool {
	return limit <= 0 || used+n <= limit
}

// SetQuota sets an account's own storage quota in bytes (0: unlimited),
// or removes it (QuotaDefault) so the configured default applies. A new
// limit below the current usage is allowed: nothing is removed, further
// mail is refused until messages are expunged. ErrNotFound, ErrInvalid.
func (s *Store) SetQuota(ctx context.Context, address string, quota int64) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	if quota < QuotaDefault {
		return fmt.Errorf("store: quota %d: %w", quota, ErrInvalid)
	}
	v := sql.NullInt64{Int64: quota, Valid: quota >= 0}
	res, err := s.w().Exec(ctx, "UPDATE accounts SET quota = ? WHERE address = ?", v, addr)
	if err != nil {
		return fmt.Errorf("store: set quota of %s: %w", addr, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
	}
	return nil
}

// QuotaOf returns an account's storage use and limit. ErrNotFound.
func (s *Store) QuotaOf(ctx context.Context, address string) (*Quota, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	var q Quota
	var own sql.NullInt64
	err = s.r().Row(ctx, "SELECT used, quota FROM accounts WHERE address = ?", addr).Scan(&q.Used, &own)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: quota of %s: %w", addr, err)
	}
	q.Limit, q.Own = s.limit(own), QuotaDefault
	if own.Valid {
		q.Own = own.Int64
	}
	return &q, nil
}

// OverQuota reports whether an account is full: not one more byte fits
// (SMTP refuses it at RCPT). An unknown account is ErrNotFound.
func (s *Store) OverQuota(ctx context.Context, accountID int64) (bool, error) {
	var used int64
	var own sql.NullInt64
	err := s.r().Row(ctx, "SELECT used, quota FROM accounts WHERE id = ?", accountID).Scan(&used, &own)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: account %d: %w", accountID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("store: quota of account %d: %w", accountID, err)
	}
	return !fits(used, 1, s.limit(own)), nil
}

// addUsage adds n bytes (n > 0) to an account's usage, locking its row,
// and fails with ErrOverQuota (changing nothing) when they do not fit.
func (s *Store) addUsage(ctx context.Context, tx dbtx, accountID, n int64) error {
	var used int64
	var own sql.NullInt64
	if err := tx.Row(ctx, "UPDATE accounts SET used = used + ? WHERE id = ? RETURNING used, quota", n, accountID).Scan(&used, &own); err != nil {
		return fmt.Errorf("store: account %d usage: %w", accountID, err)
	}
	if !fits(used-n, n, s.limit(own)) {
		return fmt.Errorf("store: account %d: %w", accountID, ErrOverQuota)
	}
	return nil
}

// freeUsage takes n bytes off an account's usage (messages removed).
func freeUsage(ctx context.Context, tx dbtx, accountID, n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "UPDATE accounts SET used = used - ? WHERE id = ?", n, accountID); err != nil {
		return fmt.Errorf("store: account %d usage: %w", accountID, err)
	}
	return nil
}

// chargeBatch adds the bytes of a batch's requests to their accounts'
// usage, one UPDATE per account in ascending ID order. Requests already
// failed, or with a target whose mailbox is gone (live false), are not
// charged. When an account's total does not fit, the requests are taken
// in order and those that do not fit are refused: a strict request fails
// whole with ErrOverQuota; a partial one (Delivery.PartialQuota) loses the
// targets of that account, and fails only when nothing is left of it.
func (s *Store) chargeBatch(ctx context.Context, tx dbtx, batch []*deliverReq, accountOf map[int64]int64, live func(mailboxID int64) bool) error {
	var reqs []*deliverReq
	total := map[int64]int64{}
	for _, r := range batch {
		if r.err != nil {
			continue
		}
		ok := true
		for _, t := range r.targets {
			if !live(t.mailboxID) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		reqs = append(reqs, r)
		for _, t := range r.targets {
			total[accountOf[t.mailboxID]] += int64(len(r.raw))
		}
	}
	if len(total) == 0 {
		return nil
	}
	accts := make([]int64, 0, len(total))
	for a := range total {
		accts = append(accts, a)
	}
	sort.Slice(accts, func(i, j int) bool { return accts[i] < accts[j] })
	type usage struct{ used, limit int64 }
	var over map[int64]*usage
	for _, a := range accts {
		var used int64
		var own sql.NullInt64
		if err := tx.Row(ctx, "UPDATE accounts SET used = used + ? WHERE id = ? RETURNING used, quota", total[a], a).Scan(&used, &own); err != nil {
			return fmt.Errorf("store: account %d usage: %w", a, err)
		}
		if lim := s.limit(own); !fits(used-total[a], total[a], lim) {
			if over == nil {
				over = map[int64]*usage{}
			}
			over[a] = &usage{used: used - total[a], limit: lim}
		}
	}
	if over == nil {
		return nil // the common case: everything fits
	}

	// Some account is over: take the requests in order, recomputing the
	// usage of the accounts that are over.
	refund := map[int64]int64{}
	for _, r := range reqs {
		need := map[int64]int64{}
		for _, t := range r.targets {
			if a := accountOf[t.mailboxID]; over[a] != nil {
				need[a] += int64(len(r.raw))
			}
		}
		full := map[int64]bool{}
		for a, n := range need {
			if !fits(over[a].used, n, over[a].limit) {
				full[a] = true
			}
		}
		if len(full) > 0 && !r.partial {
			r.err = fmt.Errorf("store: %w", ErrOverQuota)
			// Its charge to the accounts that fit as a whole is given
			// back below.
			for _, t := range r.targets {
				if a := accountOf[t.mailboxID]; over[a] == nil {
					refund[a] += int64(len(r.raw))
				}
			}
			continue
		}
		for a, n := range need {
			if !full[a] {
				over[a].used += n
			}
		}
		left := 0
		for i := range r.targets {
			a := accountOf[r.targets[i].mailboxID]
			if full[a] {
				r.targets[i].overQuota = true
				continue
			}
			left++
		}
		for a := range full {
			r.result.overQuota = append(r.result.overQuota, a)
		}
		sort.Slice(r.result.overQuota, func(i, j int) bool { return r.result.overQuota[i] < r.result.overQuota[j] })
		if left == 0 && len(r.remote) == 0 {
			r.err = fmt.Errorf("store: %w", ErrOverQuota)
		}
	}
	for _, a := range accts {
		if u := over[a]; u != nil {
			if _, err := tx.Exec(ctx, "UPDATE accounts SET used = ? WHERE id = ?", u.used, a); err != nil {
				return fmt.Errorf("store: account %d usage: %w", a, err)
			}
		} else if err := freeUsage(ctx, tx, a, refund[a]); err != nil {
			return err
		}
	}
	return nil
}
