package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"congthu/httpapi"
	"congthu/notify/notifydb"
	"congthu/sms"
	"congthu/templates"
	"congthu/webhook"
)

// apikeyCommand manages API keys of calling services.
func apikeyCommand() *command {
	return &command{
		name:    "apikey",
		summary: "create, list and revoke API keys of calling services",
		subs: []*command{
			{
				name: "create", args: "--service NAME [--test] [--admin]", summary: "create a key; prints the key alone, once (only its hash is kept)",
				help: `A test key (--test) runs everything but sends nothing outside; see the API documentation for the simulated recipients.
An admin key (--admin) also reads every service's usage (GET /v1/usage); give it to the agency's finance office, not to a back office.`,
				flags: func(fs *flag.FlagSet) {
					fs.String("service", "", "the calling service (created if new)")
					fs.Bool("test", false, "a test key: nothing leaves the gateway")
					fs.Bool("admin", false, "an admin key: reads every service's usage")
				},
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					service := fs.Lookup("service").Value.String()
					if service == "" || len(args) != 0 {
						return usagef("apikey create: want --service NAME and no arguments")
					}
					test := fs.Lookup("test").Value.String() == "true"
					st, _, err := c.openStore(ctx)
					if err != nil {
						return err
					}
					defer st.Close()
					key, hash, hint := httpapi.NewAPIKey(test)
					admin := fs.Lookup("admin").Value.String() == "true"
					if _, err := notifydb.New(st).AddAPIKeyAs(ctx, service, hash, hint, test, admin); err != nil {
						return describe(err, "service", service)
					}
					fmt.Fprintln(c.stdout, key)
					return nil
				},
			},
			{
				name: "list", args: "[--service NAME]", summary: "list keys (never the keys themselves)",
				flags: func(fs *flag.FlagSet) { fs.String("service", "", "only this service's keys") },
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					if len(args) != 0 {
						return usagef("apikey list takes no arguments")
					}
					st, _, err := c.openStore(ctx)
					if err != nil {
						return err
					}
					defer st.Close()
					keys, err := notifydb.New(st).APIKeys(ctx, fs.Lookup("service").Value.String())
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tSERVICE\tKIND\tHINT\tCREATED\tSTATE")
					for _, k := range keys {
						kind, state := "live", "active"
						if k.Test {
							kind = "test"
						}
						if k.Admin {
							kind += "+admin"
						}
						if !k.RevokedAt.IsZero() {
							state = "revoked " + k.RevokedAt.Format("2006-01-02 15:04")
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Service, kind, k.Hint, k.CreatedAt.Format("2006-01-02 15:04"), state)
					}
					return tw.Flush()
				},
			},
			{
				name: "revoke", args: "ID", summary: "revoke a key for good",
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					if len(args) != 1 {
						return usagef("apikey revoke: want exactly one ID")
					}
					id, err := strconv.ParseInt(args[0], 10, 64)
					if err != nil {
						return usagef("apikey revoke: %q is not a key ID (see apikey list)", args[0])
					}
					st, _, err := c.openStore(ctx)
					if err != nil {
						return err
					}
					defer st.Close()
					if err := notifydb.New(st).RevokeAPIKey(ctx, id); err != nil {
						return describe(err, "API key", args[0])
					}
					fmt.Fprintf(c.stdout, "API key %d revoked\n", id)
					return nil
				},
			},
		},
	}
}

// serviceCommand manages calling services and their callbacks.
func serviceCommand() *command {
	return &command{
		name:    "service",
		summary: "list calling services and set their status callbacks",
		subs: []*command{
			{
				name: "list", summary: "list services and their callback URLs",
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					if len(args) != 0 {
						return usagef("service list takes no arguments")
					}
					st, _, err := c.openStore(ctx)
					if err != nil {
						return err
					}
					defer st.Close()
					svcs, err := notifydb.New(st).APIServices(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SERVICE\tCALLBACK")
					for _, s := range svcs {
						cb := s.CallbackURL
						if cb == "" {
							cb = "-"
						}
						fmt.Fprintf(tw, "%s\t%s\n", s.Name, cb)
					}
					return tw.Flush()
				},
			},
			{
				name: "callback", summary: "set a service's callback URL and signing secret",
				subs: []*command{{
					name: "set", args: "NAME --url URL --secret-stdin", summary: "register the callback (an empty --url removes it)",
					help: "Every status change is POSTed to URL, signed with X-Congthu-Signature: sha256=HMAC-SHA256(SECRET, timestamp + \".\" + body).\n" +
						"The secret is read from the first line of standard input (--secret-stdin). URL must be http(s) and reach a public address:\n" +
						"loopback, link-local (169.254.0.0/16, fe80::/10), private (RFC 1918, fc00::/7), multicast and other special addresses\n" +
						"are refused unless CONGTHU_API_CALLBACK_ALLOW lists their network (they are checked again at each delivery).\n" +
						"--secret SECRET still works but is deprecated: the secret would be seen in the process list and shell history.",
					flags: func(fs *flag.FlagSet) {
						fs.String("url", "", "callback URL (https://…)")
						fs.Bool("secret-stdin", false, "read the signing secret (at least 16 characters) from the first line of standard input")
						fs.String("secret", "", "deprecated: the signing secret on the command line (use --secret-stdin)")
					},
					run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
						if len(args) != 1 {
							return usagef("service callback set: want exactly one service NAME")
						}
						u, secret := fs.Lookup("url").Value.String(), fs.Lookup("secret").Value.String()
						fromStdin := fs.Lookup("secret-stdin").Value.String() == "true"
						if u != "" {
							p, err := url.Parse(u)
							if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
								return usagef("service callback set: --url %q is not an http(s) URL", u)
							}
							switch {
							case fromStdin && secret != "":
								return usagef("service callback set: give --secret-stdin or --secret, not both")
							case fromStdin:
								if secret, err = readSecret(c); err != nil {
									return err
								}
							case secret != "":
								fmt.Fprintln(c.stderr, "congthu: warning: --secret is deprecated (the secret shows in the process list and shell history); use --secret-stdin")
							default:
								return usagef("service callback set: want --secret-stdin (the secret on standard input)")
							}
							if len(secret) < 16 {
								return usagef("service callback set: the secret must have at least 16 characters")
							}
						}
						st, cfg, err := c.openStore(ctx)
						if err != nil {
							return err
						}
						defer st.Close()
						if u != "" {
							err := webhook.CheckURL(ctx, u, cfg.API.CallbackAllowPrefixes(), nil)
							var ue *webhook.UnresolvedError
							switch {
							case errors.As(err, &ue):
								fmt.Fprintf(c.stderr, "congthu: warning: %v; set anyway (the address is checked at each delivery)\n", err)
							case errors.Is(err, webhook.ErrRefusedAddress):
								return fmt.Errorf("service callback set: --url %q refused: %s; callbacks go to public addresses only, unless CONGTHU_API_CALLBACK_ALLOW (api.callback_allow) lists the network",
									u, strings.TrimPrefix(err.Error(), webhook.ErrRefusedAddress.Error()+": "))
							case err != nil:
								return usagef("service callback set: --url %q: %v", u, err)
							}
						}
						if err := notifydb.New(st).SetServiceCallback(ctx, args[0], u, secret); err != nil {
							return describe(err, "service", args[0])
						}
						fmt.Fprintf(c.stdout, "callback of %s set\n", args[0])
						return nil
					},
				}},
			},
		},
	}
}

