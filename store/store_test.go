package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/outbox"

	"golang.org/x/crypto/bcrypt"

	"congthu/internal/sqldb"
)

// backend opens stores on one database of one backend.
type backend struct {
	name string
	opts Options
}

// open opens a store on the backend's database, closed at cleanup.
func (b backend) open(t testing.TB, mod ...func(*Options)) *Store {
	t.Helper()
	opts := b.opts
	for _, m := range mod {
		m(&opts)
	}
	s, err := Open(context.Background(), opts, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatalf("open %s: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// forEachBackend runs fn against a fresh SQLite store and a fresh
// PostgreSQL store, in parallel subtests.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend, s *Store)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, name)
			fn(t, b, b.open(t))
		})
	}
}

func newBackend(t testing.TB, name string) backend {
	t.Helper()
	if name == "sqlite" {
		return backend{name: name, opts: Options{DataDir: t.TempDir()}}
	}
	return backend{name: name, opts: Options{URL: testenv.Postgres(t)}}
}

var ctx = context.Background()

func TestMain(m *testing.M) {
	// Cheap hashes for tests: argon2 under the race detector takes
	// seconds. TestPasswordHash checks the real parameters.
	argonParams.memory, argonParams.time = 256, 1
	os.Exit(m.Run())
}

func TestPasswordHash(t *testing.T) {
	p := argonParams
	argonParams.memory, argonParams.time, argonParams.threads = argonMemory, argonTime, argonThreads
	h, err := HashPassword("mật khẩu")
	argonParams = p
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("got %q, want an argon2id PHC string with m=19456,t=2,p=1", h)
	}
	tests := []struct {
		hash, pw string
		want     bool
	}{
		{h, "mật khẩu", true},
		{h, "mat khau", false},
		{"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA", "x", false},
		{"$argon2id$garbage", "x", false},
		{"plain", "plain", false},
	}
	for _, tt := range tests {
		if got := VerifyPassword(tt.hash, tt.pw); got != tt.want {
			t.Errorf("VerifyPassword(%.30q, %q): got %v, want %v", tt.hash, tt.pw, got, tt.want)
		}
	}
}

