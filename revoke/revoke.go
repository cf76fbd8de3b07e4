// Package revoke ends the open SMTP and IMAP sessions of an account whose
// credentials were revoked — its password changed, the account disabled or
// removed (congthu user passwd, disable, remove) — on every node, within
// seconds.
//
// Each node keeps a Registry of its logged-in sessions by account, with the
// account's credential stamp at login (store.Account.CredentialStamp, which
// grows with every password change and every disable). Two paths end them:
//
//   - The command that revokes publishes "<account ID> <new stamp>" on a
//     Redis channel (Publish); every node's Registry subscribes and ends at
//     once the sessions of that account that logged in with an older stamp
//     (a removal publishes the largest stamp: all of them).
//   - Without Redis, or when a notice is lost, every Registry reads the
//     current stamps of the accounts it has sessions for every Poll (2 s by
//     default; one indexed query per 500 accounts, none while no one is
//     logged in) and ends the sessions whose account is gone, disabled, or
//     has a newer stamp.
//
// Sessions decide how to end (SMTP answers 421 4.7.0 and closes, letting a
// message being committed finish; IMAP sends * BYE and closes): Add takes
// their end function.
package revoke

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis pub/sub channel of revocation notices. Use
// ChannelFor: pub/sub ignores the database number, so two deployments on
// one Redis server (databases apart) would end each other's sessions.
const DefaultChannel = "congthu:account-revoked"

// ChannelFor is the channel of the deployment whose data is in Redis
// database db.
func ChannelFor(db int) string { return DefaultChannel + ":" + strconv.Itoa(db) }

// DefaultPoll is how often a Registry reads the stamps of the accounts
// with open sessions.
const DefaultPoll = 2 * time.Second

// Removed is the stamp published for a removed account: every session of
// it ends.
const Removed = math.MaxInt64

// Store reads the current credential stamps; *store.Store implements it.
type Store interface {
	// CredentialStamps returns the stamps of the existing, enabled
	// accounts among ids.
	CredentialStamps(ctx context.Context, ids []int64) (map[int64]int64, error)
}

// Options configures a Registry. Store is required.
type Options struct {
	Store Store
	// Redis, if set, carries revocation notices from the admin commands
	// to every node at once.
	Redis redis.UniversalClient
	// Channel is the Redis channel (default DefaultChannel; see
	// ChannelFor).
	Channel string
	// Poll is how often the store is read (default DefaultPoll).
	Poll time.Duration
	// Log receives one line per ended session and the store's or
	// Redis's troubles.
	Log *slog.Logger
}

// Registry tracks this node's logged-in sessions by account. It is safe
// for concurrent use.
type Registry struct {
	opts Options

	mu       sync.Mutex
	next     uint64
	sessions map[int64]map[uint64]*entry // account ID -> session
}

type entry struct {
	stamp int64
	end   func()
	ended bool
}

// New returns a Registry. Run it with Run.
func New(opts Options) *Registry {
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Registry{opts: opts, sessions: map[int64]map[uint64]*entry{}}
}

// Add registers a session of accountID that logged in with the account
// read at stamp (store.Account.CredentialStamp). end is called once, on a
// goroutine of its own, when the account's credentials are revoked; it
// must make the session end. The returned function removes the session
// (call it when the session ends, for whatever reason).
func (r *Registry) Add(accountID, stamp int64, end func()) (remove func()) {
	r.mu.Lock()
	r.next++
	id := r.next
	m := r.sessions[accountID]
	if m == nil {
		m = map[uint64]*entry{}
		r.sessions[accountID] = m
	}
	m[id] = &entry{stamp: stamp, end: end}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if m := r.sessions[accountID]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(r.sessions, accountID)
			}
		}
	}
}

// Len returns the number of registered sessions (for tests and metrics).
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.sessions {
		n += len(m)
	}
	return n
}

// Revoke ends this node's sessions of accountID that logged in with a
// stamp below stamp (Removed: all of them). It returns how many it ended.
func (r *Registry) Revoke(accountID, stamp int64, reason string) int {
	r.mu.Lock()
	var ends []func()
	for _, e := range r.sessions[accountID] {
		if !e.ended && e.stamp < stamp {
			e.ended = true
			ends = append(ends, e.end)
		}
	}
	r.mu.Unlock()
	for _, end := range ends {
		go r.call(end)
	}
	if len(ends) > 0 {
		r.opts.Log.Info("sessions ended: credentials revoked", "account_id", accountID, "sessions", len(ends), "by", reason)
	}
	return len(ends)
}

