package store

// The operator console's records: roles and second factors of accounts,
// signed-in sessions and the audit log (migration 0015). The console (package
// congthu/console) decides what they mean; the store only keeps them.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"congthu/internal/sqldb"
)

// Console roles. An account without one (RoleNone) cannot sign in to the
// console.
const (
	RoleNone  = ""
	RoleAdmin = "admin" // everything
	RoleDesk  = "desk"  // looks notifications up and sends them again
)

// ValidRole reports whether r is a console role (RoleNone included).
func ValidRole(r string) bool { return r == RoleNone || r == RoleAdmin || r == RoleDesk }

// ConsoleUser is an account as the console sees it.
type ConsoleUser struct {
	Account
	Role         string
	TOTPSecret   string // base32; "" when the account has no second factor
	TOTPLastStep int64  // the last TOTP time step accepted
}

// ConsoleUser returns the account with that address and its console role
// and second factor. ErrNotFound.
func (s *Store) ConsoleUser(ctx context.Context, address string) (*ConsoleUser, error) {
	a, err := s.Account(ctx, address)
	if err != nil {
		return nil, err
	}
	return s.consoleUserOf(ctx, a)
}

func (s *Store) consoleUserOf(ctx context.Context, a *Account) (*ConsoleUser, error) {
	u := &ConsoleUser{Account: *a}
	err := s.r().Row(ctx, "SELECT role, totp_secret, totp_last_step FROM console_users WHERE account_id = ?", a.ID).
		Scan(&u.Role, &u.TOTPSecret, &u.TOTPLastStep)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: console user %s: %w", a.Address, err)
	}
	return u, nil
}

