package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"congthu/store"
)

// benchFixture is a SQLite store in a temp dir with testUser's account,
// filled once by its build function, and a server on it; TestMain
// closes and removes every fixture a run built.
type benchFixture struct {
	name string
	fill func(ctx context.Context, st *store.Store, acct *store.Account) error
	once sync.Once
	err  error
	dir  string
	st   *store.Store
	srv  *Server
	addr string
}

// benchFixtures are those TestMain closes.
var benchFixtures = []*benchFixture{&bench10k, &bench50k, &benchQResync50k.benchFixture}

// open builds the fixture on first use; it fails b if that failed.
func (f *benchFixture) open(b *testing.B) {
	b.Helper()
	f.once.Do(func() { f.err = f.build() })
	if f.err != nil {
		b.Fatal(f.err)
	}
}

func (f *benchFixture) build() error {
	ctx := context.Background()
	var err error
	if f.dir, err = os.MkdirTemp("", "imapd-"+f.name+"-"); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if f.st, err = store.Open(ctx, store.Options{DataDir: f.dir}, log); err != nil {
		return err
	}
	if _, err := f.st.AddDomain(ctx, "hanoi.gov.vn"); err != nil {
		return err
	}
	acct, err := f.st.AddAccount(ctx, testUser, testPass)
	if err != nil {
		return err
	}
	if err := f.fill(ctx, f.st, acct); err != nil {
		return err
	}
	f.srv = New(Options{AllowInsecureAuth: true}, f.st, nil, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f.addr = ln.Addr().String()
	go f.srv.Serve(ln)
	return nil
}

func (f *benchFixture) close() {
	if f.srv != nil {
		f.srv.Close()
		f.st.Close()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// deliverAll delivers message(i) for i in [0, n) to acct from 64
// goroutines, so that the store's group commit batches them.
func deliverAll(ctx context.Context, st *store.Store, acct *store.Account, n int, message func(i int) []byte) error {
	const workers = 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if _, err := st.Deliver(ctx, &store.Delivery{Raw: message(i), Local: []store.LocalTarget{{AccountID: acct.ID}}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// bench10k: 10,000 messages in one INBOX, notices about dossiers.
var bench10k = benchFixture{name: "bench10k", fill: func(ctx context.Context, st *store.Store, acct *store.Account) error {
	return deliverAll(ctx, st, acct, 10000, func(i int) []byte {
		subj := fmt.Sprintf("Thông báo số %d về việc tiếp nhận hồ sơ", i)
		if i%1000 == 7 {
			subj = fmt.Sprintf("Phiếu yêu cầu bổ sung hồ sơ %d", i)
		}
		body := fmt.Sprintf("Kính gửi Ông/Bà Nguyễn Văn An,\r\nHồ sơ 000.%05d của Ông/Bà đang được xử lý tại Sở Tư pháp.\r\n", i)
		if i%500 == 3 {
			body += "Đề nghị nộp lệ phí 1.500.000 đồng.\r\n"
		}
		return []byte(message(subj, "Một cửa <motcua@hanoi.gov.vn>", body))
	})
}}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range benchFixtures {
		f.close()
	}
	os.Exit(code)
}

func benchClient(b *testing.B) *imapclient.Client {
	b.Helper()
	bench10k.open(b)
	c, err := imapclient.DialInsecure(bench10k.addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkSelect10k: SELECT of a 10,000-message mailbox (target < 50 ms).
func BenchmarkSelect10k(b *testing.B) {
	c := benchClient(b)
	for b.Loop() {
		d, err := c.Select("INBOX", nil).Wait()
		if err != nil || d.NumMessages != 10000 {
			b.Fatalf("SELECT = %+v, %v", d, err)
		}
		if err := c.Unselect().Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetch10k: UID FETCH 1:* (FLAGS ENVELOPE) (target < 1 s).
func BenchmarkFetch10k(b *testing.B) {
	c := benchClient(b)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
		if err != nil || len(msgs) != 10000 {
			b.Fatalf("FETCH = %d, %v", len(msgs), err)
		}
	}
}

// BenchmarkSearchText10k: a folded text SEARCH (target < 500 ms).
func BenchmarkSearchText10k(b *testing.B) {
	c := benchClient(b)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d, err := c.UIDSearch(&imap.SearchCriteria{Text: []string{"le phi 1.500.000 dong"}}, nil).Wait()
		if err != nil || len(d.AllUIDs()) != 20 {
			b.Fatalf("SEARCH = %v, %v", d, err)
		}
	}
}

// BenchmarkSearchSubject10k: SUBJECT with diacritics folded.
func BenchmarkSearchSubject10k(b *testing.B) {
	c := benchClient(b)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "phieu yeu cau bo sung"}}}, nil).Wait()
		if err != nil || len(d.AllUIDs()) != 10 {
			b.Fatalf("SEARCH = %v, %v", d, err)
		}
	}
}

// BenchmarkIdleConnMemory reports the server's memory per IMAP connection
// that is logged in, has INBOX selected and is in IDLE (heap and
// goroutine stacks, after a GC), over plain TCP and implicit TLS. The
// clients are bare sockets that send the commands and read nothing more
// than needed, so nearly all of the growth is the server's.
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, tlsOn := range []bool{false, true} {
		name := "plain"
		if tlsOn {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			const n = 500
			e := newEnv(b, envOptions{opts: Options{AllowInsecureAuth: true}})
			e.deliver("INBOX", message("Thông báo", "Một cửa <motcua@hanoi.gov.vn>", "x"))
			addr := e.addr
			if tlsOn {
				addr = e.tlsAddr
			}
			dial := func() (net.Conn, *bufio.Reader) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				if tlsOn {
					c = tls.Client(c, &tls.Config{InsecureSkipVerify: true})
				}
				br := bufio.NewReaderSize(c, 512)
				expect := func(prefix string) {
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							b.Fatalf("waiting for %q: %v", prefix, err)
						}
						if strings.HasPrefix(line, prefix) {
							return
						}
					}
				}
				expect("* OK")
				fmt.Fprintf(c, "a LOGIN %s \"%s\"\r\n", testUser, testPass)
				expect("a OK")
				fmt.Fprintf(c, "b SELECT INBOX\r\n")
				expect("b OK")
				fmt.Fprintf(c, "c IDLE\r\n")
				expect("+")
				return c, br
			}
			c, _ := dial() // warm up (auth cache, mailbox state)
			defer c.Close()
			mem := func() (heap, stack uint64) {
				var ms runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&ms)
				return ms.HeapInuse, ms.StackInuse
			}
			// Measured once: later rounds would reuse the first one's
			// freed memory and cached stacks.
			heap0, stack0 := mem()
			conns := make([]net.Conn, n)
			for i := range conns {
				conns[i], _ = dial()
			}
			time.Sleep(100 * time.Millisecond)
			heap1, stack1 := mem()
			for _, c := range conns {
				c.Close()
			}
			for b.Loop() {
				// Not a timing benchmark.
			}
			b.ReportMetric(float64(heap1+stack1-heap0-stack0)/n, "B/conn")
			b.ReportMetric(float64(stack1-stack0)/n, "stackB/conn")
		})
	}
}

// BenchmarkSearchSentSince10k: SENTSINCE, which reads each message's
// Date as ENVELOPE does.
func BenchmarkSearchSentSince10k(b *testing.B) {
	c := benchClient(b)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	since := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		d, err := c.UIDSearch(&imap.SearchCriteria{SentSince: since}, nil).Wait()
		if err != nil || len(d.AllUIDs()) != 10000 {
			b.Fatalf("SEARCH = %d UIDs, %v", len(d.AllUIDs()), err)
		}
	}
}
