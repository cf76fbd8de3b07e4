package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"congthu/internal/mailaddr"
	"congthu/internal/sqldb"
)

// --- domains

// AddDomain adds a local domain. ErrExists if present, ErrInvalid if not a domain name.
func (s *Store) AddDomain(ctx context.Context, name string) (*Domain, error) {
	d, err := NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res, err := s.w().Exec(ctx, "INSERT INTO domains (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", d, sqldb.Micro(now))
	if err != nil {
		return nil, fmt.Errorf("store: add domain %s: %w", d, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("store: domain %s: %w", d, ErrExists)
	}
	return &Domain{Name: d, CreatedAt: sqldb.FromMicro(sqldb.Micro(now))}, nil
}

// Domains lists local domains by name.
func (s *Store) Domains(ctx context.Context) ([]Domain, error) {
	rows, err := s.r().Query(ctx, "SELECT name, created_at, dkim_selector, dkim_private_key FROM domains ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: domains: %w", err)
	}
	defer rows.Close()
	var out []Domain
	for rows.Next() {
		var d Domain
		var created int64
		if err := rows.Scan(&d.Name, &created, &d.DKIMSelector, &d.DKIMPrivateKey); err != nil {
			return nil, fmt.Errorf("store: domains: %w", err)
		}
		d.CreatedAt = sqldb.FromMicro(created)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: domains: %w", err)
	}
	return out, nil
}

// Domain returns one local domain with its DKIM settings. ErrNotFound.
func (s *Store) Domain(ctx context.Context, name string) (*Domain, error) {
	n, err := NormalizeDomain(name)
	if err != nil {
		return nil, fmt.Errorf("store: domain %q: %w", name, ErrNotFound)
	}
	var d Domain
	var created int64
	err = s.r().Row(ctx, "SELECT name, created_at, dkim_selector, dkim_private_key FROM domains WHERE name = ?", n).
		Scan(&d.Name, &created, &d.DKIMSelector, &d.DKIMPrivateKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: domain %s: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: domain %s: %w", n, err)
	}
	d.CreatedAt = sqldb.FromMicro(created)
	return &d, nil
}

// RemoveDomain removes a domain; ErrInUse while it has accounts or aliases.
func (s *Store) RemoveDomain(ctx context.Context, name string) error {
	d, err := NormalizeDomain(name)
	if err != nil {
		return fmt.Errorf("store: domain %q: %w", name, ErrNotFound)
	}
	return s.writeTx(ctx, func(tx dbtx, _ changes) error {
		var inUse int
		if err := tx.Row(ctx, `SELECT (SELECT COUNT(*) FROM accounts WHERE domain = ?) + (SELECT COUNT(*) FROM aliases WHERE domain = ?)`, d, d).Scan(&inUse); err != nil {
			return fmt.Errorf("store: remove domain %s: %w", d, err)
		}
		if inUse > 0 {
			return fmt.Errorf("store: domain %s has %d accounts or aliases: %w", d, inUse, ErrInUse)
		}
		res, err := tx.Exec(ctx, "DELETE FROM domains WHERE name = ?", d)
		if err != nil {
			return fmt.Errorf("store: remove domain %s: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: domain %s: %w", d, ErrNotFound)
		}
		return nil
	})
}

// IsLocalDomain reports whether name (any case) is a local domain.
func (s *Store) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	d, err := NormalizeDomain(name)
	if err != nil {
		return false, nil
	}
	var one int
	err = s.r().Row(ctx, "SELECT 1 FROM domains WHERE name = ?", d).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: is local domain %s: %w", d, err)
	}
	return true, nil
}

