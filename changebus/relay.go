package changebus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultChannel is the Redis pub/sub channel of mailbox change notices.
const DefaultChannel = "congthu:mailbox-changes"

// A notice on the channel is "<node> <mailboxID> <modseq>": the node that
// published it (a random id per Relay, so a node skips its own), the
// mailbox and its new modseq. The account is not sent; a change from
// another node reaches the subscribers with account 0.

func formatNotice(node string, mailboxID, modseq int64) string {
	return node + " " + strconv.FormatInt(mailboxID, 10) + " " + strconv.FormatInt(modseq, 10)
}

func parseNotice(s string) (node string, mailboxID, modseq int64, err error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return "", 0, 0, fmt.Errorf("changebus: bad change notice %q", s)
	}
	if mailboxID, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", 0, 0, fmt.Errorf("changebus: bad change notice %q: %w", s, err)
	}
	if modseq, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return "", 0, 0, fmt.Errorf("changebus: bad change notice %q: %w", s, err)
	}
	return f[0], mailboxID, modseq, nil
}

// Relay carries a bus's changes between the nodes that share one
// database, through Redis pub/sub: the changes published on this node's
// bus go to the channel, and the other nodes' come back onto the bus
// (PublishRemote), so subscribers see every node's changes. Delivery is
// best effort: a notice that cannot be sent after a short retry is dropped
// (IMAP's IDLE poll and every command read the change log, so a lost
// notice is a delay, never a missed change).
type Relay struct {
	bus     *Bus
	rdb     redis.UniversalClient
	channel string
	node    string
	log     *slog.Logger
	pub     chan [2]int64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartRelay starts relaying bus's changes on channel ("" for
// DefaultChannel) until Close. log must not be nil.
func StartRelay(bus *Bus, rdb redis.UniversalClient, channel string, log *slog.Logger) *Relay {
	if channel == "" {
		channel = DefaultChannel
	}
	b := make([]byte, 8)
	rand.Read(b)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{bus: bus, rdb: rdb, channel: channel, node: hex.EncodeToString(b), log: log,
		pub: make(chan [2]int64, 1024), cancel: cancel}
	bus.subscribeLocal(func(_, mailboxID, modseq int64) {
		select {
		case r.pub <- [2]int64{mailboxID, modseq}:
		default:
			// The publisher is behind (Redis down?); the other nodes'
			// IDLE poll picks the change up.
		}
	})
	r.loop(ctx, "publish", r.publishLoop)
	r.loop(ctx, "subscribe", r.subscribeLoop)
	return r
}

// Close stops the relay and waits for its goroutines. Changes published
// after it are no longer sent.
func (r *Relay) Close() {
	r.cancel()
	r.wg.Wait()
}

// loop runs f until ctx is done: a panic is logged and f is restarted
// after a pause, so the relay outlives a bug in one message.
func (r *Relay) loop(ctx context.Context, name string, f func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for ctx.Err() == nil {
			func() {
				defer func() {
					if v := recover(); v != nil {
						r.log.Error("changebus: panic in redis relay", "loop", name, "panic", v, "stack", string(debug.Stack()))
					}
				}()
				f(ctx)
			}()
			sleep(ctx, time.Second)
		}
	}()
}

// publishLoop sends this node's changes to Redis, retrying twice.
func (r *Relay) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-r.pub:
			msg := formatNotice(r.node, c[0], c[1])
			for attempt := 0; ; attempt++ {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := r.rdb.Publish(pctx, r.channel, msg).Err()
				cancel()
				if err == nil || ctx.Err() != nil {
					break
				}
				if attempt == 2 {
					r.log.Warn("changebus: publish mailbox change", "mailbox", c[0], "err", err)
					break
				}
				sleep(ctx, 100*time.Millisecond<<attempt)
			}
		}
	}
}

// subscribeLoop puts the other nodes' changes on the bus. go-redis
// re-subscribes after a dropped connection on its own; when Receive fails
// outright it starts over with a backoff.
func (r *Relay) subscribeLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ps := r.rdb.Subscribe(ctx, r.channel)
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("changebus: subscribe to mailbox changes", "channel", r.channel, "err", err)
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
				node, mailboxID, modseq, err := parseNotice(m.Payload)
				if err != nil {
					r.log.Warn("changebus: mailbox change notice", "err", err)
					continue
				}
				if node != r.node {
					r.bus.PublishRemote(0, mailboxID, modseq)
				}
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