// setup adds the domain example.gov.vn and an account per local part.
func setup(t testing.TB, s *Store, locals ...string) []*Account {
	t.Helper()
	if ok, _ := s.IsLocalDomain(ctx, "example.gov.vn"); !ok {
		if _, err := s.AddDomain(ctx, "example.gov.vn"); err != nil {
			t.Fatal(err)
		}
	}
	var out []*Account
	for _, l := range locals {
		a, err := s.AddAccount(ctx, l+"@example.gov.vn", "pw-"+l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func inbox(t testing.TB, s *Store, accountID int64) *Mailbox {
	t.Helper()
	mb, err := s.Mailbox(ctx, accountID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

func msg(subject string) []byte {
	return []byte("From: a@example.gov.vn\r\nSubject: " + subject + "\r\n\r\nHello " + subject + "\r\n")
}

func deliver(t testing.TB, s *Store, raw []byte, targets ...LocalTarget) *DeliveryResult {
	t.Helper()
	res, err := s.Deliver(ctx, &Delivery{Raw: raw, Local: targets})
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return res
}

func uidsOf(ms []MessageMeta) []uint32 {
	var out []uint32
	for _, m := range ms {
		out = append(out, m.UID)
	}
	return out
}

func TestDomains(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		if _, err := s.AddDomain(ctx, "Example.GOV.vn"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			want error
		}{
			{"example.gov.vn", ErrExists},
			{"bad domain", ErrInvalid},
			{"", ErrInvalid},
			{"-x.vn", ErrInvalid},
			{"hanoi.gov.vn", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := s.AddDomain(ctx, tt.name); !errors.Is(err, tt.want) {
					t.Errorf("AddDomain(%q): got %v, want %v", tt.name, err, tt.want)
				}
			})
		}
		ds, err := s.Domains(ctx)
		if err != nil || len(ds) != 2 || ds[0].Name != "example.gov.vn" || ds[1].Name != "hanoi.gov.vn" {
			t.Fatalf("Domains: got %v, %v, want example.gov.vn, hanoi.gov.vn", ds, err)
		}
		if ok, err := s.IsLocalDomain(ctx, "EXAMPLE.gov.vn"); !ok || err != nil {
			t.Errorf("IsLocalDomain: got %v, %v, want true", ok, err)
		}
		if ok, _ := s.IsLocalDomain(ctx, "other.vn"); ok {
			t.Errorf("IsLocalDomain(other.vn): got true, want false")
		}
		if err := s.SetDomainDKIM(ctx, "example.gov.vn", "s1", []byte("PEM")); err != nil {
			t.Fatal(err)
		}
		d, err := s.Domain(ctx, "example.gov.vn")
		if err != nil || d.DKIMSelector != "s1" || string(d.DKIMPrivateKey) != "PEM" {
			t.Errorf("DKIM: got %+v, %v", d, err)
		}
		if err := s.SetDomainDKIM(ctx, "nope.vn", "s1", nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetDomainDKIM(unknown): got %v, want ErrNotFound", err)
		}
		setup(t, s, "an")
		if err := s.RemoveDomain(ctx, "example.gov.vn"); !errors.Is(err, ErrInUse) {
			t.Errorf("RemoveDomain in use: got %v, want ErrInUse", err)
		}
		if err := s.RemoveDomain(ctx, "hanoi.gov.vn"); err != nil {
			t.Errorf("RemoveDomain: %v", err)
		}
		if err := s.RemoveDomain(ctx, "hanoi.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveDomain twice: got %v, want ErrNotFound", err)
		}
	})
}

func TestAccounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		accs := setup(t, s, "an")
		an := accs[0]
		if an.Address != "an@example.gov.vn" || an.Domain != "example.gov.vn" || !strings.HasPrefix(an.PasswordHash, "$argon2id$v=19$") {
			t.Errorf("AddAccount: got %+v", an)
		}
		tests := []struct {
			addr string
			want error
		}{
			{"AN@Example.gov.vn", ErrExists},
			{" an@example.gov.vn ", ErrExists},
			{"x@other.vn", ErrNotFound},
			{"no-at", ErrInvalid},
			{"@example.gov.vn", ErrInvalid},
			{"a b@example.gov.vn", ErrInvalid},
			{"a\x01@example.gov.vn", ErrInvalid},
			{"a@", ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.addr, func(t *testing.T) {
				if _, err := s.AddAccount(ctx, tt.addr, "pw"); !errors.Is(err, tt.want) {
					t.Errorf("AddAccount(%q): got %v, want %v", tt.addr, err, tt.want)
				}
			})
		}
		got, err := s.Account(ctx, "An@EXAMPLE.gov.vn")
		if err != nil || got.ID != an.ID {
			t.Fatalf("Account: got %+v, %v", got, err)
		}
		if got, err := s.accountByID(ctx, an.ID); err != nil || got.Address != an.Address {
			t.Errorf("AccountByID: got %+v, %v", got, err)
		}
		if _, err := s.accountByID(ctx, 99999); !errors.Is(err, ErrNotFound) {
			t.Errorf("AccountByID(unknown): got %v, want ErrNotFound", err)
		}
		mbs, err := s.Mailboxes(ctx, an.ID)
		if err != nil || len(mbs) != len(DefaultMailboxes) {
			t.Fatalf("Mailboxes: got %d, %v, want %d", len(mbs), err, len(DefaultMailboxes))
		}
		special := map[string]string{}
		for _, m := range mbs {
			special[m.Name] = m.SpecialUse
			if !m.Subscribed || m.UIDNext != 1 || m.UIDValidity == 0 {
				t.Errorf("mailbox %+v: want subscribed, UIDNext 1, UIDValidity > 0", m)
			}
		}
		for _, d := range DefaultMailboxes {
			if special[d.Name] != d.SpecialUse {
				t.Errorf("mailbox %s: got special-use %q, want %q", d.Name, special[d.Name], d.SpecialUse)
			}
		}
		setup(t, s, "binh")
		if as, err := s.Accounts(ctx, "example.gov.vn"); err != nil || len(as) != 2 {
			t.Errorf("Accounts: got %d, %v, want 2", len(as), err)
		}
		if as, err := s.Accounts(ctx, ""); err != nil || len(as) != 2 {
			t.Errorf("Accounts(all): got %d, %v, want 2", len(as), err)
		}
		if err := s.setDisplayName(ctx, an.Address, "Nguyễn Văn An"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Account(ctx, an.Address); got.DisplayName != "Nguyễn Văn An" {
			t.Errorf("DisplayName: got %q", got.DisplayName)
		}

		// Remove cascades: mailboxes, messages, aliases.
		if err := s.AddAlias(ctx, an.Address, "vanthu@example.gov.vn"); err != nil {
			t.Fatal(err)
		}
		res := deliver(t, s, msg("bye"), LocalTarget{AccountID: an.ID})
		if err := s.RemoveAccount(ctx, an.Address); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Account(ctx, an.Address); !errors.Is(err, ErrNotFound) {
			t.Errorf("Account after remove: got %v, want ErrNotFound", err)
		}
		if _, err := s.ResolveRecipient(ctx, "vanthu@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("alias after remove: got %v, want ErrNotFound", err)
		}
		if _, err := s.mailboxByID(ctx, res.Local[0].MailboxID); !errors.Is(err, ErrNotFound) {
			t.Errorf("mailbox after remove: got %v, want ErrNotFound", err)
		}
		var blobs int
		s.r().Row(ctx, "SELECT COUNT(*) FROM blobs").Scan(&blobs)
		if blobs != 0 {
			t.Errorf("blobs after remove: got %d, want 0", blobs)
		}
		if err := s.RemoveAccount(ctx, an.Address); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveAccount twice: got %v, want ErrNotFound", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		an := setup(t, s, "an", "binh")[0]
		tests := []struct {
			name, addr, pw string
			want           error
		}{
			{"right", "an@example.gov.vn", "pw-an", nil},
			{"right any case", " AN@example.gov.vn", "pw-an", nil},
			{"wrong", "an@example.gov.vn", "pw-binh", ErrAuthFailed},
			{"empty", "an@example.gov.vn", "", ErrAuthFailed},
			{"unknown", "chi@example.gov.vn", "pw-an", ErrAuthFailed},
			{"invalid", "not an address", "pw", ErrAuthFailed},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a, err := s.Authenticate(ctx, tt.addr, tt.pw)
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
				if err == nil && a.ID != an.ID {
					t.Errorf("got account %d, want %d", a.ID, an.ID)
				}
			})
		}
		// Cache hit.
		hits := s.auth.hits.Load()
		if _, err := s.Authenticate(ctx, "an@example.gov.vn", "pw-an"); err != nil {
			t.Fatal(err)
		}
		if got := s.auth.hits.Load(); got != hits+1 {
			t.Errorf("cache hits: got %d, want %d", got, hits+1)
		}
		// Another process changes the password: the cache must not
		// accept the old one.
		other := b.open(t)
		if err := other.SetPassword(ctx, "an@example.gov.vn", "new secret"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "an@example.gov.vn", "pw-an"); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("old password after change elsewhere: got %v, want ErrAuthFailed", err)
		}
		if _, err := s.Authenticate(ctx, "an@example.gov.vn", "new secret"); err != nil {
			t.Errorf("new password: got %v, want success", err)
		}
		// Disabled: right password says disabled, wrong says failed.
		if err := s.SetDisabled(ctx, "an@example.gov.vn", true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "an@example.gov.vn", "new secret"); !errors.Is(err, ErrDisabled) {
			t.Errorf("disabled: got %v, want ErrDisabled", err)
		}
		if _, err := s.Authenticate(ctx, "an@example.gov.vn", "wrong"); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("disabled, wrong password: got %v, want ErrAuthFailed", err)
		}
		if _, err := s.ResolveRecipient(ctx, "an@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("disabled recipient: got %v, want ErrNotFound", err)
		}
		// bcrypt hashes verify too.
		h, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
		bcryptHash := string(h)
		if !VerifyPassword(bcryptHash, "secret") || VerifyPassword(bcryptHash, "Secret") {
			t.Errorf("bcrypt verification wrong")
		}
		if err := s.SetPasswordHash(ctx, "binh@example.gov.vn", bcryptHash); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "binh@example.gov.vn", "secret"); err != nil {
			t.Errorf("bcrypt login: %v", err)
		}
	})
}

