// Command congthu is the congthu mail and notification gateway: the server
// (congthu serve) and the operators' commands that manage its domains and
// accounts on the same store, also while the server runs.
//
// Run "congthu help" for the list of commands and "congthu COMMAND --help"
// for each one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"congthu/config"
	"congthu/filter/clamd"
	"congthu/filter/rspamd"
	"congthu/store"
)

func main() {
	privateUmask()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// cli is what a command runs with: its streams, environment and the
// configuration file named by --config or CONGTHU_CONFIG.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	configPath     string
	// createStore lets openStore create a new SQLite store (domain add);
	// other admin commands refuse to, so that one run from the wrong
	// directory does not silently work on an empty store.
	createStore bool
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand, possibly with subcommands of its own.
type command struct {
	name    string
	args    string // argument synopsis
	summary string
	help    string // longer text for --help
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error
	subs    []*command
}

func commands() []*command {
	return []*command{
		serveCommand(),
		checkconfigCommand(),
		domainCommand(),
		userCommand(),
		queueCommand(),
		smsCommand(),
		zaloCommand(),
		usageCommand(),
		apikeyCommand(),
		serviceCommand(),
		templateCommand(),
	}
}

const topUsage = `congthu — mail and notification gateway for public-service correspondence

Usage:
  congthu [--config FILE] COMMAND [ARGS...]

Commands:
%s
Global flags:
  --config FILE   configuration file (default: $CONGTHU_CONFIG; none: built-in defaults)

Every setting can also be given as a CONGTHU_* environment variable (see
docs/config.md). Run "congthu COMMAND --help" for a command's own help.
`

func run(ctx context.Context, args []string, c *cli) int {
	top := flag.NewFlagSet("congthu", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	cfgPath := top.String("config", "", "configuration file")
	cmds := commands()
	printTop := func(w io.Writer) {
		var b strings.Builder
		for _, cmd := range cmds {
			fmt.Fprintf(&b, "  %-12s %s\n", cmd.name, cmd.summary)
		}
		fmt.Fprintf(w, topUsage, b.String())
	}
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printTop(c.stdout)
			return 0
		}
		fmt.Fprintf(c.stderr, "congthu: %v\n", err)
		return 2
	}
	c.configPath = *cfgPath
	if c.configPath == "" {
		c.configPath = c.getenv("CONGTHU_CONFIG")
	}
	rest := top.Args()
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) > 1 {
			return run(ctx, append(rest[1:], "--help"), c)
		}
		printTop(c.stdout)
		if len(rest) == 0 {
			return 2
		}
		return 0
	}
	err := dispatch(ctx, c, cmds, rest, "congthu")
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "congthu: %v\n", err)
		return 2
	default:
		fmt.Fprintf(c.stderr, "congthu: %v\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, c *cli, cmds []*command, args []string, path string) error {
	name := args[0]
	var cmd *command
	for _, k := range cmds {
		if k.name == name {
			cmd = k
		}
	}
	if cmd == nil {
		names := make([]string, len(cmds))
		for i, k := range cmds {
			names[i] = k.name
		}
		sort.Strings(names)
		return usagef("%s: unknown command %q (one of: %s)", path, name, strings.Join(names, ", "))
	}
	full := path + " " + cmd.name
	if len(cmd.subs) > 0 {
		if len(args) < 2 || args[1] == "--help" || args[1] == "-h" || args[1] == "help" {
			fmt.Fprintf(c.stdout, "Usage:\n")
			for _, s := range cmd.subs {
				fmt.Fprintf(c.stdout, "  %s %s %s\n      %s\n", full, s.name, s.args, s.summary)
			}
			if len(args) < 2 {
				return usagef("%s: missing subcommand", full)
			}
			return nil
		}
		return dispatch(ctx, c, cmd.subs, args[1:], full)
	}
	fs := flag.NewFlagSet(full, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if fs.Lookup("config") == nil {
		// The global flag, also after the command (user list --config FILE).
		fs.StringVar(&c.configPath, "config", c.configPath, "configuration file (default: $CONGTHU_CONFIG)")
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(c.stdout, "Usage: %s %s\n\n%s\n", full, cmd.args, cmd.summary)
			if cmd.help != "" {
				fmt.Fprintf(c.stdout, "\n%s\n", strings.TrimSpace(cmd.help))
			}
			var hasFlags bool
			fs.VisitAll(func(*flag.Flag) { hasFlags = true })
			if hasFlags {
				fmt.Fprintf(c.stdout, "\nFlags:\n")
				fs.SetOutput(c.stdout)
				fs.PrintDefaults()
			}
			return nil
		}
		return usagef("%s: %v (see --help)", full, err)
	}
	return cmd.run(ctx, c, fs, pos)
}

