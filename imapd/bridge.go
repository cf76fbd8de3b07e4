package imapd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// notice is one mailbox change, as published on the Redis channel:
// "<node> <mailboxID> <modseq>".
type notice struct {
	mailboxID, modseq int64
}

func formatNotice(node string, n notice) string {
	return node + " " + strconv.FormatInt(n.mailboxID, 10) + " " + strconv.FormatInt(n.modseq, 10)
}

func parseNotice(s string) (node string, n notice, err error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return "", n, fmt.Errorf("imapd: bad change notice %q", s)
	}
	if n.mailboxID, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", n, fmt.Errorf("imapd: bad change notice %q: %w", s, err)
	}
	if n.modseq, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return "", n, fmt.Errorf("imapd: bad change notice %q: %w", s, err)
	}
	return f[0], n, nil
}

// startBridge starts the publisher and the subscriber. Both stop when the
// server's context is cancelled (Close) and are waited for by Close.
func (s *Server) startBridge() {
	s.goBackground("publish", s.publishLoop)
	s.goBackground("subscribe", s.subscribeLoop)
}

// goBackground runs f in a goroutine owned by the server: Close cancels
// its context and waits for it; a panic is logged and f is restarted after
// a pause, so the bridge outlives a bug in one message.
func (s *Server) goBackground(name string, f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for s.ctx.Err() == nil {
			func() {
				defer func() {
					if v := recover(); v != nil {
						s.log.Error("imapd: panic in redis bridge", "loop", name, "panic", v)
					}
				}()
				f(s.ctx)
			}()
			sleep(s.ctx, time.Second)
		}
	}()
}

// publishLoop sends queued notices to Redis. A notice that cannot be sent
// is dropped after a short retry: the other nodes' IDLE poll (and every
// command, which reads the change log) covers it.
func (s *Server) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.pub:
			msg := formatNotice(s.nodeID, n)
			for attempt := 0; ; attempt++ {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := s.opts.Redis.Publish(pctx, s.opts.Channel, msg).Err()
				cancel()
				if err == nil || ctx.Err() != nil {
					break
				}
				if attempt == 2 {
					s.log.Warn("imapd: publish mailbox change", "mailbox", n.mailboxID, "err", err)
					break
				}
				sleep(ctx, 100*time.Millisecond<<attempt)
			}
		}
	}
}

// subscribeLoop receives other nodes' notices and wakes local sessions.
// go-redis re-subscribes after a dropped connection on its own; when
// Receive fails outright we start over with a backoff.
func (s *Server) subscribeLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ps := s.opts.Redis.Subscribe(ctx, s.opts.Channel)
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("imapd: subscribe to mailbox changes", "channel", s.opts.Channel, "err", err)
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
				node, n, err := parseNotice(m.Payload)
				if err != nil {
					s.log.Warn("imapd: mailbox change notice", "err", err)
					continue
				}
				if node != s.nodeID {
					s.wake(n.mailboxID, n.modseq)
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
