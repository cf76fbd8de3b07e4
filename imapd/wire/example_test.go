package wire_test

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"congthu/imapd/wire"
)

// A server loop in miniature: decode, answer BAD for what is malformed or
// unknown, OK for the rest.
func Example() {
	client := "a1 LOGIN {5}\r\nalice secret\r\n" +
		"a2 LIST \"\" \"foo\r\n" + // unterminated: BAD at once
		"a3 XYZZY\r\n" + // unknown: BAD, and the session goes on
		"a4 SELECT \"L&AbA-u tr&Hu8-\"\r\n"
	var out strings.Builder
	defer func() { fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n")) }()
	bw := bufio.NewWriter(&out)
	enc := wire.NewEncoder(bw)
	dec := wire.NewDecoder(bufio.NewReader(strings.NewReader(client)), wire.Limits{}, func() error {
		return enc.Continue("Ready").Flush()
	})
	for {
		cmd, err := dec.Next()
		var se *wire.SyntaxError
		switch {
		case errors.As(err, &se):
			enc.Status(se.Tag, "BAD", se.Code, se.Msg)
		case err != nil:
			enc.Flush()
			return
		case cmd.Name == "SELECT":
			fmt.Fprintf(bw, "(selecting %q)\n", cmd.Args.(*wire.Select).Mailbox)
			enc.Status(cmd.Tag, "OK", "READ-WRITE", "SELECT completed")
		default:
			if _, unknown := cmd.Args.(*wire.Unknown); unknown {
				enc.Status(cmd.Tag, "BAD", "", "unknown command")
				continue
			}
			enc.Status(cmd.Tag, "OK", "", cmd.Name+" completed")
		}
	}
	// Output:
	// + Ready
	// a1 OK LOGIN completed
	// a2 BAD unterminated quoted string
	// a3 BAD unknown command
	// (selecting "Lưu trữ")
	// a4 OK [READ-WRITE] SELECT completed
}
