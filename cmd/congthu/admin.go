package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"congthu/config"
	"congthu/dkim"
	"congthu/mtasts"
	"congthu/revoke"
	"congthu/store"
)

// minPasswordLen is the shortest password accepted for an account.
const minPasswordLen = 10

// storeRun is the run function of an admin command that works on the
// store: it opens the configured store for f and closes it after.
type storeRun func(ctx context.Context, c *cli, st *store.Store, args []string) error

// withStore adapts f to a command's run function.
func withStore(f storeRun) func(context.Context, *cli, *flag.FlagSet, []string) error {
	return func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
		st, _, err := c.openStore(ctx)
		if err != nil {
			return err
		}
		defer st.Close()
		return f(ctx, c, st, args)
	}
}

// mayCreateStore lets run create a new store when there is none yet.
func mayCreateStore(run func(context.Context, *cli, *flag.FlagSet, []string) error) func(context.Context, *cli, *flag.FlagSet, []string) error {
	return func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
		c.createStore = true
		return run(ctx, c, fs, args)
	}
}

func domainCommand() *command {
	return &command{
		name:    "domain",
		summary: "add, list and remove the mail domains served here",
		subs: []*command{
			{
				name: "add", args: "DOMAIN", summary: "serve a new mail domain (the first one creates the store)",
				run: mayCreateStore(withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if len(args) != 1 {
						return usagef("domain add: want exactly one DOMAIN")
					}
					d, err := st.AddDomain(ctx, args[0])
					if err != nil {
						return describe(err, "domain", args[0])
					}
					key, err := dkim.GenerateKey()
					if err != nil {
						return err
					}
					sel := dkim.NewSelector(time.Now())
					if err := st.SetDomainDKIM(ctx, d.Name, sel, key); err != nil {
						return fmt.Errorf("store the DKIM key: %w", err)
					}
					fmt.Fprintf(c.stdout, "domain %s added (DKIM selector %s); publish its DNS records: congthu domain dns %s\n", d.Name, sel, d.Name)
					return nil
				})),
			},
			{
				name: "list", summary: "list the domains",
				run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if len(args) != 0 {
						return usagef("domain list takes no arguments")
					}
					ds, err := st.Domains(ctx)
					if err != nil {
						return err
					}
					for _, d := range ds {
						fmt.Fprintln(c.stdout, d.Name)
					}
					return nil
				}),
			},
			{
				name: "dns", args: "DOMAIN", summary: "print the DNS records to publish for a domain (MX, SPF, DKIM, DMARC, MTA-STS)",
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					if len(args) != 1 {
						return usagef("domain dns: want exactly one DOMAIN")
					}
					st, cfg, err := c.openStore(ctx)
					if err != nil {
						return err
					}
					defer st.Close()
					ds, err := st.Domains(ctx)
					if err != nil {
						return err
					}
					name := strings.ToLower(strings.TrimSuffix(args[0], "."))
					for _, d := range ds {
						if d.Name != name {
							continue
						}
						recs, err := dkim.Records(d.Name, cfg.Hostname, d.DKIMSelector, d.DKIMPrivateKey)
						if err != nil {
							return err
						}
						for _, r := range recs {
							fmt.Fprintf(c.stdout, "; %s\n%s\tIN\t%s\t%s\n\n", r.Note, r.Name, r.Type, quoteTXT(r.Type, r.Value))
						}
						if len(d.DKIMPrivateKey) == 0 {
							fmt.Fprintf(c.stdout, "; no DKIM key: the domain was added before keys were generated\n")
						}
						if pol := cfg.MTASTSPolicy(); pol != "" {
							fmt.Fprintf(c.stdout, "; MTA-STS (RFC 8461, mx.mta_sts_mode %s): the policy id changes with the policy.\n"+
								"; Point mta-sts.%s at this host's HTTP listener (CONGTHU_HTTP_ADDR) behind HTTPS\n"+
								"; with a certificate for that name; it serves /.well-known/mta-sts.txt.\n"+
								"_mta-sts.%s.\tIN\tTXT\t%s\n\n", cfg.MX.MTASTSMode, d.Name, d.Name, quoteTXT("TXT", mtasts.Record(pol)))
						}
						return nil
					}
					return describe(store.ErrNotFound, "domain", args[0])
				},
			},
			domainPostmasterCommand(),
			{
				name: "remove", args: "DOMAIN", summary: "stop serving a domain (it must have no accounts or aliases left)",
				run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if len(args) != 1 {
						return usagef("domain remove: want exactly one DOMAIN")
					}
					if err := st.RemoveDomain(ctx, args[0]); err != nil {
						return describe(err, "domain", args[0])
					}
					fmt.Fprintf(c.stdout, "domain %s removed\n", strings.ToLower(args[0]))
					return nil
				}),
			},
		},
	}
}

