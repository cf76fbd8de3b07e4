package zalochan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"congthu/notify/notifydb"
	"congthu/zns"
)

// TokenStore keeps the app's token pair and the refresh lease;
// *notifydb.Store satisfies it.
type TokenStore interface {
	ZNSToken(ctx context.Context, appID string) (*notifydb.ZNSToken, error)
	AcquireZNSLease(ctx context.Context, appID, owner string, now, until time.Time) (*notifydb.ZNSToken, bool, error)
	SaveZNSToken(ctx context.Context, owner string, t notifydb.ZNSToken) error
	ReleaseZNSLease(ctx context.Context, appID, owner string) error
}

// Refresher exchanges a refresh token; *zns.Client satisfies it.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string, now time.Time) (zns.Token, error)
}

// ErrReauthorise: Zalo refused the newest refresh token (or none was ever
// configured): an operator must authorise the app again and set
// CONGTHU_ZNS_REFRESH_TOKEN.
var ErrReauthorise = errors.New("zalochan: the Zalo refresh token was refused or is missing; authorise the app again")

// TokenOptions configure Tokens.
type TokenOptions struct {
	AppID string
	// Initial is the refresh token an operator configured; it is used
	// only while the store holds none (after that, the store's is newer).
	Initial string
	// Ahead is how long before expiry the access token is refreshed;
	// default 1 h.
	Ahead time.Duration
	// Lease bounds one refresh (Zalo's answer and the store's commit);
	// default 30 s.
	Lease time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Tokens gives the Zalo channel a usable access token. The pair lives in
// the store, which is the truth across restarts and nodes; this keeps a
// copy. Refreshing follows Zalo's rule that a refresh token is spent once
// used:
//
//  1. Take the store's lease (one node at a time; another node waits and
//     reads what the holder stored).
//  2. Read the stored pair again: if another node refreshed meanwhile, use
//     that.
//  3. Exchange the stored refresh token (or Initial, while none is
//     stored), store the new pair, and only then use its access token; a
//     failing store is tried again for as long as Lease, since the new
//     refresh token lives nowhere else.
//
// A refresh happens Ahead of expiry and when Zalo refuses the access token
// (-124, through Invalid).
type Tokens struct {
	o     TokenOptions
	st    TokenStore
	z     Refresher
	owner string

	mu  sync.Mutex // one refresh at a time in this process; guards cur
	cur *notifydb.ZNSToken
}

// NewTokens returns the token keeper of o.AppID.
func NewTokens(st TokenStore, z Refresher, o TokenOptions) *Tokens {
	if o.Ahead <= 0 {
		o.Ahead = time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	rand.Read(b)
	return &Tokens{o: o, st: st, z: z, owner: hex.EncodeToString(b)}
}

func (t *Tokens) fresh(tok *notifydb.ZNSToken, bad string) bool {
	return tok != nil && tok.Access != "" && tok.Access != bad && t.o.Now().Add(t.o.Ahead).Before(tok.Expires)
}

// Access returns an access token that is not due for refresh.
func (t *Tokens) Access(ctx context.Context) (string, error) {
	return t.access(ctx, "")
}

// Invalid is Access after Zalo refused access token bad: unless the store
// already holds another, it refreshes.
func (t *Tokens) Invalid(ctx context.Context, bad string) (string, error) {
	return t.access(ctx, bad)
}

func (t *Tokens) access(ctx context.Context, bad string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fresh(t.cur, bad) {
		return t.cur.Access, nil
	}
	if tok, err := t.st.ZNSToken(ctx, t.o.AppID); err == nil && t.fresh(tok, bad) {
		t.cur = tok
		return tok.Access, nil
	} else if err != nil && !errors.Is(err, notifydb.ErrNotFound) {
		return "", err
	}
	tok, err := t.refresh(ctx, bad)
	if err != nil {
		return "", err
	}
	t.cur = tok
	return tok.Access, nil
}

// refresh runs the steps in Tokens' doc; t.mu is held.
func (t *Tokens) refresh(ctx context.Context, bad string) (*notifydb.ZNSToken, error) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		now := t.o.Now()
		tok, took, err := t.st.AcquireZNSLease(ctx, t.o.AppID, t.owner, now, now.Add(t.o.Lease))
		if err != nil {
			return nil, err
		}
		if t.fresh(tok, bad) {
			if took {
				t.release(ctx)
			}
			return tok, nil // another node refreshed
		}
		if !took {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		spend := t.o.Initial
		if tok != nil {
			spend = tok.Refresh
		}
		if spend == "" {
			t.release(ctx)
			return nil, ErrReauthorise
		}
		nt, err := t.z.Refresh(ctx, spend, now)
		if err != nil {
			t.release(ctx)
			var ze *zns.Error
			if errors.As(err, &ze) && ze.Class == zns.Permanent {
				t.o.Log.Error("zalo: refresh token refused; authorise the app again", "err", err)
				return nil, fmt.Errorf("%w: %w", ErrReauthorise, err)
			}
			return nil, err
		}
		saved := notifydb.ZNSToken{AppID: t.o.AppID, Access: nt.Access, Refresh: nt.Refresh, Expires: nt.Expires, RefreshedAt: now}
		if err := t.save(ctx, saved); err != nil {
			// The new pair is lost: the spent refresh token cannot
			// be used again.
			t.o.Log.Error("zalo: a refreshed token pair could not be stored; authorise the app again", "err", err)
			return nil, fmt.Errorf("%w: %w", ErrReauthorise, err)
		}
		t.o.Log.Info("zalo: access token refreshed", "expires", nt.Expires)
		return &saved, nil
	}
}

// save stores a new pair, trying again for as long as the lease, even
// when ctx ends: the pair is worth more than the caller's deadline.
func (t *Tokens) save(ctx context.Context, tok notifydb.ZNSToken) error {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(t.o.Lease)
	for {
		err := t.st.SaveZNSToken(ctx, t.owner, tok)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		t.o.Log.Warn("zalo: storing the refreshed token failed; trying again", "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func (t *Tokens) release(ctx context.Context) {
	if err := t.st.ReleaseZNSLease(context.WithoutCancel(ctx), t.o.AppID, t.owner); err != nil {
		t.o.Log.Warn("zalo: releasing the refresh lease failed; it expires by itself", "err", err)
	}
}