// call runs a session's end function, which must not take the Registry
// down with it.
func (r *Registry) call(end func()) {
	defer func() {
		if v := recover(); v != nil {
			r.opts.Log.Error("revoke: panic ending a session", "panic", v)
		}
	}()
	end()
}

// Run polls the store and, with Redis, listens for notices until ctx ends.
// It returns nil then.
func (r *Registry) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if r.opts.Redis != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, "subscribe", r.subscribe)
		}()
	}
	r.loop(ctx, "poll", r.pollLoop)
	wg.Wait()
	return nil
}

// loop runs f until ctx ends, restarting it a second after a panic.
func (r *Registry) loop(ctx context.Context, name string, f func(context.Context)) {
	for ctx.Err() == nil {
		func() {
			defer func() {
				if v := recover(); v != nil {
					r.opts.Log.Error("revoke: panic", "loop", name, "panic", v)
				}
			}()
			f(ctx)
		}()
		sleep(ctx, time.Second)
	}
}

func (r *Registry) pollLoop(ctx context.Context) {
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Poll(ctx); err != nil && ctx.Err() == nil {
			r.opts.Log.Warn("revoke: read credential stamps", "err", err)
		}
	}
}

// Poll reads the current stamps of the accounts with sessions here and
// ends the sessions whose account is gone, disabled or newer. Run calls
// it every Options.Poll.
func (r *Registry) Poll(ctx context.Context) error {
	r.mu.Lock()
	ids := make([]int64, 0, len(r.sessions))
	for id := range r.sessions {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	stamps, err := r.opts.Store.CredentialStamps(qctx, ids)
	cancel()
	if err != nil {
		return err
	}
	for _, id := range ids {
		stamp, ok := stamps[id]
		if !ok {
			stamp = Removed
		}
		r.Revoke(id, stamp, "store")
	}
	return nil
}

// Notice is one revocation, as published: sessions of AccountID that
// logged in with a stamp below Stamp end.
type Notice struct {
	AccountID int64
	Stamp     int64
}

func (n Notice) String() string {
	return strconv.FormatInt(n.AccountID, 10) + " " + strconv.FormatInt(n.Stamp, 10)
}

// ParseNotice reads a notice as String writes it.
func ParseNotice(s string) (Notice, error) {
	a, b, ok := strings.Cut(s, " ")
	var n Notice
	var err1, err2 error
	n.AccountID, err1 = strconv.ParseInt(a, 10, 64)
	n.Stamp, err2 = strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return Notice{}, fmt.Errorf("revoke: bad notice %q", s)
	}
	return n, nil
}

// Publish tells every node's Registry on channel ("" for DefaultChannel)
// that n's account was revoked. The store has the change already; a
// notice that does not arrive only waits for the next poll.
func Publish(ctx context.Context, rdb redis.UniversalClient, channel string, n Notice) error {
	if channel == "" {
		channel = DefaultChannel
	}
	if err := rdb.Publish(ctx, channel, n.String()).Err(); err != nil {
		return fmt.Errorf("revoke: publish: %w", err)
	}
	return nil
}

// subscribe receives notices until ctx ends or the subscription fails.
// go-redis re-subscribes after a dropped connection on its own.
func (r *Registry) subscribe(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ps := r.opts.Redis.Subscribe(ctx, r.opts.Channel)
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			if ctx.Err() != nil {
				return
			}
			r.opts.Log.Warn("revoke: subscribe", "channel", r.opts.Channel, "err", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		ch := ps.Channel()
	recv:
		for {
			select {
			case <-ctx.Done():
				break recv
			case m, ok := <-ch:
				if !ok {
					break recv
				}
				n, err := ParseNotice(m.Payload)
				if err != nil {
					r.opts.Log.Warn("revoke: notice", "err", err)
					continue
				}
				r.Revoke(n.AccountID, n.Stamp, "redis")
			}
		}
		ps.Close()
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
