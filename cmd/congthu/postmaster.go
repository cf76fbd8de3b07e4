package main

import (
	"context"
	"errors"
	"fmt"

	"congthu/store"
)

// domainPostmasterCommand is `congthu domain postmaster DOMAIN [ADDRESS|-]`.
func domainPostmasterCommand() *command {
	return &command{
		name: "postmaster", args: "DOMAIN [ADDRESS|-]",
		summary: "who receives postmaster@ and abuse@ of DOMAIN (default: its first account); - goes back to that",
		help: `postmaster@ and abuse@ of every served domain are accepted (RFC 5321
section 4.5.1, RFC 2142). An account or alias of that address receives them;
otherwise the ADDRESS named here (an account or alias of any served domain),
or, when none is named or it is disabled or gone, the domain's first account.
Without ADDRESS: print who receives them now.`,
		run: withStore(func(ctx context.Context, c *cli, st *store.Store, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("domain postmaster: want DOMAIN [ADDRESS|-]")
			}
			if len(args) == 2 {
				addr := args[1]
				if addr == "-" {
					addr = ""
				}
				if err := st.SetDomainPostmaster(ctx, args[0], addr); err != nil {
					if errors.Is(err, store.ErrNotFound) && addr != "" {
						return fmt.Errorf("domain postmaster: %s is not a served domain, or %s is not an enabled account or alias here", args[0], addr)
					}
					return describe(err, "domain", args[0])
				}
			}
			named, acc, err := st.DomainPostmaster(ctx, args[0])
			switch {
			case errors.Is(err, store.ErrNoPostmaster):
				fmt.Fprintf(c.stdout, "postmaster@%s: nobody yet (the domain has no account; mail to it is refused with 550)\n", args[0])
				return nil
			case err != nil:
				return describe(err, "domain", args[0])
			}
			how := "the domain's first account"
			if named != "" && named == acc.Address {
				how = "named"
			} else if named != "" {
				how = "the first account: " + named + " is not an enabled account"
			}
			fmt.Fprintf(c.stdout, "postmaster@ and abuse@%s go to %s (%s)\n", args[0], acc.Address, how)
			return nil
		}),
	}
}