// TestAuthenticateStorm: many logins with the same cold credentials at
// once cost one password hash per verification slot, not one each: the
// waiters find the cache filled when their turn comes.
func TestAuthenticateStorm(t *testing.T) {
	b := newBackend(t, "sqlite")
	s := b.open(t)
	setup(t, s, "an")
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Authenticate(ctx, "an@example.gov.vn", "pw-an")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if hashes := n - int(s.auth.hits.Load()); hashes > cap(verifySlots) {
		t.Errorf("%d logins computed %d hashes, want at most %d (one per slot)", n, hashes, cap(verifySlots))
	}
}

func TestAuthenticateTiming(t *testing.T) {
	b := newBackend(t, "sqlite")
	s := b.open(t, func(o *Options) { o.AuthCacheTTL = -1 })
	setup(t, s, "an")
	once := func(addr string) time.Duration {
		start := time.Now()
		s.Authenticate(ctx, addr, "wrong")
		return time.Since(start)
	}
	once("nobody@example.gov.vn") // warm up the dummy hash
	// Interleaved, keeping the fastest of each: the minimum is what the
	// work costs, without the noise of a busy machine.
	known, unknown := time.Hour, time.Hour
	for range 9 {
		known = min(known, once("an@example.gov.vn"))
		unknown = min(unknown, once("nobody@example.gov.vn"))
	}
	if unknown < known/3 {
		t.Errorf("unknown user took %v, known %v: want comparable", unknown, known)
	}
}

func TestAliases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		accs := setup(t, s, "an", "binh")
		an := accs[0]
		if err := s.AddAlias(ctx, "an@example.gov.vn", "VanThu@example.gov.vn"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			target, alias string
			want          error
		}{
			{"an@example.gov.vn", "vanthu@example.gov.vn", ErrExists},
			{"an@example.gov.vn", "binh@example.gov.vn", ErrExists},
			{"an@example.gov.vn", "x@other.vn", ErrNotFound},
			{"nobody@example.gov.vn", "y@example.gov.vn", ErrNotFound},
			{"an@example.gov.vn", "bad alias", ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.alias, func(t *testing.T) {
				if err := s.AddAlias(ctx, tt.target, tt.alias); !errors.Is(err, tt.want) {
					t.Errorf("got %v, want %v", err, tt.want)
				}
			})
		}
		if _, err := s.AddAccount(ctx, "vanthu@example.gov.vn", "x"); !errors.Is(err, ErrExists) {
			t.Errorf("account over alias: got %v, want ErrExists", err)
		}
		for _, addr := range []string{"vanthu@example.gov.vn", "VANTHU@example.gov.vn", "an@example.gov.vn"} {
			if a, err := s.ResolveRecipient(ctx, addr); err != nil || a.ID != an.ID {
				t.Errorf("ResolveRecipient(%s): got %v, %v, want account %d", addr, a, err, an.ID)
			}
		}
		if _, err := s.ResolveRecipient(ctx, "nobody@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResolveRecipient(unknown): got %v, want ErrNotFound", err)
		}
		sendAs := []struct {
			acc  int64
			addr string
			want bool
		}{
			{an.ID, "an@example.gov.vn", true},
			{an.ID, "VanThu@Example.gov.vn", true},
			{an.ID, "binh@example.gov.vn", false},
			{accs[1].ID, "vanthu@example.gov.vn", false},
		}
		for _, tt := range sendAs {
			if got, err := s.CanSendAs(ctx, tt.acc, tt.addr); got != tt.want || err != nil {
				t.Errorf("CanSendAs(%d, %s): got %v, %v, want %v", tt.acc, tt.addr, got, err, tt.want)
			}
		}
		if got, err := s.Aliases(ctx, "an@example.gov.vn"); err != nil || !slices.Equal(got, []string{"vanthu@example.gov.vn"}) {
			t.Errorf("Aliases: got %v, %v", got, err)
		}
		if err := s.RemoveAlias(ctx, "vanthu@example.gov.vn"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveAlias(ctx, "vanthu@example.gov.vn"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveAlias twice: got %v, want ErrNotFound", err)
		}
	})
}