// SetDomainDKIM stores a domain's DKIM selector and private key (PKCS#8 PEM).
func (s *Store) SetDomainDKIM(ctx context.Context, name, selector string, key []byte) error {
	d, err := NormalizeDomain(name)
	if err != nil {
		return fmt.Errorf("store: domain %q: %w", name, ErrNotFound)
	}
	res, err := s.w().Exec(ctx, "UPDATE domains SET dkim_selector = ?, dkim_private_key = ? WHERE name = ?", selector, key, d)
	if err != nil {
		return fmt.Errorf("store: set DKIM of %s: %w", d, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: domain %s: %w", d, ErrNotFound)
	}
	return nil
}

// --- accounts

const (
	accountColumns  = "id, address, domain, display_name, password_hash, disabled, created_at, password_changed_at"
	accountColumnsA = "a.id, a.address, a.domain, a.display_name, a.password_hash, a.disabled, a.created_at, a.password_changed_at"
)

func scanAccount(row interface{ Scan(...any) error }) (*Account, error) {
	var a Account
	var disabled int
	var created, changed int64
	if err := row.Scan(&a.ID, &a.Address, &a.Domain, &a.DisplayName, &a.PasswordHash, &disabled, &created, &changed); err != nil {
		return nil, err
	}
	a.Disabled = disabled != 0
	a.CreatedAt, a.PasswordChangedAt = sqldb.FromMicro(created), sqldb.FromMicro(changed)
	return &a, nil
}

// AddAccount creates an account in an existing local domain with its
// default mailboxes (DefaultMailboxes) and subscriptions, in one transaction.
// The password is hashed with argon2id. ErrNotFound if the domain is not
// local, ErrExists if the address is taken (as account or alias).
func (s *Store) AddAccount(ctx context.Context, address, password string) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fmt.Errorf("store: empty password: %w", ErrInvalid)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	var acc *Account
	err = s.writeTx(ctx, func(tx dbtx, ch changes) error {
		domain := mailaddr.Domain(addr)
		var one int
		err := tx.Row(ctx, "SELECT 1 FROM domains WHERE name = ?", domain).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: domain %s is not local: %w", domain, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: add account %s: %w", addr, err)
		}
		err = tx.Row(ctx, "SELECT 1 FROM aliases WHERE address = ?", addr).Scan(&one)
		if err == nil {
			return fmt.Errorf("store: %s is an alias: %w", addr, ErrExists)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: add account %s: %w", addr, err)
		}
		now := sqldb.Micro(time.Now())
		acc, err = scanAccount(tx.Row(ctx, `INSERT INTO accounts (address, domain, password_hash, created_at, password_changed_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING RETURNING `+accountColumns,
			addr, domain, hash, now, now))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: account %s: %w", addr, ErrExists)
		} else if err != nil {
			return fmt.Errorf("store: add account %s: %w", addr, err)
		}
		for _, m := range DefaultMailboxes {
			if _, err := s.createMailboxTx(ctx, tx, ch, acc.ID, m.Name, m.SpecialUse); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING", acc.ID, m.Name); err != nil {
				return fmt.Errorf("store: subscribe %s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return acc, nil
}

// Account returns the account with that address (any case). ErrNotFound.
func (s *Store) Account(ctx context.Context, address string) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	a, err := scanAccount(s.r().Row(ctx, "SELECT "+accountColumns+" FROM accounts WHERE address = ?", addr))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: account %s: %w", addr, err)
	}
	return a, nil
}

