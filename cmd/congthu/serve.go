package main

import (
	"context"
	"flag"
)

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run every configured listener until SIGINT/SIGTERM",
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			return usagef("serve: not wired yet")
		},
	}
}
