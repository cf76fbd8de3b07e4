package store

// Role addresses of served domains: postmaster@ (RFC 5321 section 4.5.1:
// every domain that receives mail must accept it) and abuse@ (RFC 2142).
// An account or alias with that address receives them like any other;
// otherwise ResolveRecipient gives the domain's postmaster: the address
// SetDomainPostmaster named, or the domain's first account (the oldest
// enabled one) when none is named or the named one no longer resolves.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"congthu/internal/mailaddr"
	"congthu/internal/sqldb"
)

// RoleLocalParts are the local parts every served domain receives mail
// for, whether or not an account has them.
var RoleLocalParts = []string{"postmaster", "abuse"}

// IsRoleAddress reports whether address (normalized, lower case) is
// postmaster@ or abuse@ of some domain.
func IsRoleAddress(address string) bool {
	local, _, ok := strings.Cut(address, "@")
	if !ok {
		return false
	}
	for _, r := range RoleLocalParts {
		if local == r {
			return true
		}
	}
	return false
}

// ErrNoPostmaster: a role address of a served domain that has no enabled
// account and no postmaster named. It wraps ErrNotFound.
var ErrNoPostmaster = fmt.Errorf("no account in the domain receives its postmaster mail (congthu domain postmaster names one): %w", ErrNotFound)

// resolveRole is ResolveRecipient for a role address no account or alias
// has: the domain's postmaster. ErrNotFound when the domain is not
// served; ErrNoPostmaster when nobody receives it.
func (s *Store) resolveRole(ctx context.Context, addr string) (*Account, error) {
	domain := mailaddr.Domain(addr)
	var named string
	err := s.r().Row(ctx, "SELECT postmaster FROM domains WHERE name = ?", domain).Scan(&named)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: recipient %s: %w", addr, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: postmaster of %s: %w", domain, err)
	}
	if named != "" && !IsRoleAddress(named) {
		a, err := s.ResolveRecipient(ctx, named)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		// The named account is gone or disabled: the first account
		// rather than nobody.
	}
	a, err := scanAccount(s.r().Row(ctx, "SELECT "+accountColumns+" FROM accounts WHERE domain = ? AND disabled = 0 ORDER BY id LIMIT 1", domain))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: recipient %s: %w", addr, ErrNoPostmaster)
	} else if err != nil {
		return nil, fmt.Errorf("store: postmaster of %s: %w", domain, err)
	}
	return a, nil
}

// SetDomainPostmaster names the address (an account or alias, of any
// served domain) that receives postmaster@ and abuse@ of domain when no
// account or alias has them; "" goes back to the domain's first account.
// ErrNotFound for a domain not served or an address that is not an
// enabled account or alias; ErrInvalid for a role address.
func (s *Store) SetDomainPostmaster(ctx context.Context, domain, address string) error {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return fmt.Errorf("store: domain %q: %w", domain, ErrNotFound)
	}
	addr := ""
	if address != "" {
		if addr, err = NormalizeAddress(address); err != nil {
			return err
		}
		if IsRoleAddress(addr) {
			return fmt.Errorf("store: postmaster of %s: %s is itself a role address: %w", d, addr, ErrInvalid)
		}
		if _, err := s.ResolveRecipient(ctx, addr); err != nil {
			return err
		}
	}
	res, err := s.w().Exec(ctx, "UPDATE domains SET postmaster = ? WHERE name = ?", addr, d)
	if err != nil {
		return fmt.Errorf("store: set postmaster of %s: %w", d, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: domain %s: %w", d, ErrNotFound)
	}
	return nil
}

// DomainPostmaster returns the address named for domain ("" for none)
// and the account its postmaster@ mail goes to now (nil, with
// ErrNoPostmaster, when none).
func (s *Store) DomainPostmaster(ctx context.Context, domain string) (named string, acc *Account, err error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return "", nil, fmt.Errorf("store: domain %q: %w", domain, ErrNotFound)
	}
	err = s.r().Row(ctx, "SELECT postmaster FROM domains WHERE name = ?", d).Scan(&named)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("store: domain %s: %w", d, ErrNotFound)
	} else if err != nil {
		return "", nil, fmt.Errorf("store: postmaster of %s: %w", d, err)
	}
	acc, err = s.ResolveRecipient(ctx, "postmaster@"+d)
	return named, acc, err
}

// FirstDomain returns the domain served longest (the first added), the
// default sender domain of notification mail. ErrNotFound when none is.
func (s *Store) FirstDomain(ctx context.Context) (*Domain, error) {
	var d Domain
	var created int64
	err := s.r().Row(ctx, "SELECT name, created_at, dkim_selector, dkim_private_key FROM domains ORDER BY created_at, name LIMIT 1").
		Scan(&d.Name, &created, &d.DKIMSelector, &d.DKIMPrivateKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: no domain is served: %w", ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: first domain: %w", err)
	}
	d.CreatedAt = sqldb.FromMicro(created)
	return &d, nil
}