// Accounts lists accounts, of one domain when domain != "".
func (s *Store) Accounts(ctx context.Context, domain string) ([]Account, error) {
	query := "SELECT " + accountColumns + " FROM accounts"
	var args []any
	if domain != "" {
		d, err := NormalizeDomain(domain)
		if err != nil {
			return nil, nil
		}
		query += " WHERE domain = ?"
		args = append(args, d)
	}
	rows, err := s.r().Query(ctx, query+" ORDER BY address", args...)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// SetPassword changes the password (and invalidates cached verifications).
func (s *Store) SetPassword(ctx context.Context, address, password string) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	if password == "" {
		return fmt.Errorf("store: empty password: %w", ErrInvalid)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.SetPasswordHash(ctx, addr, hash)
}

// SetPasswordHash stores an already hashed password (argon2id PHC or
// bcrypt), e.g. when importing accounts from another server.
func (s *Store) SetPasswordHash(ctx context.Context, address, hash string) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	now := sqldb.Micro(time.Now())
	res, err := s.w().Exec(ctx, "UPDATE accounts SET password_hash = ?, password_changed_at = "+bumpStamp+" WHERE address = ?", hash, now, now, addr)
	if err != nil {
		return fmt.Errorf("store: set password of %s: %w", addr, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
	}
	s.auth.drop(addr)
	return nil
}

// SetDisabled disables or enables an account. A disabled account cannot log
// in and receives no mail (its address answers as unknown).
func (s *Store) SetDisabled(ctx context.Context, address string, disabled bool) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	v := 0
	if disabled {
		v = 1
	}
	query := "UPDATE accounts SET disabled = ? WHERE address = ?"
	args := []any{v, addr}
	if disabled {
		// Ends the sessions opened before (CredentialStamps).
		now := sqldb.Micro(time.Now())
		query = "UPDATE accounts SET disabled = ?, password_changed_at = " + bumpStamp + " WHERE address = ?"
		args = []any{v, now, now, addr}
	}
	res, err := s.w().Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: set disabled of %s: %w", addr, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
	}
	return nil
}

// RemoveAccount deletes an account with its mailboxes, messages and aliases.
func (s *Store) RemoveAccount(ctx context.Context, address string) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	err = s.writeTx(ctx, func(tx dbtx, ch changes) error {
		// The account row is locked last, by the DELETE, after its
		// mailboxes: the lock order of every writer (see quota.go).
		var id int64
		err := tx.Row(ctx, "SELECT id FROM accounts WHERE address = ?", addr).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: account %s: %w", addr, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: remove account %s: %w", addr, err)
		}
		ids, err := s.lockAccountMailboxes(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, mb := range ids {
			if err := s.deleteMailboxTx(ctx, tx, ch, id, mb); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM accounts WHERE id = ?", id); err != nil {
			return fmt.Errorf("store: remove account %s: %w", addr, err)
		}
		return nil
	})
	if err == nil {
		s.auth.drop(addr)
	}
	return err
}

// Authenticate checks a password. It returns ErrAuthFailed for an unknown
// address or a wrong password (indistinguishably, and taking about as long),
// ErrDisabled for a disabled account. Successful verifications are cached
// for Options.AuthCacheTTL keyed on (address, password, stored hash), so a
// password change — by this process or another — invalidates them.
func (s *Store) Authenticate(ctx context.Context, address, password string) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		s.inSlot(ctx, func() bool { return VerifyPassword(dummyHash(), password) })
		return nil, ErrAuthFailed
	}
	acc, err := s.Account(ctx, addr)
	if errors.Is(err, ErrNotFound) {
		s.inSlot(ctx, func() bool { return VerifyPassword(dummyHash(), password) })
		return nil, ErrAuthFailed
	}
	if err != nil {
		return nil, err
	}
	if !s.auth.hit(addr, acc.PasswordHash, password) {
		// A storm of logins with the same credentials queues for a
		// slot; the first one through fills the cache for the rest.
		ok, err := s.inSlot(ctx, func() bool {
			if s.auth.hit(addr, acc.PasswordHash, password) {
				return true
			}
			if !VerifyPassword(acc.PasswordHash, password) {
				return false
			}
			s.auth.put(addr, acc.PasswordHash, password)
			return true
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrAuthFailed
		}
	}
	if acc.Disabled {
		return nil, ErrDisabled
	}
	return acc, nil
}

// verifySlots bounds concurrent password verifications: argon2id takes
// 19 MiB and a core each, so a reconnect storm of a thousand clients must
// queue rather than ask for gigabytes at once.
var verifySlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// inSlot runs a password verification once a slot is free.
func (s *Store) inSlot(ctx context.Context, verify func() bool) (bool, error) {
	select {
	case verifySlots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-verifySlots }()
	return verify(), nil
}

// --- aliases

