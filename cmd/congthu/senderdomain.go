package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"congthu/config"
	"congthu/store"
)

// senderDomain is the domain of notification mail's From (noreply@) and
// return path (bounce+<id>@): CONGTHU_API_SENDER_DOMAIN, else the first
// served domain. It must be served here, so that bounces come back to
// this MX, and have a DKIM key, so that the mail is signed (and passes
// DMARC at the large mailbox providers); otherwise the error says what
// to do.
func senderDomain(ctx context.Context, cfg *config.Config, st *store.Store) (string, error) {
	const fix = "add it with `congthu domain add DOMAIN`, set CONGTHU_API_SENDER_DOMAIN to a served domain, or turn the API off (CONGTHU_HTTP_ADDR=off)"
	name := strings.ToLower(strings.TrimSuffix(cfg.API.SenderDomain, "."))
	var d *store.Domain
	var err error
	if name == "" {
		d, err = st.FirstDomain(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("api.sender_domain (CONGTHU_API_SENDER_DOMAIN): notification mail is sent from the first served domain, and no domain is served yet: %s", fix)
		}
	} else {
		d, err = st.Domain(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("api.sender_domain (CONGTHU_API_SENDER_DOMAIN): %s is not served here, so bounces to its return path would not come back: %s", name, fix)
		}
	}
	if err != nil {
		return "", err
	}
	if d.DKIMSelector == "" || len(d.DKIMPrivateKey) == 0 {
		return "", fmt.Errorf("api.sender_domain (CONGTHU_API_SENDER_DOMAIN): %s has no DKIM key, so notification mail would go out unsigned: remove and add the domain again (`congthu domain add` makes a key), or choose another", d.Name)
	}
	return d.Name, nil
}

// checkSenderDomain is senderDomain for checkconfig: only when the API
// is served (Redis and the HTTP listener configured), without creating a
// SQLite store that does not exist yet.
func checkSenderDomain(ctx context.Context, c *cli, cfg *config.Config) (string, error) {
	if cfg.RedisURL == "" || !config.Enabled(cfg.Listen.HTTP) {
		return "", nil
	}
	if u := cfg.DatabaseURL; u == "" || strings.HasPrefix(u, "sqlite:") {
		path := strings.TrimPrefix(u, "sqlite:")
		if path == "" {
			path = filepath.Join(cfg.DataDir, "congthu.db")
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("api.sender_domain (CONGTHU_API_SENDER_DOMAIN): no store at %s, so no domain is served yet: add one with `congthu domain add DOMAIN`, or turn the API off (CONGTHU_HTTP_ADDR=off)", path)
		}
	}
	st, _, err := c.openStore(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	return senderDomain(ctx, cfg, st)
}