// templateCommand checks and previews notification templates.
func templateCommand() *command {
	return &command{
		name:    "template",
		summary: "lint and preview the notification templates",
		subs: []*command{
			{
				name: "lint", args: "[--dir DIR]", summary: "check every template (placeholders, samples, SMS parts folded and not); exit 1 on errors",
				flags: func(fs *flag.FlagSet) { fs.String("dir", "", "template folder (default: the templates built in)") },
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					set, err := loadTemplates(fs.Lookup("dir").Value.String())
					if err != nil {
						return err
					}
					errs := 0
					for _, p := range templates.Lint(set, sms.Count) {
						fmt.Fprintln(c.stdout, p.String())
						if p.Severity == templates.SeverityError {
							errs++
						}
					}
					if errs > 0 {
						return fmt.Errorf("template lint: %d error(s)", errs)
					}
					fmt.Fprintf(c.stdout, "%d templates OK\n", len(set.List()))
					return nil
				},
			},
			{
				name: "preview", args: "ID [--data FILE] [--html FILE]", summary: "render a template with FILE's JSON data (default: its sample)",
				flags: func(fs *flag.FlagSet) {
					fs.String("data", "", "JSON object with the values")
					fs.String("html", "", "write the HTML body to this file")
					fs.String("dir", "", "template folder (default: the templates built in)")
				},
				run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
					if len(args) != 1 {
						return usagef("template preview: want exactly one template ID")
					}
					set, err := loadTemplates(fs.Lookup("dir").Value.String())
					if err != nil {
						return err
					}
					t, ok := set.Get(args[0])
					if !ok {
						return fmt.Errorf("no such template: %s", args[0])
					}
					var r *templates.Rendered
					if f := fs.Lookup("data").Value.String(); f != "" {
						b, err := os.ReadFile(f)
						if err != nil {
							return err
						}
						var data map[string]any
						if err := json.Unmarshal(b, &data); err != nil {
							return fmt.Errorf("%s: %w", f, err)
						}
						r, err = t.Render(data)
						if err != nil {
							return err
						}
					} else if r, err = t.Preview(); err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "template %s version %d (%s)\n", r.ID, r.Version, r.Channel)
					if r.Channel == templates.Email {
						fmt.Fprintf(c.stdout, "Subject: %s\n\n%s\n", r.Subject, r.Text)
						if f := fs.Lookup("html").Value.String(); f != "" {
							if err := os.WriteFile(f, []byte(r.HTML), 0o644); err != nil {
								return err
							}
							fmt.Fprintf(c.stdout, "HTML written to %s\n", f)
						}
						return nil
					}
					enc, parts, err := sms.Count(r.SMSText, false)
					fmt.Fprintf(c.stdout, "%s\n\n%d part(s), %s", r.SMSText, parts, enc)
					if r.Folded {
						fmt.Fprintf(c.stdout, ", diacritics folded")
					}
					fmt.Fprintln(c.stdout)
					if err != nil {
						return fmt.Errorf("template preview: %w", err)
					}
					return nil
				},
			},
		},
	}
}

func loadTemplates(dir string) (*templates.Set, error) {
	if dir == "" {
		return templates.Load()
	}
	return templates.LoadDir(os.DirFS(dir))
}

// readSecret reads a callback signing secret from the first line of
// standard input, as readPassword does with --password-stdin.
func readSecret(c *cli) (string, error) {
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the secret from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