func userCommand() *command {
	var passwordStdin bool
	pwFlag := func(fs *flag.FlagSet) {
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input instead of prompting")
	}
	one := func(name string, args []string) error {
		if len(args) != 1 {
			return usagef("user %s: want exactly one ADDRESS", name)
		}
		return nil
	}
	return &command{
		name:    "user",
		summary: "manage accounts (mailboxes) and their aliases",
		subs: []*command{
			{
				name: "add", args: "[--password-stdin] ADDRESS", summary: "create an account with INBOX, Sent, Drafts, Trash, Junk and Archive",
				help:  "The password is asked twice on the terminal, or read from standard input with --password-stdin; never from the command line. At least 10 characters.",
				flags: pwFlag,
				run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if err := one("add", args); err != nil {
						return err
					}
					pw, err := readPassword(c, passwordStdin)
					if err != nil {
						return err
					}
					a, err := st.AddAccount(ctx, args[0], pw)
					if err != nil {
						return describe(err, "account", args[0])
					}
					fmt.Fprintf(c.stdout, "account %s added\n", a.Address)
					return nil
				}),
			},
			{
				name: "list", args: "[DOMAIN]", summary: "list accounts, of one domain if given",
				run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if len(args) > 1 {
						return usagef("user list: at most one DOMAIN")
					}
					dom := ""
					if len(args) == 1 {
						dom = args[0]
					}
					as, err := st.Accounts(ctx, dom)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ADDRESS\tSTATE\tALIASES\tCREATED")
					for _, a := range as {
						state := "active"
						if a.Disabled {
							state = "disabled"
						}
						al, err := st.Aliases(ctx, a.Address)
						if err != nil {
							return err
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Address, state, strings.Join(al, ","), a.CreatedAt.Format("2006-01-02"))
					}
					return tw.Flush()
				}),
			},
			{
				name: "passwd", args: "[--password-stdin] ADDRESS", summary: "set a new password (cached logins are invalidated)",
				flags: pwFlag,
				run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if err := one("passwd", args); err != nil {
						return err
					}
					if _, err := st.Account(ctx, args[0]); err != nil {
						return describe(err, "account", args[0])
					}
					pw, err := readPassword(c, passwordStdin)
					if err != nil {
						return err
					}
					if err := st.SetPassword(ctx, args[0], pw); err != nil {
						return describe(err, "account", args[0])
					}
					revokeSessions(ctx, c, st, args[0])
					fmt.Fprintf(c.stdout, "password of %s changed\n", strings.ToLower(args[0]))
					return nil
				}),
			},
			setDisabledCommand("disable", "block logins and delivery (mail is kept)", true),
			setDisabledCommand("enable", "re-enable a disabled account", false),
			quotaCommand(),
			roleCommand(),
			totpCommand(),
			{
				name: "remove", args: "ADDRESS", summary: "delete an account with all its mail and aliases",
				run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
					if err := one("remove", args); err != nil {
						return err
					}
					acct, _ := st.Account(ctx, args[0])
					if err := st.RemoveAccount(ctx, args[0]); err != nil {
						return describe(err, "account", args[0])
					}
					if acct != nil {
						announceRevocation(ctx, c, revoke.Notice{AccountID: acct.ID, Stamp: revoke.Removed})
					}
					fmt.Fprintf(c.stdout, "account %s removed\n", strings.ToLower(args[0]))
					return nil
				}),
			},
			{
				name:    "alias",
				summary: "addresses that deliver to an account (e.g. a unit's motcua@...)",
				subs: []*command{
					{
						name: "add", args: "ADDRESS ALIAS", summary: "make ALIAS deliver to ADDRESS (who may also send as ALIAS)",
						run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
							if len(args) != 2 {
								return usagef("user alias add: want ADDRESS ALIAS")
							}
							if err := st.AddAlias(ctx, args[0], args[1]); err != nil {
								return describe(err, "alias", args[1])
							}
							fmt.Fprintf(c.stdout, "alias %s -> %s added\n", strings.ToLower(args[1]), strings.ToLower(args[0]))
							return nil
						}),
					},
					{
						name: "remove", args: "ALIAS", summary: "remove an alias",
						run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
							if len(args) != 1 {
								return usagef("user alias remove: want ALIAS")
							}
							if err := st.RemoveAlias(ctx, args[0]); err != nil {
								return describe(err, "alias", args[0])
							}
							fmt.Fprintf(c.stdout, "alias %s removed\n", strings.ToLower(args[0]))
							return nil
						}),
					},
					{
						name: "list", args: "ADDRESS", summary: "list the aliases of an account",
						run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
							if len(args) != 1 {
								return usagef("user alias list: want ADDRESS")
							}
							al, err := st.Aliases(ctx, args[0])
							if err != nil {
								return describe(err, "account", args[0])
							}
							for _, a := range al {
								fmt.Fprintln(c.stdout, a)
							}
							return nil
						}),
					},
				},
			},
		},
	}
}

