package store

import (
	"context"
	"errors"
)

// DKIMKey returns the DKIM selector and private key (PEM) of a local
// domain; selector "" when the domain is not local or has no key. It
// implements dkim.KeySource.
func (s *Store) DKIMKey(ctx context.Context, domain string) (selector string, keyPEM []byte, err error) {
	d, err := s.Domain(ctx, domain)
	if errors.Is(err, ErrNotFound) {
		return "", nil, nil
	}
	if err != nil || d.DKIMSelector == "" || len(d.DKIMPrivateKey) == 0 {
		return "", nil, err
	}
	return d.DKIMSelector, d.DKIMPrivateKey, nil
}
