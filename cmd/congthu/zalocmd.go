package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"congthu/config"
	"congthu/notify/notifydb"
	"congthu/notify/zalochan"
	"congthu/phone"
	"congthu/zns"
)

// zaloCommand is "congthu zalo": the ZNS account's token, a test message.
func zaloCommand() *command {
	return &command{
		name:    "zalo",
		summary: "check the Zalo (ZNS) account: its token, a test message",
		subs:    []*command{zaloStatusCommand(), zaloSendCommand()},
	}
}

// zaloConfigured checks the configuration names a Zalo app before a
// command opens the store.
func zaloConfigured(c *cli) error {
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	if cfg.Zalo.AppID == "" {
		return errors.New("zalo is not configured: set zalo.app_id (CONGTHU_ZNS_APP_ID) and its secrets")
	}
	return nil
}

// zaloClient is the ZNS client and token keeper of the configuration.
func zaloClient(cfg *config.Config, st *notifydb.Store, log *slog.Logger) (*zns.Client, *zalochan.Tokens, error) {
	z := cfg.Zalo
	if z.AppID == "" {
		return nil, nil, errors.New("zalo is not configured: set zalo.app_id (CONGTHU_ZNS_APP_ID) and its secrets")
	}
	c := &zns.Client{APIURL: z.APIURL, OAuthURL: z.OAuthURL, AppID: z.AppID, AppSecret: z.AppSecret,
		HTTP: zns.NewHTTPClient(zaloConcurrency)}
	return c, zalochan.NewTokens(st, c, zalochan.TokenOptions{AppID: z.AppID, Initial: z.RefreshToken, Log: log}), nil
}

func zaloStatusCommand() *command {
	return &command{
		name:    "status",
		summary: "print the stored access token's age and expiry",
		help: `Reads the token pair the store holds for zalo.app_id: when it was last
refreshed and when its access token expires. Before the first refresh
(the first message, or "zalo send") the store holds none, and the
configured refresh token is used then. Changes nothing.`,
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("zalo status takes no arguments")
			}
			if err := zaloConfigured(c); err != nil {
				return err
			}
			st, cfg, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			tok, err := notifydb.New(st).ZNSToken(ctx, cfg.Zalo.AppID)
			if errors.Is(err, notifydb.ErrNotFound) {
				fmt.Fprintf(c.stdout, "app %s: no token stored yet; the configured refresh token will be used first\n", cfg.Zalo.AppID)
				return nil
			} else if err != nil {
				return err
			}
			now := time.Now()
			state := "valid"
			if !now.Before(tok.Expires) {
				state = "expired (refreshed at the next use)"
			}
			fmt.Fprintf(c.stdout, "app %s\n  refreshed  %s (%s ago)\n  expires    %s (%s)\n", cfg.Zalo.AppID,
				tok.RefreshedAt.UTC().Format(time.RFC3339), now.Sub(tok.RefreshedAt).Round(time.Second),
				tok.Expires.UTC().Format(time.RFC3339), state)
			return nil
		},
	}
}

func zaloSendCommand() *command {
	var to, tmpl, data *string
	return &command{
		name: "send", args: "--to NUMBER --template ID --data FILE",
		summary: "send one ZNS template message, to test the route",
		help: `Sends template ID (Zalo's template id) with the parameters in FILE (a
JSON object of strings; "-" for standard input) to NUMBER (any Vietnamese
form), refreshing the access token first when it is due, and prints
Zalo's message id and quota. No notification is recorded. Exit status 1
with Zalo's error code and what it means (temporary, permanent, not on
Zalo, token refused).`,
		flags: func(fs *flag.FlagSet) {
			to = fs.String("to", "", "recipient phone number")
			tmpl = fs.String("template", "", "ZNS template id")
			data = fs.String("data", "", "JSON file of template parameters, - for standard input")
		},
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 || *to == "" || *tmpl == "" || *data == "" {
				return usagef("zalo send: want --to NUMBER --template ID --data FILE")
			}
			dest, err := phone.Parse(*to)
			if err != nil {
				return usagef("zalo send: --to: %v", err)
			}
			// A message's parameters are a few hundred bytes; more than
			// 64 KiB is not a parameter file.
			const maxData = 64 << 10
			var in io.Reader = c.stdin
			if *data != "-" {
				f, err := os.Open(*data)
				if err != nil {
					return fmt.Errorf("zalo send: --data: %w", err)
				}
				defer f.Close()
				in = f
			}
			raw, err := io.ReadAll(io.LimitReader(in, maxData+1))
			if err != nil {
				return fmt.Errorf("zalo send: --data: %w", err)
			}
			if len(raw) > maxData {
				return usagef("zalo send: --data: more than 64 KiB")
			}
			params := map[string]string{}
			if err := json.Unmarshal(raw, &params); err != nil {
				return usagef("zalo send: --data: want a JSON object of strings: %v", err)
			}
			if err := zaloConfigured(c); err != nil {
				return err
			}
			st, cfg, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			client, tokens, err := zaloClient(cfg, notifydb.New(st), slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			access, err := tokens.Access(ctx)
			if err != nil {
				return fmt.Errorf("zalo send: access token: %w", err)
			}
			m := zns.Message{Phone: dest, TemplateID: *tmpl, Data: params, TrackingID: "cli-" + time.Now().UTC().Format("20060102T150405")}
			res, err := client.Send(ctx, access, m)
			var ze *zns.Error
			if errors.As(err, &ze) && ze.Class == zns.TokenInvalid {
				if access, err = tokens.Invalid(ctx, access); err == nil {
					res, err = client.Send(ctx, access, m)
				}
			}
			if err != nil {
				return fmt.Errorf("zalo send: %w", err)
			}
			fmt.Fprintf(c.stdout, "sent to %s: msg_id %s\n", phone.Mask(dest), res.MsgID)
			if res.Quota != nil {
				fmt.Fprintf(c.stdout, "quota: %d of %d left today\n", res.Quota.Remaining, res.Quota.Daily)
			}
			return nil
		},
	}
}