// SetRole gives an account a console role (RoleNone takes it away, and
// ends its console sessions).
func (s *Store) SetRole(ctx context.Context, address, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("store: console role %q: %w", role, ErrInvalid)
	}
	a, err := s.Account(ctx, address)
	if err != nil {
		return err
	}
	now := sqldb.Micro(time.Now())
	return s.db.WriteTx(ctx, func(tx dbtx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO console_users (account_id, role, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (account_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`, a.ID, role, now); err != nil {
			return fmt.Errorf("store: set role of %s: %w", a.Address, err)
		}
		if role == RoleNone {
			if _, err := tx.Exec(ctx, "DELETE FROM console_sessions WHERE account_id = ?", a.ID); err != nil {
				return fmt.Errorf("store: end sessions of %s: %w", a.Address, err)
			}
		}
		return nil
	})
}

// Roles lists the accounts that have a console role, by address.
func (s *Store) Roles(ctx context.Context) (map[string]string, error) {
	rows, err := s.r().Query(ctx, "SELECT a.address, c.role FROM console_users c JOIN accounts a ON a.id = c.account_id WHERE c.role <> ''")
	if err != nil {
		return nil, fmt.Errorf("store: console roles: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var a, r string
		if err := rows.Scan(&a, &r); err != nil {
			return nil, fmt.Errorf("store: console roles: %w", err)
		}
		out[a] = r
	}
	return out, rows.Err()
}

// SetTOTPSecret sets (or, with "", removes) an account's TOTP secret.
func (s *Store) SetTOTPSecret(ctx context.Context, address, secret string) error {
	a, err := s.Account(ctx, address)
	if err != nil {
		return err
	}
	_, err = s.w().Exec(ctx, `INSERT INTO console_users (account_id, totp_secret, totp_last_step, updated_at) VALUES (?, ?, 0, ?)
		ON CONFLICT (account_id) DO UPDATE SET totp_secret = excluded.totp_secret, totp_last_step = 0, updated_at = excluded.updated_at`,
		a.ID, secret, sqldb.Micro(time.Now()))
	if err != nil {
		return fmt.Errorf("store: set TOTP secret of %s: %w", a.Address, err)
	}
	return nil
}

// UseTOTPStep records that the TOTP code of time step was used by the
// account; false when that step, or a later one, was used already (a
// code is accepted once).
func (s *Store) UseTOTPStep(ctx context.Context, accountID, step int64) (bool, error) {
	res, err := s.w().Exec(ctx, "UPDATE console_users SET totp_last_step = ? WHERE account_id = ? AND totp_last_step < ?", step, accountID, step)
	if err != nil {
		return false, fmt.Errorf("store: use TOTP step: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ConsoleSession is a signed-in console session.
type ConsoleSession struct {
	User       ConsoleUser
	Remote     string
	Stamp      int64 // the account's credential stamp at sign-in
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// AddConsoleSession stores a new session under the hash of its cookie.
// stamp is the account's credential stamp as it signed in.
func (s *Store) AddConsoleSession(ctx context.Context, tokenHash string, accountID, stamp int64, remote string, now time.Time) error {
	t := sqldb.Micro(now)
	_, err := s.w().Exec(ctx, "INSERT INTO console_sessions (token_hash, account_id, remote, stamp, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
		tokenHash, accountID, remote, stamp, t, t)
	if err != nil {
		return fmt.Errorf("store: add console session: %w", err)
	}
	return nil
}

// ConsoleSessionOf returns the session stored under tokenHash with its
// account, role and second factor. ErrNotFound.
func (s *Store) ConsoleSessionOf(ctx context.Context, tokenHash string) (*ConsoleSession, error) {
	var cs ConsoleSession
	var created, seen int64
	var role, secret sql.NullString
	var step sql.NullInt64
	row := s.r().Row(ctx, `SELECT `+accountColumnsA+`, s.remote, s.stamp, s.created_at, s.last_seen_at, c.role, c.totp_secret, c.totp_last_step
		FROM console_sessions s JOIN accounts a ON a.id = s.account_id LEFT JOIN console_users c ON c.account_id = s.account_id
		WHERE s.token_hash = ?`, tokenHash)
	var disabled int
	var ac, ach int64
	a := &cs.User.Account
	err := row.Scan(&a.ID, &a.Address, &a.Domain, &a.DisplayName, &a.PasswordHash, &disabled, &ac, &ach,
		&cs.Remote, &cs.Stamp, &created, &seen, &role, &secret, &step)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: console session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: console session: %w", err)
	}
	a.Disabled = disabled != 0
	a.CreatedAt, a.PasswordChangedAt = sqldb.FromMicro(ac), sqldb.FromMicro(ach)
	cs.User.Role, cs.User.TOTPSecret, cs.User.TOTPLastStep = role.String, secret.String, step.Int64
	cs.CreatedAt, cs.LastSeenAt = sqldb.FromMicro(created), sqldb.FromMicro(seen)
	return &cs, nil
}

// TouchConsoleSession records activity on a session.
func (s *Store) TouchConsoleSession(ctx context.Context, tokenHash string, now time.Time) error {
	if _, err := s.w().Exec(ctx, "UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?", sqldb.Micro(now), tokenHash); err != nil {
		return fmt.Errorf("store: touch console session: %w", err)
	}
	return nil
}

// RemoveConsoleSession ends a session.
func (s *Store) RemoveConsoleSession(ctx context.Context, tokenHash string) error {
	if _, err := s.w().Exec(ctx, "DELETE FROM console_sessions WHERE token_hash = ?", tokenHash); err != nil {
		return fmt.Errorf("store: remove console session: %w", err)
	}
	return nil
}

// PurgeConsoleSessions removes the sessions idle since before.
func (s *Store) PurgeConsoleSessions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w().Exec(ctx, "DELETE FROM console_sessions WHERE last_seen_at < ?", sqldb.Micro(before))
	if err != nil {
		return 0, fmt.Errorf("store: purge console sessions: %w", err)
	}
	return res.RowsAffected()
}

// AuditEntry is one change made through the console.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string // the signed-in account's address
	Remote string // the client's IP address
	Action string // what was done, e.g. "account.create"
	Target string // on what, e.g. the account's address
	Detail string
}

// auditTextMax bounds each text of an audit entry.
const auditTextMax = 1000

// AddAudit records a change.
func (s *Store) AddAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.w().Exec(ctx, "INSERT INTO console_audit (at, actor, remote, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
		sqldb.Micro(e.At), cut(e.Actor), cut(e.Remote), cut(e.Action), cut(e.Target), cut(e.Detail))
	if err != nil {
		return fmt.Errorf("store: add audit entry: %w", err)
	}
	return nil
}

// cut bounds an audit text to auditTextMax bytes of valid UTF-8.
func cut(s string) string {
	if len(s) <= auditTextMax {
		return s
	}
	return strings.ToValidUTF8(s[:auditTextMax], "")
}

// Audit returns up to limit audit entries (default 100, at most 500),
// newest first, older than the entry before (0: from the newest).
func (s *Store) Audit(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q := "SELECT id, at, actor, remote, action, target, detail FROM console_audit"
	args := []any{}
	if before > 0 {
		q += " WHERE id < ?"
		args = append(args, before)
	}
	rows, err := s.r().Query(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Remote, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit: %w", err)
		}
		e.At = sqldb.FromMicro(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AccountRow is an account in the console's list.
type AccountRow struct {
	Account
	Role  string
	Used  int64
	Quota sql.NullInt64 // the account's own quota; NULL: the default
}

// SearchAccounts returns up to limit accounts (default 50, at most 200)
// whose address starts with q (any case), or contains it when no address
// starts with it, in address order after the address after.
func (s *Store) SearchAccounts(ctx context.Context, q, after string, limit int) ([]AccountRow, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	q = strings.ToLower(strings.TrimSpace(q))
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
	run := func(pattern string) ([]AccountRow, error) {
		rows, err := s.r().Query(ctx, "SELECT "+accountColumnsA+`, COALESCE(c.role, ''), a.used, a.quota
			FROM accounts a LEFT JOIN console_users c ON c.account_id = a.id
			WHERE a.address LIKE ? ESCAPE '\' AND a.address > ? ORDER BY a.address LIMIT ?`, pattern, after, limit)
		if err != nil {
			return nil, fmt.Errorf("store: search accounts: %w", err)
		}
		defer rows.Close()
		var out []AccountRow
		for rows.Next() {
			var r AccountRow
			var disabled int
			var c, ch int64
			if err := rows.Scan(&r.ID, &r.Address, &r.Domain, &r.DisplayName, &r.PasswordHash, &disabled, &c, &ch, &r.Role, &r.Used, &r.Quota); err != nil {
				return nil, fmt.Errorf("store: search accounts: %w", err)
			}
			r.Disabled = disabled != 0
			r.CreatedAt, r.PasswordChangedAt = sqldb.FromMicro(c), sqldb.FromMicro(ch)
			r.PasswordHash = ""
			out = append(out, r)
		}
		return out, rows.Err()
	}
	out, err := run(esc + "%")
	if err != nil || len(out) > 0 || q == "" {
		return out, err
	}
	return run("%" + esc + "%")
}

// CountAccounts returns the number of accounts and of disabled ones.
func (s *Store) CountAccounts(ctx context.Context) (total, disabled int64, err error) {
	err = s.r().Row(ctx, "SELECT COUNT(*), COALESCE(SUM(disabled), 0) FROM accounts").Scan(&total, &disabled)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count accounts: %w", err)
	}
	return total, disabled, nil
}