func TestMailboxes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		an := setup(t, s, "an")[0]
		id := an.ID
		mb, err := s.CreateMailbox(ctx, id, "Dự án/2025/Quý 1", "")
		if err != nil {
			t.Fatal(err)
		}
		if mb.UIDNext != 1 || mb.UIDValidity == 0 {
			t.Errorf("CreateMailbox: got %+v", mb)
		}
		for _, name := range []string{"Dự án", "Dự án/2025"} {
			if _, err := s.Mailbox(ctx, id, name); err != nil {
				t.Errorf("parent %q: %v", name, err)
			}
		}
		bad := []struct {
			name string
			want error
		}{
			{"Dự án/2025/Quý 1", ErrExists},
			{"inbox", ErrExists},
			{"", ErrMailboxInvalid},
			{"a//b", ErrMailboxInvalid},
			{"/a", ErrMailboxInvalid},
			{"a/", ErrMailboxInvalid},
			{"a*", ErrMailboxInvalid},
			{"a%", ErrMailboxInvalid},
			{"a\x00b", ErrMailboxInvalid},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := s.CreateMailbox(ctx, id, tt.name, ""); !errors.Is(err, tt.want) {
					t.Errorf("got %v, want %v", err, tt.want)
				}
			})
		}
		if _, err := s.CreateMailbox(ctx, id, "x", `\Bogus`); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad special-use: got %v, want ErrInvalid", err)
		}
		if m, err := s.Mailbox(ctx, id, "iNbOx"); err != nil || m.Name != "INBOX" {
			t.Errorf("Mailbox(iNbOx): got %v, %v", m, err)
		}
		if m, err := s.CreateMailbox(ctx, id, "inbox/Sub", ""); err != nil || m.Name != "INBOX/Sub" {
			t.Errorf("CreateMailbox(inbox/Sub): got %v, %v", m, err)
		}

		// Rename with children keeps UIDVALIDITY.
		deliver(t, s, msg("in project"), LocalTarget{AccountID: id, Mailbox: "Dự án/2025"})
		if err := s.RenameMailbox(ctx, id, "Dự án", "Projects/Old"); err != nil {
			t.Fatal(err)
		}
		moved, err := s.Mailbox(ctx, id, "Projects/Old/2025/Quý 1")
		if err != nil || moved.ID != mb.ID || moved.UIDValidity != mb.UIDValidity {
			t.Errorf("renamed child: got %+v, %v, want ID %d UIDVALIDITY %d", moved, err, mb.ID, mb.UIDValidity)
		}
		if _, err := s.Mailbox(ctx, id, "Projects"); err != nil {
			t.Errorf("rename did not create parent: %v", err)
		}
		if _, err := s.Mailbox(ctx, id, "Dự án/2025"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old name: got %v, want ErrNotFound", err)
		}
		if st, _ := s.Status(ctx, mustMailbox(t, s, id, "Projects/Old/2025").ID); st.Messages != 1 {
			t.Errorf("messages after rename: got %d, want 1", st.Messages)
		}
		if err := s.RenameMailbox(ctx, id, "Sent", "Drafts"); !errors.Is(err, ErrExists) {
			t.Errorf("rename onto existing: got %v, want ErrExists", err)
		}
		if err := s.RenameMailbox(ctx, id, "Nope", "Nope2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("rename missing: got %v, want ErrNotFound", err)
		}

		// Rename INBOX: messages move, INBOX stays, empty.
		in := inbox(t, s, id)
		deliver(t, s, msg("one"), LocalTarget{AccountID: id})
		deliver(t, s, msg("two"), LocalTarget{AccountID: id})
		if err := s.RenameMailbox(ctx, id, "INBOX", "Old Inbox"); err != nil {
			t.Fatal(err)
		}
		old := mustMailbox(t, s, id, "Old Inbox")
		if st, _ := s.Status(ctx, old.ID); st.Messages != 2 {
			t.Errorf("Old Inbox: got %d messages, want 2", st.Messages)
		}
		in2 := inbox(t, s, id)
		st, _ := s.Status(ctx, in2.ID)
		if in2.ID != in.ID || st.Messages != 0 || in2.UIDNext != 3 {
			t.Errorf("INBOX after rename: got %+v %+v, want same ID, empty, UIDNEXT 3", in2, st)
		}
		if old.UIDValidity == in.UIDValidity {
			t.Errorf("Old Inbox reuses INBOX's UIDVALIDITY %d", old.UIDValidity)
		}
		if _, err := s.Message(ctx, old.ID, 2); err != nil {
			t.Errorf("moved message UID 2: %v", err)
		}
		if c, _ := s.ChangesSince(ctx, in.ID, in.HighestModSeq); !slices.Equal(c.Expunged, []uint32{1, 2}) {
			t.Errorf("INBOX expunged after rename: got %v, want [1 2]", c.Expunged)
		}

		// Delete; UIDVALIDITY is never reused after re-create.
		if err := s.DeleteMailbox(ctx, id, "INBOX"); !errors.Is(err, ErrInvalid) {
			t.Errorf("delete INBOX: got %v, want ErrInvalid", err)
		}
		tmp, _ := s.CreateMailbox(ctx, id, "Tmp", "")
		deliver(t, s, msg("tmp"), LocalTarget{AccountID: id, Mailbox: "Tmp"})
		if err := s.DeleteMailbox(ctx, id, "Tmp"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMailbox(ctx, id, "Tmp"); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete twice: got %v, want ErrNotFound", err)
		}
		again, err := s.CreateMailbox(ctx, id, "Tmp", "")
		if err != nil {
			t.Fatal(err)
		}
		if again.UIDValidity <= tmp.UIDValidity || again.ID == tmp.ID {
			t.Errorf("re-created: UIDVALIDITY %d ID %d, before %d ID %d: want larger and new", again.UIDValidity, again.ID, tmp.UIDValidity, tmp.ID)
		}
		if again.UIDValidity < uint32(time.Now().Unix()-3600) {
			t.Errorf("UIDVALIDITY %d: want at least the Unix time", again.UIDValidity)
		}
		// Delete with children leaves the children.
		if err := s.DeleteMailbox(ctx, id, "Projects/Old"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mailbox(ctx, id, "Projects/Old/2025"); err != nil {
			t.Errorf("child after parent delete: %v", err)
		}

		// Subscriptions are names.
		if err := s.SetSubscribed(ctx, id, "Not There", true); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSubscribed(ctx, id, "Junk", false); err != nil {
			t.Fatal(err)
		}
		subs, _ := s.Subscriptions(ctx, id)
		if !slices.Contains(subs, "Not There") || slices.Contains(subs, "Junk") || !slices.Contains(subs, "INBOX") {
			t.Errorf("Subscriptions: got %v", subs)
		}
		if m := mustMailbox(t, s, id, "Junk"); m.Subscribed {
			t.Errorf("Junk: got subscribed, want not")
		}
	})
}