// quotaCommand is "user quota": show or set an account's storage quota.
func quotaCommand() *command {
	return &command{
		name: "quota", args: "ADDRESS [SIZE]", summary: "show an account's storage use and limit, or set its quota",
		help: "Without SIZE: the bytes the account's messages take (a copy counts again) and its limit. " +
			"SIZE is a whole number of bytes with an optional unit K, M, G or T (powers of 1024): 2G, 500M; " +
			"0 or none for unlimited; default to follow mailbox.quota of the configuration again. " +
			"A limit below the current use removes nothing: mail is refused (IMAP NO [OVERQUOTA], SMTP 452 4.2.2) until messages are expunged.",
		run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
			if len(args) != 1 && len(args) != 2 {
				return usagef("user quota: want ADDRESS [SIZE]")
			}
			addr := strings.ToLower(args[0])
			if len(args) == 1 {
				q, err := st.QuotaOf(ctx, addr)
				if err != nil {
					return describe(err, "account", args[0])
				}
				limit := "none (unlimited)"
				if q.Limit > 0 {
					limit = config.FormatSize(q.Limit)
				}
				if q.Own == store.QuotaDefault {
					limit += ", the default (mailbox.quota)"
				} else {
					limit += ", set for this account"
				}
				used := fmt.Sprintf("%d bytes (%s)", q.Used, approxSize(q.Used))
				if q.Limit > 0 {
					used += fmt.Sprintf(", %.0f%% of the limit", 100*float64(q.Used)/float64(q.Limit))
				}
				fmt.Fprintf(c.stdout, "account  %s\nused     %s\nlimit    %s\n", addr, used, limit)
				return nil
			}
			quota := int64(store.QuotaDefault)
			if strings.ToLower(strings.TrimSpace(args[1])) != "default" {
				n, err := config.ParseSize(args[1])
				if err != nil {
					return usagef("user quota: SIZE: %v (or default)", err)
				}
				quota = n
			}
			if err := st.SetQuota(ctx, addr, quota); err != nil {
				return describe(err, "account", args[0])
			}
			switch {
			case quota == store.QuotaDefault:
				fmt.Fprintf(c.stdout, "quota of %s is the default again\n", addr)
			case quota == 0:
				fmt.Fprintf(c.stdout, "quota of %s set to none (unlimited)\n", addr)
			default:
				fmt.Fprintf(c.stdout, "quota of %s set to %s\n", addr, config.FormatSize(quota))
			}
			return nil
		}),
	}
}

// approxSize writes n bytes for a person: "512 B", "3.4 MiB".
func approxSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		v /= 1024
		if v < 1024 {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%.1f TiB", v/1024)
}

// setDisabledCommand is "user disable" or "user enable".
func setDisabledCommand(name, summary string, disabled bool) *command {
	return &command{
		name: name, args: "ADDRESS", summary: summary,
		run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
			if len(args) != 1 {
				return usagef("user %s: want exactly one ADDRESS", name)
			}
			if err := st.SetDisabled(ctx, args[0], disabled); err != nil {
				return describe(err, "account", args[0])
			}
			if disabled {
				revokeSessions(ctx, c, st, args[0])
			}
			fmt.Fprintf(c.stdout, "account %s %sd\n", strings.ToLower(args[0]), name)
			return nil
		}),
	}
}

// describe turns store errors into sentences for operators.
func describe(err error, what, name string) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%s %s already exists", what, name)
	case errors.Is(err, store.ErrNotFound):
		if what == "account" || what == "alias" {
			return fmt.Errorf("%s %s: no such %s, or its domain is not served here (see congthu domain list)", what, name, what)
		}
		return fmt.Errorf("no such %s: %s", what, name)
	case errors.Is(err, store.ErrInUse):
		return fmt.Errorf("%s %s is still in use (remove its accounts and aliases first)", what, name)
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%s %q is not valid: %w", what, name, err)
	}
	return err
}

// readPassword reads a new password from stdin (--password-stdin) or the
// terminal (asked twice, without echo). Never from the command line.
func readPassword(c *cli, fromStdin bool) (string, error) {
	var pw string
	if fromStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	} else {
		f, ok := c.stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return "", usagef("no terminal to ask the password on: use --password-stdin")
		}
		fmt.Fprint(c.stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(c.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		pw = string(a)
	}
	if len([]rune(pw)) < minPasswordLen {
		return "", fmt.Errorf("password too short: at least %d characters", minPasswordLen)
	}
	return pw, nil
}

// quoteTXT quotes a TXT value as zone files want it, in strings of at
// most 255 bytes (RFC 1035 section 3.3.14).
func quoteTXT(typ, v string) string {
	if typ != "TXT" {
		return v
	}
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return strings.Join(parts, " ")
}

// redact hides the password of a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
