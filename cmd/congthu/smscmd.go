package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"congthu/phone"
	"congthu/sms"
	"congthu/sms/smpp"
)

// smsCommand is "congthu sms": count parts offline, send a test SMS over
// SMPP.
func smsCommand() *command {
	return &command{
		name:    "sms",
		summary: "count the parts of an SMS, send a test SMS over SMPP",
		subs:    []*command{smsPartsCommand(), smsSendCommand()},
	}
}

func smsPartsCommand() *command {
	var fold *bool
	return &command{
		name: "parts", args: "[--fold] TEXT",
		summary: "print the encoding (GSM-7 or UCS-2) and the number of parts of TEXT",
		help: `Needs no server. TEXT is every argument joined by spaces, or standard
input when it is "-". With --fold, Vietnamese diacritics are removed first
(as templates with fold_diacritics do) and the folded text is printed too.
A text needing more than 4 parts is counted, and the exit status is 1
because the gateway refuses it.`,
		flags: func(fs *flag.FlagSet) {
			fold = fs.Bool("fold", false, "remove Vietnamese diacritics first")
		},
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usagef("sms parts: want TEXT (or - for standard input)")
			}
			text := strings.Join(args, " ")
			if text == "-" {
				b, err := io.ReadAll(c.stdin)
				if err != nil {
					return err
				}
				text = strings.TrimRight(string(b), "\r\n")
			}
			if *fold {
				text = sms.Fold(text)
			}
			// Count without a limit, then report the limit.
			enc, err := sms.Encode(text, sms.Options{MaxParts: 255})
			if err != nil {
				return fmt.Errorf("sms parts: %w", err)
			}
			unit := "septets"
			if enc.Encoding == sms.UCS2 {
				unit = "UTF-16 units"
			}
			fmt.Fprintf(c.stdout, "encoding  %s\nparts     %d\nlength    %d %s\n", enc.Encoding, len(enc.Parts), enc.Units, unit)
			if *fold {
				fmt.Fprintf(c.stdout, "folded    %s\n", text)
			}
			if len(enc.Parts) > sms.DefaultMaxParts {
				return &sms.TooManyPartsError{Encoding: enc.Encoding, Parts: len(enc.Parts), Max: sms.DefaultMaxParts}
			}
			return nil
		},
	}
}

// The environment the send command reads (the integrator moves these into
// config later).
const (
	envSMPPAddr       = "CONGTHU_SMPP_ADDR"
	envSMPPSystemID   = "CONGTHU_SMPP_SYSTEM_ID"
	envSMPPPassword   = "CONGTHU_SMPP_PASSWORD"
	envSMPPSystemType = "CONGTHU_SMPP_SYSTEM_TYPE"
	envSMSSender      = "CONGTHU_SMS_SENDER"
)