func mustMailbox(t testing.TB, s *Store, accountID int64, name string) *Mailbox {
	t.Helper()
	m, err := s.Mailbox(ctx, accountID, name)
	if err != nil {
		t.Fatalf("mailbox %q: %v", name, err)
	}
	return m
}

func TestDeliver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		accs := setup(t, s, "an", "binh")
		an, binh := accs[0], accs[1]
		// Byte-exact: CRLF, bare LF, 8-bit, NUL, a 300 KB attachment.
		att := bytes.Repeat([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n"), 8000)
		raw := []byte("From: an@example.gov.vn\r\nSubject: Hồ sơ\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			"Kết quả: đã duyệt\n\xff\x00bare LF\r\n--b\r\nContent-Type: application/pdf; name=\"qd.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			string(att) + "--b--\r\n")
		res, err := s.Deliver(ctx, &Delivery{
			Raw: raw,
			Local: []LocalTarget{
				{AccountID: binh.ID},
				{AccountID: an.ID, Mailbox: "Sent", Flags: []string{`\Seen`, "$Forwarded"}},
				{AccountID: an.ID, Mailbox: "No Such Box"},
			},
			MailFrom: "an@example.gov.vn",
			Remote:   []string{"Someone@Other.VN", "x@other.vn", "someone@other.vn"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Local) != 3 || res.OutboxID == 0 {
			t.Fatalf("Deliver: got %+v", res)
		}
		sent := mustMailbox(t, s, an.ID, "Sent")
		want := []struct {
			mailbox int64
			uid     uint32
		}{{inbox(t, s, binh.ID).ID, 1}, {sent.ID, 1}, {inbox(t, s, an.ID).ID, 1}}
		for i, w := range want {
			r := res.Local[i]
			if r.MailboxID != w.mailbox || r.UID != w.uid || r.UIDValidity == 0 || r.ModSeq == 0 {
				t.Errorf("Local[%d]: got %+v, want mailbox %d UID %d", i, r, w.mailbox, w.uid)
			}
			m, err := s.Message(ctx, r.MailboxID, r.UID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Raw, raw) {
				t.Errorf("Local[%d]: raw bytes differ (got %d bytes, want %d)", i, len(m.Raw), len(raw))
			}
			if !bytes.HasSuffix(m.Raw[:m.HeaderLen], []byte("\r\n\r\n")) || m.Size != int64(len(raw)) {
				t.Errorf("Local[%d]: HeaderLen %d Size %d", i, m.HeaderLen, m.Size)
			}
		}
		if m, _ := s.Message(ctx, sent.ID, 1); !slices.Equal(m.Flags, []string{"$Forwarded", `\Seen`}) {
			t.Errorf("Sent flags: got %v", m.Flags)
		}
		var blobs int
		s.r().Row(ctx, "SELECT COUNT(*) FROM blobs").Scan(&blobs)
		if blobs != 1 {
			t.Errorf("blobs: got %d, want 1 (shared)", blobs)
		}
		ob, err := s.Outbox().State(ctx, res.OutboxID)
		if err != nil {
			t.Fatal(err)
		}
		if ob.MailFrom != "an@example.gov.vn" || len(ob.Recipients) != 2 || ob.Size != int64(len(raw)) {
			t.Errorf("Outbox: got %+v", ob)
		}
		for _, r := range ob.Recipients {
			if r.Status != outbox.Queued || r.Attempts != 0 {
				t.Errorf("recipient %+v: want queued", r)
			}
		}
		if got, _ := s.Outbox().State(ctx, res.OutboxID); got == nil || !bytes.Equal(got.Raw, raw) {
			t.Errorf("OutboxRaw differs")
		}
		due, err := s.Outbox().DuePage(ctx, time.Now().Add(time.Second), 0, 10)
		if err != nil || !slices.Equal(due, []int64{res.OutboxID}) {
			t.Errorf("OutboxDue: got %v, %v", due, err)
		}
		if err := s.updateOutboxRecipient(ctx, res.OutboxID, "x@other.vn", outbox.Delivered, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.updateOutboxRecipient(ctx, res.OutboxID, "Someone@other.vn", outbox.Queued, "451 later", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.Outbox().DuePage(ctx, time.Now(), 0, 10); len(due) != 0 {
			t.Errorf("OutboxDue after retry scheduled: got %v, want none", due)
		}
		if _, err := s.Outbox().State(ctx, 12345); !errors.Is(err, ErrNotFound) {
			t.Errorf("Outbox(unknown): got %v, want ErrNotFound", err)
		}

		// Search text.
		for st, err := range s.SearchTexts(ctx, sent.ID, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(st.Body, "ket qua: da duyet") || !strings.Contains(st.Body, "qd.pdf") || !bytes.HasPrefix(st.Header, []byte("From:")) {
				t.Errorf("SearchText: got header %q body %q", st.Header, st.Body)
			}
		}

		// Invalid deliveries.
		bad := []struct {
			name string
			d    *Delivery
			want error
		}{
			{"empty", &Delivery{Local: []LocalTarget{{AccountID: an.ID}}}, ErrInvalid},
			{"no recipients", &Delivery{Raw: raw}, ErrInvalid},
			{"unknown account", &Delivery{Raw: raw, Local: []LocalTarget{{AccountID: 999999}}}, ErrNotFound},
			{"bad flag", &Delivery{Raw: raw, Local: []LocalTarget{{AccountID: an.ID, Flags: []string{`\Bogus`}}}}, ErrInvalid},
			{"bad remote", &Delivery{Raw: raw, Remote: []string{"not an address"}}, ErrInvalid},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := s.Deliver(ctx, tt.d); !errors.Is(err, tt.want) {
					t.Errorf("got %v, want %v", err, tt.want)
				}
			})
		}
	})
}

func TestMessages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, _ *Store) {
		var mu sync.Mutex
		var notes []int64
		s := b.open(t, func(o *Options) {
			o.Changed = func(acc, mb, modseq int64) {
				mu.Lock()
				notes = append(notes, mb)
				mu.Unlock()
			}
		})
		an := setup(t, s, "an")[0]
		in := inbox(t, s, an.ID)
		for i := range 5 {
			deliver(t, s, msg(fmt.Sprint("m", i)), LocalTarget{AccountID: an.ID})
		}
		mu.Lock()
		if !slices.Contains(notes, in.ID) {
			t.Errorf("Changed: got %v, want mailbox %d", notes, in.ID)
		}
		mu.Unlock()
		ms, err := s.Messages(ctx, in.ID)
		if err != nil || !slices.Equal(uidsOf(ms), []uint32{1, 2, 3, 4, 5}) {
			t.Fatalf("Messages: got %v, %v", uidsOf(ms), err)
		}
		if _, err := s.Messages(ctx, 999999); !errors.Is(err, ErrNotFound) {
			t.Errorf("Messages(unknown): got %v, want ErrNotFound", err)
		}
		st, _ := s.Status(ctx, in.ID)
		if st.Messages != 5 || st.Unseen != 5 || st.UIDNext != 6 || st.Recent != 5 || st.Size == 0 {
			t.Errorf("Status: got %+v", st)
		}
		mod0 := st.HighestModSeq

		// Flags.
		steps := []struct {
			name  string
			uids  []uint32
			op    StoreOp
			flags []string
			since int64
			want  []uint32 // changed
			flag3 []string // flags of UID 3 after
		}{
			{"add seen", []uint32{1, 2, 3, 99}, FlagsAdd, []string{`\seen`}, 0, []uint32{1, 2, 3}, []string{`\Seen`}},
			{"add again", []uint32{3}, FlagsAdd, []string{`\Seen`}, 0, nil, []string{`\Seen`}},
			{"keywords", []uint32{3}, FlagsAdd, []string{"$Important", "Du_an", `\Flagged`}, 0, []uint32{3}, nil},
			{"remove kw any case", []uint32{3}, FlagsRemove, []string{"$important"}, 0, []uint32{3}, []string{"Du_an", `\Flagged`, `\Seen`}},
			{"set", []uint32{3, 4}, FlagsSet, []string{`\Deleted`, "$Junk"}, 0, []uint32{3, 4}, []string{"$Junk", `\Deleted`}},
			{"unchangedsince old", []uint32{3, 5}, FlagsAdd, []string{`\Answered`}, mod0, []uint32{5}, []string{"$Junk", `\Deleted`}},
		}
		for _, tt := range steps {
			ups, err := s.SetFlags(ctx, in.ID, tt.uids, tt.op, tt.flags, tt.since)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []uint32
			for _, u := range ups {
				got = append(got, u.UID)
				if u.ModSeq <= mod0 {
					t.Errorf("%s: UID %d modseq %d, want > %d", tt.name, u.UID, u.ModSeq, mod0)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: changed %v, want %v", tt.name, got, tt.want)
			}
			if tt.flag3 != nil {
				m, _ := s.Message(ctx, in.ID, 3)
				if !slices.Equal(m.Flags, tt.flag3) {
					t.Errorf("%s: UID 3 flags %v, want %v", tt.name, m.Flags, tt.flag3)
				}
			}
		}
		if _, err := s.SetFlags(ctx, in.ID, []uint32{1}, FlagsAdd, []string{"bad kw"}, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad keyword: got %v, want ErrInvalid", err)
		}
		kws, _ := s.keywords(ctx, in.ID)
		if !slices.Equal(kws, []string{"$Important", "$Junk", "Du_an"}) {
			t.Errorf("Keywords: got %v", kws)
		}
		st, _ = s.Status(ctx, in.ID)
		if st.Unseen != 3 || st.Deleted != 2 {
			t.Errorf("Status after flags: got %+v, want 3 unseen, 2 deleted", st)
		}
		c, err := s.ChangesSince(ctx, in.ID, mod0)
		if err != nil || !slices.Equal(uidsOf(c.Changed), []uint32{1, 2, 3, 4, 5}) || c.HighestModSeq <= mod0 {
			t.Errorf("ChangesSince: got %+v, %v", c, err)
		}

		// Expunge with UIDs, then all.
		mod1 := c.HighestModSeq
		if got, err := s.Expunge(ctx, in.ID, []uint32{1, 4}); err != nil || !slices.Equal(got, []uint32{4}) {
			t.Errorf("UID EXPUNGE 1,4: got %v, %v, want [4]", got, err)
		}
		if got, err := s.Expunge(ctx, in.ID, nil); err != nil || !slices.Equal(got, []uint32{3}) {
			t.Errorf("EXPUNGE: got %v, %v, want [3]", got, err)
		}
		if got, _ := s.Expunge(ctx, in.ID, nil); len(got) != 0 {
			t.Errorf("EXPUNGE again: got %v, want none", got)
		}
		c, _ = s.ChangesSince(ctx, in.ID, mod1)
		if !slices.Equal(c.Expunged, []uint32{3, 4}) || len(c.Changed) != 0 {
			t.Errorf("ChangesSince after expunge: got %+v", c)
		}
		// UIDs are not reused.
		r := deliver(t, s, msg("m6"), LocalTarget{AccountID: an.ID})
		if r.Local[0].UID != 6 {
			t.Errorf("UID after expunge: got %d, want 6", r.Local[0].UID)
		}
		// MessagesByUID, header only.
		var got []uint32
		for m, err := range s.MessagesByUID(ctx, in.ID, []uint32{6, 1, 3, 2, 2}, true) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.UID)
			if !bytes.HasSuffix(m.Raw, []byte("\r\n\r\n")) || len(m.Raw) != m.HeaderLen {
				t.Errorf("header only UID %d: got %q", m.UID, m.Raw)
			}
		}
		if !slices.Equal(got, []uint32{1, 2, 6}) {
			t.Errorf("MessagesByUID: got %v, want [1 2 6]", got)
		}
		if _, err := s.Message(ctx, in.ID, 3); !errors.Is(err, ErrNotFound) {
			t.Errorf("expunged message: got %v, want ErrNotFound", err)
		}

		// ClaimRecent.
		from, to, err := s.ClaimRecent(ctx, in.ID)
		if err != nil || from != 1 || to != 7 {
			t.Errorf("ClaimRecent: got [%d, %d), %v, want [1, 7)", from, to, err)
		}
		if from, to, _ := s.ClaimRecent(ctx, in.ID); from != to {
			t.Errorf("ClaimRecent again: got [%d, %d), want empty", from, to)
		}
		if st, _ := s.Status(ctx, in.ID); st.Recent != 0 {
			t.Errorf("Recent after claim: got %d, want 0", st.Recent)
		}
		deliver(t, s, msg("m7"), LocalTarget{AccountID: an.ID})
		if from, to, _ := s.ClaimRecent(ctx, in.ID); from != 7 || to != 8 {
			t.Errorf("ClaimRecent new: got [%d, %d), want [7, 8)", from, to)
		}

		// Append.
		arch := mustMailbox(t, s, an.ID, "Archive")
		date := time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC)
		ar, err := s.Append(ctx, arch.ID, msg("appended"), []string{`\Seen`, `\Recent`}, date)
		if err != nil || ar.UID != 1 || ar.MailboxID != arch.ID || ar.UIDValidity != arch.UIDValidity {
			t.Fatalf("Append: got %+v, %v", ar, err)
		}
		if m, _ := s.Message(ctx, arch.ID, 1); !m.InternalDate.Equal(date) || !slices.Equal(m.Flags, []string{`\Seen`}) {
			t.Errorf("appended: date %v flags %v", m.InternalDate, m.Flags)
		}
		if _, err := s.Append(ctx, 999999, msg("x"), nil, time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Append to unknown: got %v, want ErrNotFound", err)
		}

		// Copy and Move.
		s.SetFlags(ctx, in.ID, []uint32{2}, FlagsAdd, []string{"$Label"}, 0)
		cr, err := s.Copy(ctx, in.ID, []uint32{2, 5, 100}, arch.ID)
		if err != nil || !slices.Equal(cr.SrcUIDs, []uint32{2, 5}) || !slices.Equal(cr.DstUIDs, []uint32{2, 3}) || cr.UIDValidity != arch.UIDValidity {
			t.Fatalf("Copy: got %+v, %v", cr, err)
		}
		src, _ := s.Message(ctx, in.ID, 2)
		dst, _ := s.Message(ctx, arch.ID, 2)
		if !bytes.Equal(src.Raw, dst.Raw) || !slices.Equal(src.Flags, dst.Flags) || !src.InternalDate.Equal(dst.InternalDate) {
			t.Errorf("copy differs: %+v vs %+v", src.MessageMeta, dst.MessageMeta)
		}
		if kws, _ := s.keywords(ctx, arch.ID); !slices.Contains(kws, "$Label") {
			t.Errorf("Keywords after copy: got %v", kws)
		}
		before, _ := s.Status(ctx, in.ID)
		mr, err := s.Move(ctx, in.ID, []uint32{1, 2}, arch.ID)
		if err != nil || !slices.Equal(mr.SrcUIDs, []uint32{1, 2}) || !slices.Equal(mr.DstUIDs, []uint32{4, 5}) {
			t.Fatalf("Move: got %+v, %v", mr, err)
		}
		c, _ = s.ChangesSince(ctx, in.ID, before.HighestModSeq)
		if !slices.Equal(c.Expunged, []uint32{1, 2}) {
			t.Errorf("Move expunged: got %v, want [1 2]", c.Expunged)
		}
		if ms, _ := s.Messages(ctx, arch.ID); !slices.Equal(uidsOf(ms), []uint32{1, 2, 3, 4, 5}) {
			t.Errorf("Archive after move: got %v", uidsOf(ms))
		}
		other := setup(t, s, "binh")[0]
		if _, err := s.Copy(ctx, in.ID, []uint32{5}, inbox(t, s, other.ID).ID); !errors.Is(err, ErrInvalid) {
			t.Errorf("Copy across accounts: got %v, want ErrInvalid", err)
		}
		// Deleting the source keeps the copies' bytes.
		if err := s.DeleteMailbox(ctx, an.ID, "Archive"); err != nil {
			t.Fatal(err)
		}
		if m, err := s.Message(ctx, in.ID, 5); err != nil || len(m.Raw) == 0 {
			t.Errorf("message after deleting its copy's mailbox: %v", err)
		}
	})
}

func TestDeliverConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		an := setup(t, s, "an")[0]
		in := inbox(t, s, an.ID)
		// Two stores on one database: two processes.
		s2 := b.open(t)
		const workers, per = 16, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*per)
		uids := make(chan uint32, workers*per)
		for w := range workers {
			st := s
			if w%2 == 1 {
				st = s2
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					res, err := st.Deliver(ctx, &Delivery{Raw: msg(fmt.Sprint(w, "-", i)), Local: []LocalTarget{{AccountID: an.ID}}})
					if err != nil {
						errs <- err
						return
					}
					uids <- res.Local[0].UID
				}
			}()
		}
		wg.Wait()
		close(errs)
		close(uids)
		for err := range errs {
			t.Fatal(err)
		}
		seen := map[uint32]bool{}
		for u := range uids {
			if seen[u] {
				t.Errorf("UID %d handed out twice", u)
			}
			seen[u] = true
		}
		ms, err := s.Messages(ctx, in.ID)
		if err != nil || len(ms) != workers*per || len(seen) != workers*per {
			t.Errorf("stored %d (%v), distinct UIDs %d, want %d", len(ms), err, len(seen), workers*per)
		}
		st, _ := s.Status(ctx, in.ID)
		if st.UIDNext != workers*per+1 {
			t.Errorf("UIDNEXT: got %d, want %d", st.UIDNext, workers*per+1)
		}
	})
}

func TestGroupCommitIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, s *Store) {
		an := setup(t, s, "an")[0]
		in := inbox(t, s, an.ID)
		const n = 40
		var wg sync.WaitGroup
		results := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				acc := an.ID
				if i%10 == 3 {
					acc = 424242 // no such account: fails alone
				}
				_, results[i] = s.Deliver(ctx, &Delivery{Raw: msg(fmt.Sprint(i)), Local: []LocalTarget{{AccountID: acc}}})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range results {
			if i%10 == 3 {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("delivery %d: got %v, want ErrNotFound", i, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("delivery %d: got %v, want success", i, err)
			}
			ok++
		}
		if st, _ := s.Status(ctx, in.ID); int(st.Messages) != ok {
			t.Errorf("stored %d, want %d", st.Messages, ok)
		}
		// A failure inside the transaction (a NUL-free but oversized
		// keyword list is rejected up front; force a database error with a
		// mailbox deleted under the batch) must not fail the others.
		tmp, _ := s.CreateMailbox(ctx, an.ID, "Tmp", "")
		s.DeleteMailbox(ctx, an.ID, "Tmp")
		errs := make([]error, 10)
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 5 {
					_, errs[i] = s.Append(ctx, tmp.ID, msg("x"), nil, time.Time{})
					return
				}
				_, errs[i] = s.Append(ctx, in.ID, msg("y"), nil, time.Time{})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if (i == 5) != (err != nil) {
				t.Errorf("append %d: got %v", i, err)
			}
		}
	})
}