// loadConfig loads and validates the configuration.
func (c *cli) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(c.configPath, c.getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", indent(err))
	}
	return cfg, nil
}

func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return errors.New(strings.Join(lines, "\n"))
}

// logger builds the process logger from the configuration.
func (c *cli) logger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(c.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(c.stderr, opts))
}

// openStore opens the store the configuration names, for admin commands,
// and says on stderr which one. It refuses to create a new SQLite store
// unless c.createStore is set.
func (c *cli) openStore(ctx context.Context) (*store.Store, *config.Config, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	// Admin commands only log problems.
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	desc, path := storeTarget(cfg)
	if path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if !c.createStore {
				return nil, nil, c.noStore(cfg, path)
			}
			desc += " (new)"
		}
	}
	fmt.Fprintf(c.stderr, "congthu: store %s\n", desc)
	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, store.Options{}, log)
	if err != nil {
		return nil, nil, err
	}
	return st, cfg, nil
}

func openStore(ctx context.Context, cfg *config.Config, opts store.Options, log *slog.Logger) (*store.Store, error) {
	opts.URL = cfg.DatabaseURL
	opts.DataDir = cfg.DataDir
	opts.DefaultQuota = int64(cfg.Mailbox.Quota)
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = cfg.Auth.CacheTTL.D()
		if opts.AuthCacheTTL == 0 {
			opts.AuthCacheTTL = -1
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := store.Open(ctx, opts, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

func checkconfigCommand() *command {
	return &command{
		name:    "checkconfig",
		summary: "load and validate the configuration and say exactly what is wrong",
		help: `Loads the built-in defaults, the configuration file (--config or
CONGTHU_CONFIG) and the CONGTHU_* environment, and checks every setting.
Prints "configuration OK" and the effective listeners, or each problem
naming the setting and its environment variable. Exit status 1 when the
configuration is invalid. When content filters are set (filter.clamd_addr,
filter.rspamd_url) it asks each one and prints what answered, or that it
did not (a daemon down is reported, not an invalid configuration).`,
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("checkconfig takes no arguments")
			}
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			sender, err := checkSenderDomain(ctx, c, cfg)
			if err != nil {
				return fmt.Errorf("invalid configuration:\n%w", indent(err))
			}
			src := "built-in defaults"
			if c.configPath != "" {
				src = c.configPath
			}
			fmt.Fprintf(c.stdout, "configuration OK (%s + environment)\n", src)
			db := "SQLite in " + cfg.DataDir
			if cfg.DatabaseURL != "" {
				db = redact(cfg.DatabaseURL)
			}
			fmt.Fprintf(c.stdout, "  hostname     %s\n  store        %s\n", cfg.Hostname, db)
			for _, l := range []struct{ name, addr string }{
				{"submission", cfg.Listen.Submission}, {"submissions", cfg.Listen.Submissions},
				{"imap", cfg.Listen.IMAP}, {"imaps", cfg.Listen.IMAPS},
				{"mx", cfg.Listen.MX}, {"http", cfg.Listen.HTTP},
			} {
				fmt.Fprintf(c.stdout, "  %-12s %s\n", l.name, l.addr)
			}
			if sender != "" {
				fmt.Fprintf(c.stdout, "  sender       %s (notification mail, DKIM-signed)\n", sender)
			}
			f := filters(cfg)
			if cl, ok := f.Virus.(*clamd.Client); ok {
				if v, err := cl.Ping(ctx); err != nil {
					fmt.Fprintf(c.stdout, "  clamd        %s: NOT ANSWERING: %v\n", cl.Addr, err)
				} else {
					fmt.Fprintf(c.stdout, "  clamd        %s: %s\n", cl.Addr, v)
				}
			}
			if rs, ok := f.Spam.(*rspamd.Client); ok {
				if err := rs.Ping(ctx); err != nil {
					fmt.Fprintf(c.stdout, "  rspamd       %s: NOT ANSWERING: %v\n", redact(rs.URL), err)
				} else {
					fmt.Fprintf(c.stdout, "  rspamd       %s: answered\n", redact(rs.URL))
				}
			}
			return nil
		},
	}
}
