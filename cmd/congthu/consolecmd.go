package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"congthu/internal/totp"
	"congthu/store"
)

// roleCommand is "user role": an account's role in the operator console.
func roleCommand() *command {
	return &command{
		name: "role", args: "ADDRESS [admin|desk|none]", summary: "show or set an account's role in the operator console",
		help: `The operator console (admin.addr, CONGTHU_ADMIN_ADDR) lets accounts with a
role sign in with their mail password (and their TOTP code, see user totp):

  admin  every page: the dashboard, accounts, queues and dead letters,
         services and API keys, templates, domains, the audit log; and the
         desk's lookup.
  desk   the one-stop-shop desk: looks notifications up by dossier code,
         phone number or email address, opens their timelines and sends a
         notification again. Every other page answers 403.
  none   no console access (the default); ends the account's console
         sessions.

Without a role argument it prints the account's role.`,
		run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("user role: want ADDRESS [admin|desk|none]")
			}
			if len(args) == 1 {
				u, err := st.ConsoleUser(ctx, args[0])
				if err != nil {
					return describe(err, "account", args[0])
				}
				r := u.Role
				if r == store.RoleNone {
					r = "none"
				}
				fmt.Fprintln(c.stdout, r)
				return nil
			}
			role := strings.ToLower(args[1])
			if role == "none" {
				role = store.RoleNone
			}
			if role != store.RoleNone && role != store.RoleAdmin && role != store.RoleDesk {
				return usagef("user role: %q is not admin, desk or none", args[1])
			}
			if err := st.SetRole(ctx, args[0], role); err != nil {
				return describe(err, "account", args[0])
			}
			fmt.Fprintf(c.stdout, "console role of %s: %s\n", strings.ToLower(args[0]), args[1])
			return nil
		}),
	}
}

// totpCommand is "user totp": the TOTP second factor of console sign-in.
func totpCommand() *command {
	var off bool
	return &command{
		name: "totp", args: "[--off] ADDRESS", summary: "give an account a new TOTP second factor for the console and print its otpauth URI",
		help: `Generates a new TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) for the
account, stores it and prints the otpauth:// URI to put in an authenticator
app (as a QR code, e.g. qrencode -t ansiutf8 URI). From then on the console
asks for the code at sign-in; a previous secret stops working. With
admin.require_totp (CONGTHU_ADMIN_REQUIRE_TOTP=true) admins cannot sign in
without one. --off removes the second factor.`,
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&off, "off", false, "remove the account's second factor") },
		run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
			if len(args) != 1 {
				return usagef("user totp: want exactly one ADDRESS")
			}
			a, err := st.Account(ctx, args[0])
			if err != nil {
				return describe(err, "account", args[0])
			}
			if off {
				if err := st.SetTOTPSecret(ctx, a.Address, ""); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "second factor of %s removed\n", a.Address)
				return nil
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			secret := totp.NewSecret()
			if err := st.SetTOTPSecret(ctx, a.Address, secret); err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, totp.URI("congthu "+cfg.Hostname, a.Address, secret))
			return nil
		}),
	}
}
