package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"

	"congthu/httpapi"
	"congthu/notify/notifydb"
)

// usageCommand is "congthu usage": what each service sent and what it
// cost, for the agency's finance office.
func usageCommand() *command {
	return &command{
		name: "usage", args: "--from YYYY-MM-DD --to YYYY-MM-DD [--service NAME] [--csv]",
		summary: "notifications sent, SMS parts, delivered, failed and cost in đồng, per service and channel",
		help: `Adds up the live notifications created from --from to --to (both days
included, Asia/Ho_Chi_Minh), per service and channel: how many, SMS parts
sent, delivered, failed, still pending, and their cost in đồng as recorded
when each was sent (sms.price_vnd_per_part × parts, zalo.price_vnd; email
costs nothing). Test keys' notifications are not counted. --csv writes
comma-separated values with a header line instead of a table.`,
		flags: func(fs *flag.FlagSet) {
			fs.String("from", "", "first day, yyyy-mm-dd")
			fs.String("to", "", "last day, yyyy-mm-dd (included)")
			fs.String("service", "", "only this service")
			fs.Bool("csv", false, "CSV instead of a table")
		},
		run: func(ctx context.Context, c *cli, fs *flag.FlagSet, args []string) error {
			if len(args) != 0 {
				return usagef("usage takes no arguments (want --from and --to)")
			}
			from, to, field, msg := httpapi.ParseUsagePeriod(fs.Lookup("from").Value.String(), fs.Lookup("to").Value.String())
			if field != "" {
				return usagef("usage: --%s: %s", field, msg)
			}
			st, _, err := c.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := notifydb.New(st).Usage(ctx, from, to, fs.Lookup("service").Value.String())
			if err != nil {
				return err
			}
			if fs.Lookup("csv").Value.String() == "true" {
				w := csv.NewWriter(c.stdout)
				w.Write([]string{"service", "channel", "notifications", "sms_parts", "delivered", "failed", "pending", "cost_vnd"})
				for _, u := range rows {
					w.Write([]string{u.Service, u.Channel, itoa(u.Notifications), itoa(u.SMSParts), itoa(u.Delivered), itoa(u.Failed), itoa(u.Pending), itoa(u.CostVND)})
				}
				w.Flush()
				return w.Error()
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "SERVICE\tCHANNEL\tNOTIFICATIONS\tSMS PARTS\tDELIVERED\tFAILED\tPENDING\tCOST (đồng)\t")
			var total int64
			for _, u := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", u.Service, u.Channel, u.Notifications, u.SMSParts, u.Delivered, u.Failed, u.Pending, dong(u.CostVND))
				total += u.CostVND
			}
			fmt.Fprintf(tw, "total\t\t\t\t\t\t\t%s\t\n", dong(total))
			return tw.Flush()
		},
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// dong writes an amount the Vietnamese way: 1.500.000.
func dong(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, '.')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
