package store

import (
	"errors"
	"testing"
)

// TestPostmaster: postmaster@ and abuse@ of a served domain reach its first
// enabled account, or the one named, or an account of that address; a
// domain without accounts says so; others are unknown.
func TestPostmaster(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddDomain(ctx, "empty.gov.vn"); err != nil {
			t.Fatal(err)
		}
		accs := setup(t, s, "vanthu", "giamdoc")
		for _, a := range []string{"postmaster@example.gov.vn", "Abuse@Example.gov.vn"} {
			if got, err := s.ResolveRecipient(ctx, a); err != nil || got.ID != accs[0].ID {
				t.Errorf("%s: got %+v %v, want the first account", a, got, err)
			}
		}
		if _, err := s.ResolveRecipient(ctx, "postmaster@empty.gov.vn"); !errors.Is(err, ErrNoPostmaster) || !errors.Is(err, ErrNotFound) {
			t.Errorf("domain without accounts: got %v, want ErrNoPostmaster", err)
		}
		if _, err := s.ResolveRecipient(ctx, "postmaster@elsewhere.example"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoPostmaster) {
			t.Errorf("other domain: got %v, want ErrNotFound", err)
		}
		if _, err := s.ResolveRecipient(ctx, "webmaster@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("webmaster: got %v", err)
		}

		if err := s.SetDomainPostmaster(ctx, "example.gov.vn", "giamdoc@example.gov.vn"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDomainPostmaster(ctx, "empty.gov.vn", "GiamDoc@example.gov.vn"); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"postmaster@example.gov.vn", "abuse@empty.gov.vn"} {
			if got, err := s.ResolveRecipient(ctx, a); err != nil || got.ID != accs[1].ID {
				t.Errorf("%s after domain postmaster: got %+v %v, want giamdoc", a, got, err)
			}
		}
		named, acc, err := s.DomainPostmaster(ctx, "empty.gov.vn")
		if err != nil || named != "giamdoc@example.gov.vn" || acc.ID != accs[1].ID {
			t.Errorf("DomainPostmaster: %q %+v %v", named, acc, err)
		}
		for _, bad := range []string{"nobody@example.gov.vn", "x@elsewhere.example"} {
			if err := s.SetDomainPostmaster(ctx, "example.gov.vn", bad); !errors.Is(err, ErrNotFound) {
				t.Errorf("postmaster %s: got %v, want ErrNotFound", bad, err)
			}
		}
		if err := s.SetDomainPostmaster(ctx, "example.gov.vn", "abuse@example.gov.vn"); !errors.Is(err, ErrInvalid) {
			t.Errorf("role address as postmaster: got %v, want ErrInvalid", err)
		}
		if err := s.SetDomainPostmaster(ctx, "nope.gov.vn", "giamdoc@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown domain: got %v", err)
		}
		// The named account disabled: back to the first enabled one.
		if err := s.SetDisabled(ctx, "giamdoc@example.gov.vn", true); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ResolveRecipient(ctx, "postmaster@example.gov.vn"); err != nil || got.ID != accs[0].ID {
			t.Errorf("named account disabled: got %+v %v, want the first account", got, err)
		}
		// An account of that name wins.
		pm, err := s.AddAccount(ctx, "postmaster@example.gov.vn", "pw-postmaster")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.ResolveRecipient(ctx, "postmaster@example.gov.vn"); err != nil || got.ID != pm.ID {
			t.Errorf("postmaster account: got %+v %v", got, err)
		}
		if err := s.SetDomainPostmaster(ctx, "example.gov.vn", ""); err != nil {
			t.Fatal(err)
		}
		if d, err := s.FirstDomain(ctx); err != nil || d.Name != "empty.gov.vn" {
			t.Errorf("FirstDomain: %+v %v, want the first added", d, err)
		}
	})
}
