package main

import (
	"flag"
	"strings"
)

// parseFlags parses a command's arguments with flags anywhere among the
// positional arguments (user add ADDRESS --password-stdin, service callback
// set NAME --url URL), which the flag package alone does not allow: it
// stops at the first non-flag. "--" still ends the flags: everything after
// it is positional, even when it starts with "-". It returns the
// positional arguments in their order.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if endedByDashes(fs, args[:len(args)-len(rest)]) {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// endedByDashes reports whether the flag package stopped after consumed
// because it met the "--" terminator, rather than after a "--" given as a
// flag's value (--reason --). It walks consumed as flag.FlagSet.Parse does.
func endedByDashes(fs *flag.FlagSet, consumed []string) bool {
	for i := 0; i < len(consumed); i++ {
		a := consumed[i]
		if a == "--" {
			return true
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // parsing failed there already
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		i++ // the flag's value
	}
	return false
}