func smsSendCommand() *command {
	var (
		to, text, addr, sender *string
		fold                   *bool
		wait                   *time.Duration
	)
	return &command{
		name: "send", args: "--to NUMBER --text TEXT [--fold] [--smpp-addr HOST:PORT] [--wait 30s]",
		summary: "send one SMS over SMPP and wait for its delivery receipt, to test a route",
		help: `Binds to the SMSC as a transceiver, submits the message (split into
parts as needed), prints the SMSC's message id of each part, then waits up
to --wait for the delivery receipts and prints the final status:
delivered, temporary-failure, permanent-failure, or "no receipt". Exit
status 0 only when the message was accepted and (with --wait above 0) every
part was delivered.

The SMPP account comes from the environment:
  CONGTHU_SMPP_ADDR         SMSC host:port (--smpp-addr overrides it)
  CONGTHU_SMPP_SYSTEM_ID    system_id (at most 15 characters)
  CONGTHU_SMPP_PASSWORD     password (at most 8 characters)
  CONGTHU_SMPP_SYSTEM_TYPE  system_type, optional
  CONGTHU_SMS_SENDER        the registered brandname (e.g. UBND-HN) or a
                            number (--sender overrides it)

NUMBER is a Vietnamese mobile number in any usual form (0912 345 678,
+84912345678); it is shown masked.`,
		flags: func(fs *flag.FlagSet) {
			to = fs.String("to", "", "destination mobile number")
			text = fs.String("text", "", "message text")
			fold = fs.Bool("fold", false, "remove Vietnamese diacritics first")
			addr = fs.String("smpp-addr", "", "SMSC host:port (default $"+envSMPPAddr+")")
			sender = fs.String("sender", "", "brandname or number (default $"+envSMSSender+")")
			wait = fs.Duration("wait", 30*time.Second, "how long to wait for the delivery receipt (0: do not wait)")
		},
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("sms send: unexpected argument %q (quote the text: --text \"...\")", args[0])
			}
			if *to == "" || *text == "" {
				return usagef("sms send: --to and --text are required")
			}
			dest, err := phone.Parse(*to)
			if err != nil {
				return fmt.Errorf("sms send: --to: %w", err)
			}
			opts := smpp.Options{
				Addr:       firstSet(*addr, c.getenv(envSMPPAddr)),
				SystemID:   c.getenv(envSMPPSystemID),
				Password:   c.getenv(envSMPPPassword),
				SystemType: c.getenv(envSMPPSystemType),
				Source:     firstSet(*sender, c.getenv(envSMSSender)),
				// Operators see problems on stderr; never the number.
				Logger: slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			}
			var missing []string
			for _, m := range []struct{ v, name string }{
				{opts.Addr, envSMPPAddr + " or --smpp-addr"}, {opts.SystemID, envSMPPSystemID},
				{opts.Source, envSMSSender + " or --sender"},
			} {
				if m.v == "" {
					missing = append(missing, m.name)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("sms send: not configured: %s", strings.Join(missing, ", "))
			}
			receipts := make(chan smpp.Receipt, 64)
			opts.OnReceipt = func(ctx context.Context, r smpp.Receipt) error {
				select {
				case receipts <- r:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return smsSend(ctx, c, opts, smpp.Message{To: dest, Text: *text, Fold: *fold}, *wait, receipts)
		},
	}
}

// smsSend binds, submits m, prints the ids and waits for the receipts.
func smsSend(ctx context.Context, c *cli, opts smpp.Options, m smpp.Message, wait time.Duration, receipts <-chan smpp.Receipt) error {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	client, err := smpp.Dial(dctx, opts)
	cancel()
	if err != nil {
		return fmt.Errorf("sms send: bind to %s: %w", opts.Addr, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client.Close(cctx)
	}()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	res, err := client.Submit(sctx, m)
	cancel()
	if err != nil {
		if len(res.MessageIDs) > 0 {
			fmt.Fprintf(c.stdout, "accepted parts: %s\n", strings.Join(res.MessageIDs, " "))
		}
		return fmt.Errorf("sms send: %w", err)
	}
	fmt.Fprintf(c.stdout, "submitted to %s: %s, %d part(s)\n", phone.Mask(m.To), res.Encoding, res.Parts)
	for i, id := range res.MessageIDs {
		fmt.Fprintf(c.stdout, "message id (part %d): %s\n", i+1, id)
	}
	if wait <= 0 {
		fmt.Fprintln(c.stdout, "status: submitted (not waiting for a receipt)")
		return nil
	}

	// One receipt per part; the worst outcome is the message's.
	pending := map[int]bool{}
	for i := range res.MessageIDs {
		pending[i] = true
	}
	final := smpp.Delivered
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(pending) > 0 {
		select {
		case r := <-receipts:
			part := -1
			for i := range pending {
				if smpp.SameMessageID(r.MessageID, res.MessageIDs[i]) {
					part = i
				}
			}
			if part < 0 {
				continue // a late receipt of an earlier test
			}
			o := r.Outcome()
			if o == smpp.Pending {
				fmt.Fprintf(c.stdout, "receipt (part %d): %s (%s)\n", part+1, o, r.Stat)
				continue
			}
			delete(pending, part)
			fmt.Fprintf(c.stdout, "receipt (part %d): %s (stat %s, err %s)\n", part+1, o, r.Stat, r.Err)
			if worse(o, final) {
				final = o
			}
		case <-timer.C:
			fmt.Fprintf(c.stdout, "status: no receipt within %v for %d part(s)\n", wait, len(pending))
			return errors.New("sms send: no delivery receipt")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(c.stdout, "status: %s\n", final)
	if final != smpp.Delivered {
		return fmt.Errorf("sms send: not delivered (%s)", final)
	}
	return nil
}

// worse orders final outcomes: permanent before temporary before delivered.
func worse(a, b smpp.Outcome) bool {
	rank := map[smpp.Outcome]int{smpp.Delivered: 0, smpp.TemporaryFailure: 1, smpp.PermanentFailure: 2}
	return rank[a] > rank[b]
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
