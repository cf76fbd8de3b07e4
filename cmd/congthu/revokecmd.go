package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"congthu/revoke"
	"congthu/store"
)

// revokeSessions ends the open SMTP and IMAP sessions of the account at
// address, whose password was just changed or which was just disabled: the
// servers see the account's new credential stamp in the store within
// revoke.DefaultPoll, and at once through Redis when it is configured.
func revokeSessions(ctx context.Context, c *cli, st *store.Store, address string) {
	a, err := st.Account(ctx, address)
	if err != nil {
		// Removed meanwhile: the servers' store check ends its sessions.
		return
	}
	announceRevocation(ctx, c, revoke.Notice{AccountID: a.ID, Stamp: a.CredentialStamp()})
}

// announceRevocation publishes n when Redis is configured. A failure is
// only a warning: the store already holds the change, and every server
// reads it within revoke.DefaultPoll.
func announceRevocation(ctx context.Context, c *cli, n revoke.Notice) {
	cfg, err := c.loadConfig()
	if err != nil || cfg.RedisURL == "" {
		return
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err == nil {
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		err = revoke.Publish(pctx, rdb, revoke.ChannelFor(opt.DB), n)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "congthu: warning: could not tell the servers through Redis (%v); its open sessions end within %v instead\n", err, revoke.DefaultPoll)
	}
}
