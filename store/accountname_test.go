package store

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"congthu/loginlimit"
)

// FuzzLoginKeyMatchesStore: any string the store resolves to an account
// locks that account out in the login limiter when it fails, and a
// lockout of the account covers that string: the limiter and the store
// agree on which account a name means.
func FuzzLoginKeyMatchesStore(f *testing.F) {
	s := newBackend(f, "sqlite").open(f)
	for _, d := range []string{"demo.gov.vn", "bộ-tư-pháp.gov.vn"} {
		if _, err := s.AddDomain(ctx, d); err != nil {
			f.Fatal(err)
		}
	}
	for _, a := range []string{"canbo@demo.gov.vn", "cán.bộ@demo.gov.vn", "canbo@bộ-tư-pháp.gov.vn", "k@demo.gov.vn"} {
		if _, err := s.AddAccount(ctx, a, "mat-khau-dai"); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range []string{
		"canbo@demo.gov.vn", "canbo@ demo.gov.vn", "canbo@demo.gov.vn.", " CANBO@Demo.gov.vn ",
		"CÁN.BỘ@demo.gov.vn", "canbo@BỘ-TƯ-PHÁP.gov.vn", "canbo@xn--b-t-php-mwa37p164l.gov.vn",
		"canbo@ｄｅｍｏ.gov.vn", "\u212a@demo.gov.vn", "canbo@demo。gov。vn",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		acct, err := s.Account(ctx, name)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Account(%q): %v", name, err)
			}
			return // no account: nothing to agree on
		}
		newLim := func() *loginlimit.Limiter {
			return loginlimit.New(loginlimit.Options{AccountFailures: 1, DelayAfter: -1, Lockout: time.Hour})
		}
		var ip netip.Addr // no IP key: only the account counts
		lim := newLim()
		lim.Fail(ip, name)
		if _, locked := lim.Check(ip, acct.Address); !locked {
			t.Fatalf("a failure as %q does not lock %s out", name, acct.Address)
		}
		lim = newLim()
		lim.Fail(ip, acct.Address)
		if _, locked := lim.Check(ip, name); !locked {
			t.Fatalf("%s locked out, but %q is not", acct.Address, name)
		}
	})
}

func TestCredentialStamps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		as := setup(t, s, "a", "b", "c")
		st0, err := s.CredentialStamps(ctx, []int64{as[0].ID, as[1].ID, as[2].ID, 999999})
		if err != nil {
			t.Fatal(err)
		}
		if len(st0) != 3 || st0[as[0].ID] != as[0].CredentialStamp() {
			t.Fatalf("stamps %v, want the 3 accounts with a's %d", st0, as[0].CredentialStamp())
		}
		if err := s.SetPassword(ctx, "a@example.gov.vn", "new-password"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDisabled(ctx, "b@example.gov.vn", true); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveAccount(ctx, "c@example.gov.vn"); err != nil {
			t.Fatal(err)
		}
		st1, err := s.CredentialStamps(ctx, []int64{as[0].ID, as[1].ID, as[2].ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(st1) != 1 || st1[as[0].ID] <= st0[as[0].ID] {
			t.Fatalf("after passwd a, disable b, remove c: stamps %v, want only a, above %d", st1, st0[as[0].ID])
		}
		// A second change in the same microsecond (or with a clock
		// behind) still moves the stamp forward.
		for i := 0; i < 3; i++ {
			if err := s.SetPassword(ctx, "a@example.gov.vn", "new-password"); err != nil {
				t.Fatal(err)
			}
			st2, _ := s.CredentialStamps(ctx, []int64{as[0].ID})
			if st2[as[0].ID] <= st1[as[0].ID] {
				t.Fatalf("stamp %d after another change, was %d", st2[as[0].ID], st1[as[0].ID])
			}
			st1 = st2
		}
	})
}