func TestDurability(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t, name)
			s, err := Open(ctx, b.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			an := setup(t, s, "an")[0]
			raw := msg("durable")
			res := deliver(t, s, raw, LocalTarget{AccountID: an.ID})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Deliver(ctx, &Delivery{Raw: raw, Local: []LocalTarget{{AccountID: an.ID}}}); err == nil {
				t.Errorf("Deliver after Close: got nil error")
			}
			s = b.open(t)
			m, err := s.Message(ctx, res.Local[0].MailboxID, res.Local[0].UID)
			if err != nil || !bytes.Equal(m.Raw, raw) {
				t.Fatalf("after reopen: got %v, %v", m, err)
			}
			if _, err := s.Authenticate(ctx, "an@example.gov.vn", "pw-an"); err != nil {
				t.Errorf("login after reopen: %v", err)
			}
			if name == "sqlite" {
				if _, err := os.Stat(filepath.Join(b.opts.DataDir, "congthu.db")); err != nil {
					t.Errorf("database file: %v", err)
				}
			}
			var version int
			s.r().Row(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&version)
			if ms := sqldb.Migrations(); version != ms[len(ms)-1].Version {
				t.Errorf("schema version: got %d, want %d", version, ms[len(ms)-1].Version)
			}
		})
	}
}

func TestOpenConcurrentMigrations(t *testing.T) {
	url := testenv.Postgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, Options{URL: url}, nil)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
}

func TestNormalizeAddress(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{" An@Example.GOV.vn ", "an@example.gov.vn", true},
		{"a.b+c@x.vn", "a.b+c@x.vn", true},
		{"a@b@x.vn", "", false},
		{"a b@x.vn", "", false},
		{"a@x .vn", "", false},
		{"a\t@x.vn", "", false},
		{".a@x.vn", "", false},
		{"a@", "", false},
		{"@x.vn", "", false},
		{"a@x..vn", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeAddress(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("got %q, %v, want %q (ok %v)", got, err, tt.want, tt.ok)
			}
		})
	}
}
