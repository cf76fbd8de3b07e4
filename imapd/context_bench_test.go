package imapd

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// benchConn is a raw IMAP connection for benchmarks.
type benchConn struct {
	b  *testing.B
	c  net.Conn
	br *bufio.Reader
	n  int
}

// bench50kRaw logs in to the 50,000-message fixture and selects INBOX.
func bench50kRaw(b *testing.B) *benchConn {
	b.Helper()
	bench50kClient(b).Close() // builds the fixture once
	c, err := net.Dial("tcp", bench50k.addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	r := &benchConn{b: b, c: c, br: bufio.NewReader(c)}
	r.read("* OK")
	r.do(fmt.Sprintf(`LOGIN %s "%s"`, testUser, testPass))
	r.do("SELECT INBOX")
	return r
}

func (r *benchConn) read(prefix string) []string {
	r.b.Helper()
	r.c.SetReadDeadline(time.Now().Add(time.Minute))
	var ls []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.b.Fatalf("waiting for %q: %v", prefix, err)
		}
		ls = append(ls, line)
		if strings.HasPrefix(line, prefix) {
			return ls
		}
	}
}

// do runs a command and returns its lines; it must end OK.
func (r *benchConn) do(cmd string) []string {
	r.b.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	if _, err := fmt.Fprintf(r.c, "%s %s\r\n", tag, cmd); err != nil {
		r.b.Fatal(err)
	}
	ls := r.read(tag + " ")
	if !strings.HasPrefix(ls[len(ls)-1], tag+" OK") {
		r.b.Fatalf("%s: %q", cmd, ls)
	}
	return ls
}

// BenchmarkContextBulk50k: UID STORE 1:* ±FLAGS.SILENT (\Deleted), all
// 50,000 messages leaving or entering a SORT UPDATE context at once;
// "none" is the same STORE without a context.
func BenchmarkContextBulk50k(b *testing.B) {
	for _, bc := range []struct{ name, context string }{
		{"none", ""},
		{"sort-subject", "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNDELETED"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bench50kRaw(b)
			if bc.context != "" {
				r.do(bc.context)
			}
			b.Cleanup(func() { r.do(`UID STORE 1:* -FLAGS.SILENT (\Deleted)`) })
			op := "+"
			for b.Loop() {
				ls := r.do(fmt.Sprintf(`UID STORE 1:* %sFLAGS.SILENT (\Deleted)`, op))
				if bc.context != "" {
					if l := ls[len(ls)-2]; !strings.HasPrefix(l, "* ESEARCH") || strings.Count(l, "(") != 2 {
						b.Fatalf("no update, or not one item: %.300q", ls)
					}
				}
				if op == "+" {
					op = "-"
				} else {
					op = "+"
				}
			}
		})
	}
}

// BenchmarkContextUpdate50k: one STORE that moves a message into or out
// of an UPDATE context of the 50,000-message fixture, with the ADDTO or
// REMOVEFROM it causes, through the server; "none" is the same STORE
// without a context. Each op alternates +FLAGS and -FLAGS.
func BenchmarkContextUpdate50k(b *testing.B) {
	for _, bc := range []struct {
		name, context, flag string
	}{
		{"none", "", `\Flagged`},
		{"search-flagged", "UID SEARCH RETURN (UPDATE) FLAGGED", `\Flagged`},
		{"search-body", `UID SEARCH RETURN (UPDATE) UNDELETED BODY "xử lý"`, `\Deleted`},
		{"sort-subject", "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNDELETED", `\Deleted`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bench50kRaw(b)
			if bc.context != "" {
				r.do(bc.context)
			}
			uid := uint32(bench50kSize / 2)
			b.Cleanup(func() { r.do(fmt.Sprintf(`UID STORE %d -FLAGS.SILENT (%s)`, uid, bc.flag)) })
			op := "+"
			for b.Loop() {
				ls := r.do(fmt.Sprintf(`UID STORE %d %sFLAGS.SILENT (%s)`, uid, op, bc.flag))
				if bc.context != "" && !strings.HasPrefix(ls[len(ls)-2], "* ESEARCH") {
					b.Fatalf("no update: %q", ls)
				}
				if op == "+" {
					op = "-"
				} else {
					op = "+"
				}
			}
		})
	}
}

// BenchmarkContextSeqSets1000: an update context's thousand "1:*" over a
// view of 100,000 messages with every other UID expunged made UID sets
// (the part of UPDATE done under the mailbox's shared lock).
func BenchmarkContextSeqSets1000(b *testing.B) {
	const n, sets = 100_000, 1000
	sel := &selection{}
	for i := range n {
		sel.view = append(sel.view, uint32(2*i+1))
	}
	b.ReportAllocs()
	for b.Loop() {
		q := &query{seqSets: make([]imap.SeqSet, sets)}
		for i := range q.seqSets {
			q.seqSets[i] = imap.SeqSet{{Start: 1, Stop: n}}
		}
		sel.seqSetsToUIDs(q)
	}
}

// BenchmarkContextKeep50k: the memory a SORT UPDATE context of all
// 50,000 messages of the fixture keeps, as live heap after a collection,
// per message (kept-B/msg); each op makes and cancels the context.
func BenchmarkContextKeep50k(b *testing.B) {
	for _, bc := range []struct{ name, keys string }{
		{"subject", "(SUBJECT)"},
		{"from-date", "(DISPLAYFROM DATE)"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bench50kRaw(b)
			var kept uint64
			var ms runtime.MemStats
			for b.Loop() {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				before := ms.HeapAlloc
				r.do("UID SORT RETURN (UPDATE) " + bc.keys + " UTF-8 ALL")
				runtime.GC()
				runtime.ReadMemStats(&ms)
				kept += ms.HeapAlloc - before
				r.do(fmt.Sprintf(`CANCELUPDATE "t%d"`, r.n))
			}
			b.ReportMetric(float64(kept)/float64(b.N)/bench50kSize, "kept-B/msg")
		})
	}
}