// AddAlias makes alias (an address in a local domain) deliver to the
// account of target. ErrExists if alias is an account or alias already.
func (s *Store) AddAlias(ctx context.Context, target, alias string) error {
	t, err := NormalizeAddress(target)
	if err != nil {
		return fmt.Errorf("store: alias target %q: %w", target, ErrNotFound)
	}
	a, err := NormalizeAddress(alias)
	if err != nil {
		return err
	}
	return s.writeTx(ctx, func(tx dbtx, _ changes) error {
		var one int
		err := tx.Row(ctx, "SELECT 1 FROM domains WHERE name = ?", mailaddr.Domain(a)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: domain of alias %s is not local: %w", a, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: add alias %s: %w", a, err)
		}
		var accID int64
		err = tx.Row(ctx, "SELECT id FROM accounts WHERE address = ?", t).Scan(&accID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: alias target %s: %w", t, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("store: add alias %s: %w", a, err)
		}
		err = tx.Row(ctx, "SELECT 1 FROM accounts WHERE address = ?", a).Scan(&one)
		if err == nil {
			return fmt.Errorf("store: %s is an account: %w", a, ErrExists)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: add alias %s: %w", a, err)
		}
		res, err := tx.Exec(ctx, "INSERT INTO aliases (address, domain, account_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (address) DO NOTHING",
			a, mailaddr.Domain(a), accID, sqldb.Micro(time.Now()))
		if err != nil {
			return fmt.Errorf("store: add alias %s: %w", a, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: alias %s: %w", a, ErrExists)
		}
		return nil
	})
}

// RemoveAlias removes an alias. ErrNotFound.
func (s *Store) RemoveAlias(ctx context.Context, alias string) error {
	a, err := NormalizeAddress(alias)
	if err != nil {
		return fmt.Errorf("store: alias %q: %w", alias, ErrNotFound)
	}
	res, err := s.w().Exec(ctx, "DELETE FROM aliases WHERE address = ?", a)
	if err != nil {
		return fmt.Errorf("store: remove alias %s: %w", a, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: alias %s: %w", a, ErrNotFound)
	}
	return nil
}

// Aliases lists the aliases of an account.
func (s *Store) Aliases(ctx context.Context, address string) ([]string, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, fmt.Errorf("store: account %q: %w", address, ErrNotFound)
	}
	rows, err := s.r().Query(ctx, `SELECT al.address FROM aliases al JOIN accounts a ON a.id = al.account_id
		WHERE a.address = ? ORDER BY al.address`, addr)
	if err != nil {
		return nil, fmt.Errorf("store: aliases of %s: %w", addr, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("store: aliases of %s: %w", addr, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: aliases of %s: %w", addr, err)
	}
	return out, nil
}

// ResolveRecipient maps a local address (account or alias, any case) to
// its enabled account. ErrNotFound otherwise (also for disabled accounts).
func (s *Store) ResolveRecipient(ctx context.Context, address string) (*Account, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return nil, fmt.Errorf("store: recipient %q: %w", address, ErrNotFound)
	}
	a, err := scanAccount(s.r().Row(ctx, "SELECT "+accountColumns+` FROM accounts WHERE address = ?
		UNION ALL SELECT `+accountColumnsA+` FROM aliases al JOIN accounts a ON a.id = al.account_id WHERE al.address = ?`, addr, addr))
	if errors.Is(err, sql.ErrNoRows) && IsRoleAddress(addr) {
		return s.resolveRole(ctx, addr) // postmaster.go
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: recipient %s: %w", addr, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: recipient %s: %w", addr, err)
	}
	if a.Disabled {
		return nil, fmt.Errorf("store: recipient %s is disabled: %w", addr, ErrNotFound)
	}
	return a, nil
}

// CanSendAs reports whether the account may use address as MAIL FROM /
// From: its own address or one of its aliases.
func (s *Store) CanSendAs(ctx context.Context, accountID int64, address string) (bool, error) {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return false, nil
	}
	var one int
	err = s.r().Row(ctx, `SELECT 1 FROM accounts WHERE id = ? AND address = ?
		UNION ALL SELECT 1 FROM aliases WHERE account_id = ? AND address = ?`, accountID, addr, accountID, addr).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: can send as %s: %w", addr, err)
	}
	return true, nil
}
