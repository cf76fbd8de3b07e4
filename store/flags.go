package store

import (
	"fmt"
	"sort"
	"strings"
)

// System flags as bits of messages.flags.
const (
	bitSeen = 1 << iota
	bitAnswered
	bitFlagged
	bitDeleted
	bitDraft
)

var systemFlags = []struct {
	name string
	bit  int
}{
	{FlagSeen, bitSeen}, {FlagAnswered, bitAnswered}, {FlagFlagged, bitFlagged},
	{FlagDeleted, bitDeleted}, {FlagDraft, bitDraft},
}

// parseFlags splits IMAP flags into the system-flag bitmask and keywords
// (deduplicated case-insensitively, sorted). \Recent is ignored (only the
// server sets it); other backslash flags and keywords that are not IMAP
// atoms are ErrInvalid.
func parseFlags(flags []string) (int, []string, error) {
	mask := 0
	var kws []string
next:
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			if strings.EqualFold(f, `\Recent`) {
				continue
			}
			for _, sf := range systemFlags {
				if strings.EqualFold(f, sf.name) {
					mask |= sf.bit
					continue next
				}
			}
			return 0, nil, fmt.Errorf("store: unknown system flag %q: %w", f, ErrInvalid)
		}
		if !validKeyword(f) {
			return 0, nil, fmt.Errorf("store: bad keyword %q: %w", f, ErrInvalid)
		}
		kws = addKeyword(kws, f)
	}
	sort.Strings(kws)
	return mask, kws, nil
}

// validKeyword reports whether k is an IMAP atom (RFC 9051 atom: no
// specials, controls or spaces) of reasonable length.
func validKeyword(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// addKeyword adds k to kws unless present in any case.
func addKeyword(kws []string, k string) []string {
	for _, x := range kws {
		if strings.EqualFold(x, k) {
			return kws
		}
	}
	return append(kws, k)
}

// splitKeywords parses the stored keywords column.
func splitKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// joinKeywords formats keywords for the keywords column, sorted.
func joinKeywords(kws []string) string {
	kws = append([]string(nil), kws...)
	sort.Strings(kws)
	return strings.Join(kws, " ")
}

// flagList returns the IMAP flags of a message, sorted.
func flagList(mask int, keywords string) []string {
	out := make([]string, 0, 4)
	for _, sf := range systemFlags {
		if mask&sf.bit != 0 {
			out = append(out, sf.name)
		}
	}
	out = append(out, splitKeywords(keywords)...)
	sort.Strings(out)
	return out
}

// applyFlags computes a message's new flags for a STORE operation.
func applyFlags(mask int, keywords string, op StoreOp, opMask int, opKws []string) (int, string) {
	kws := splitKeywords(keywords)
	switch op {
	case FlagsSet:
		return opMask, joinKeywords(opKws)
	case FlagsAdd:
		mask |= opMask
		for _, k := range opKws {
			kws = addKeyword(kws, k)
		}
	case FlagsRemove:
		mask &^= opMask
		out := kws[:0]
		for _, k := range kws {
			keep := true
			for _, r := range opKws {
				if strings.EqualFold(k, r) {
					keep = false
					break
				}
			}
			if keep {
				out = append(out, k)
			}
		}
		kws = out
	}
	return mask, joinKeywords(kws)
}
