package zalochan_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"congthu/internal/testenv"
	"congthu/notify/notifydb"
	"congthu/notify/zalochan"
	"congthu/store"
	"congthu/zns"
	"congthu/zns/znstest"
)

var ctx = context.Background()

// openStores opens the notification store twice on one database of the
// backend: two nodes.
func openStores(t *testing.T, backend string) (*notifydb.Store, func() *notifydb.Store) {
	t.Helper()
	opts := store.Options{DataDir: t.TempDir()}
	if backend == "postgres" {
		opts = store.Options{URL: testenv.Postgres(t)}
	}
	open := func() *notifydb.Store {
		ms, err := store.Open(ctx, opts, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ms.Close() })
		return notifydb.New(ms)
	}
	return open(), open
}

// TestTokensAcrossNodes: two nodes sharing a database ask for tokens at
// once: Zalo sees exactly one refresh, and one more when the access token
// is refused; a node started afresh with the operator's first (spent)
// refresh token uses the stored pair instead.
func TestTokensAcrossNodes(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			z := znstest.New(znstest.Options{AppID: "app", AppSecret: "sec", OASecret: "oa", RefreshToken: "r0"})
			t.Cleanup(z.Close)
			c := &zns.Client{APIURL: z.URL(), OAuthURL: z.URL(), AppID: "app", AppSecret: "sec"}
			stA, open := openStores(t, backend)
			var stB *notifydb.Store
			if backend == "sqlite" {
				stB = stA // one SQLite file has one writer process
			} else {
				stB = open()
			}
			o := zalochan.TokenOptions{AppID: "app", Initial: "r0"}
			nodes := []*zalochan.Tokens{zalochan.NewTokens(stA, c, o), zalochan.NewTokens(stB, c, o)}

			all := func(f func(tk *zalochan.Tokens) (string, error)) map[string]bool {
				var mu sync.Mutex
				got := map[string]bool{}
				var wg sync.WaitGroup
				for i := 0; i < 10; i++ {
					for _, n := range nodes {
						wg.Add(1)
						go func() {
							defer wg.Done()
							a, err := f(n)
							if err != nil {
								t.Error(err)
							}
							mu.Lock()
							got[a] = true
							mu.Unlock()
						}()
					}
				}
				wg.Wait()
				return got
			}
			first := all(func(tk *zalochan.Tokens) (string, error) { return tk.Access(ctx) })
			if ok, refused := z.Refreshes(); ok != 1 || refused != 0 || len(first) != 1 {
				t.Fatalf("first: %d refreshes, %d refused, tokens %v; want 1, 0, one token", ok, refused, first)
			}
			var tok string
			for a := range first {
				tok = a
			}
			if _, err := c.Send(ctx, tok, zns.Message{Phone: "+84912345678", TemplateID: "t"}); err != nil {
				t.Fatalf("send with the token: %v", err)
			}

			z.ExpireAccess()
			second := all(func(tk *zalochan.Tokens) (string, error) { return tk.Invalid(ctx, tok) })
			if ok, refused := z.Refreshes(); ok != 2 || refused != 0 || len(second) != 1 || second[tok] {
				t.Fatalf("after -124: %d refreshes, %d refused, tokens %v; want 2, 0, one new token", ok, refused, second)
			}

			// A restart: the configured refresh token is spent, the
			// stored pair is used.
			restarted := zalochan.NewTokens(stB, c, o)
			a, err := restarted.Access(ctx)
			if err != nil || !second[a] {
				t.Errorf("after a restart: %q %v", a, err)
			}
			var newTok string
			for x := range second {
				newTok = x
			}
			z.ExpireAccess()
			if _, err := restarted.Invalid(ctx, newTok); err != nil {
				t.Errorf("refresh after a restart: %v", err)
			}
			if ok, refused := z.Refreshes(); ok != 3 || refused != 0 {
				t.Errorf("%d refreshes, %d refused; want 3, 0", ok, refused)
			}
		})
	}
}

// TestTokensAhead: a token within Ahead of its expiry is refreshed before
// Zalo refuses it.
func TestTokensAhead(t *testing.T) {
	z := znstest.New(znstest.Options{AppID: "app", AppSecret: "sec", OASecret: "oa", RefreshToken: "r0"})
	t.Cleanup(z.Close)
	c := &zns.Client{APIURL: z.URL(), OAuthURL: z.URL(), AppID: "app", AppSecret: "sec"}
	st, _ := openStores(t, "sqlite")
	now := time.Now()
	clock := func() time.Time { return now }
	tk := zalochan.NewTokens(st, c, zalochan.TokenOptions{AppID: "app", Initial: "r0", Now: clock})
	a1, err := tk.Access(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(23*time.Hour + 30*time.Minute) // 25 h tokens: 1.5 h left
	if a, _ := tk.Access(ctx); a != a1 {
		t.Error("refreshed with 1.5 h left")
	}
	now = now.Add(time.Hour) // 30 min left
	a2, err := tk.Access(ctx)
	if err != nil || a2 == a1 {
		t.Errorf("not refreshed with 30 min left: %v", err)
	}
	if ok, _ := z.Refreshes(); ok != 2 {
		t.Errorf("%d refreshes, want 2", ok)
	}
}

// TestTokensRefused: a refused refresh token (spent elsewhere, or never
// configured) asks for the operator.
func TestTokensRefused(t *testing.T) {
	z := znstest.New(znstest.Options{AppID: "app", AppSecret: "sec", OASecret: "oa", RefreshToken: "r0"})
	t.Cleanup(z.Close)
	c := &zns.Client{APIURL: z.URL(), OAuthURL: z.URL(), AppID: "app", AppSecret: "sec"}
	st, _ := openStores(t, "sqlite")
	if _, err := zalochan.NewTokens(st, c, zalochan.TokenOptions{AppID: "app", Initial: "wrong"}).Access(ctx); !errors.Is(err, zalochan.ErrReauthorise) {
		t.Errorf("wrong refresh token: %v", err)
	}
	if _, err := zalochan.NewTokens(st, c, zalochan.TokenOptions{AppID: "app"}).Access(ctx); !errors.Is(err, zalochan.ErrReauthorise) {
		t.Errorf("no refresh token: %v", err)
	}
	// The lease was released each time: the right token works at once.
	if _, err := zalochan.NewTokens(st, c, zalochan.TokenOptions{AppID: "app", Initial: "r0"}).Access(ctx); err != nil {
		t.Errorf("right refresh token: %v", err)
	}
}
