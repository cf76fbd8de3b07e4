// Command imapload puts an IMAP server under a mixed load of many clients,
// or holds many idle connections open, and reports what it measured.
//
// Load (the default): -clients goroutines each loop over one session,
//
//	LOGIN, SELECT INBOX, FETCH n:m (FLAGS ENVELOPE) of -fetch messages,
//	FETCH k (BODY[]) of one, STORE k +FLAGS/-FLAGS (\Flagged) (toggled),
//	APPEND of a -size byte message, LOGOUT
//
// as the users of -user (a format with %d, 1..-users) in turn, and at the
// end prints operations per second (an operation is one command) and
// per-command latency percentiles and errors. -seed first appends messages
// to every user's INBOX.
//
// Idle (-idle N): opens N connections, each logged in with INBOX selected
// and in IDLE (RFC 2177), then reports the server's resident memory read
// from /proc/-pid/status. Raise the open-files limit first (ulimit -n).
//
//	go run ./bench/imapload -addr 127.0.0.1:1143 -users 20 -clients 32 -duration 60s
//	go run ./bench/imapload -addr 127.0.0.1:1143 -users 250 -idle 1000 -pid 1234
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

type config struct {
	addr     string
	tls      bool
	users    int
	user     string
	password string
	clients  int
	duration time.Duration
	seed     int
	fetch    int
	size     int
	idle     int
	pid      int
	settle   time.Duration
	hold     time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:1143", "IMAP server `host:port`")
	flag.BoolVar(&c.tls, "tls", false, "implicit TLS (certificate not verified); default plain IMAP, which needs the server's imap.allow_insecure_auth")
	flag.IntVar(&c.users, "users", 10, "number of accounts")
	flag.StringVar(&c.user, "user", "load%d@bench.gov.vn", "account address `format`, %d is 1..users")
	flag.StringVar(&c.password, "password", "load-password-1", "password of every account")
	flag.IntVar(&c.clients, "clients", 32, "concurrent clients (load)")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long to measure (load)")
	flag.IntVar(&c.seed, "seed", 0, "append this many messages to each user's INBOX first")
	flag.IntVar(&c.fetch, "fetch", 5, "messages per FETCH (FLAGS ENVELOPE)")
	flag.IntVar(&c.size, "size", 10<<10, "size of appended messages in bytes")
	flag.IntVar(&c.idle, "idle", 0, "instead of load: hold this many IDLE connections")
	flag.IntVar(&c.pid, "pid", 0, "server process ID: report its resident memory")
	flag.DurationVar(&c.settle, "settle", 15*time.Second, "wait this long after the last IDLE connection before reading memory")
	flag.DurationVar(&c.hold, "hold", 0, "keep the IDLE connections this long after reporting (0: close at once)")
	flag.Parse()
	if c.users < 1 || c.clients < 1 || c.fetch < 1 || c.size < 200 {
		fmt.Fprintln(os.Stderr, "imapload: -users, -clients, -fetch must be positive and -size at least 200")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if c.seed > 0 {
		err = seed(ctx, &c)
	}
	if err == nil && c.idle > 0 {
		err = idle(ctx, &c)
	} else if err == nil {
		err = load(ctx, &c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imapload:", err)
		os.Exit(1)
	}
}

func (c *config) userName(i int) string { return fmt.Sprintf(c.user, i%c.users+1) }

func (c *config) dial() (*imapclient.Client, error) {
	if c.tls {
		return imapclient.DialTLS(c.addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	}
	return imapclient.DialInsecure(c.addr, nil)
}

// message returns a message of about size bytes.
func message(size, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: =?UTF-8?Q?M=E1=BB=99t_c=E1=BB=ADa?= <motcua@bench.gov.vn>\r\nTo: load@bench.gov.vn\r\n"+
		"Subject: =?UTF-8?Q?Th=C3=B4ng_b=C3=A1o_h=E1=BB=93_s=C6=A1?= %d\r\nDate: %s\r\nMessage-ID: <%d.%d@bench.gov.vn>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		n, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), n)
	line := "Kính gửi Ông/Bà, hồ sơ của Ông/Bà đang được xử lý tại bộ phận một cửa.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String()[:size-2] + "\r\n")
}

func appendMsg(cl *imapclient.Client, raw []byte) error {
	cmd := cl.Append("INBOX", int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		cmd.Close()
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// seed appends c.seed messages to every user's INBOX, a few users at a
// time.
func seed(ctx context.Context, c *config) error {
	t0 := time.Now()
	sem := make(chan struct{}, 8)
	errs := make(chan error, c.users)
	var wg sync.WaitGroup
	for u := range c.users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cl, err := c.dial()
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			if err := cl.Login(c.userName(u), c.password).Wait(); err != nil {
				errs <- fmt.Errorf("login %s: %w", c.userName(u), err)
				return
			}
			for i := range c.seed {
				if ctx.Err() != nil {
					return
				}
				if err := appendMsg(cl, message(c.size, i)); err != nil {
					errs <- fmt.Errorf("seed %s: %w", c.userName(u), err)
					return
				}
			}
			cl.Logout().Wait()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("seeded %d messages into each of %d INBOXes in %s\n", c.seed, c.users, time.Since(t0).Round(time.Millisecond))
	return nil
}

// The commands of a load session, in order.
const (
	opLogin = iota
	opSelect
	opFetchEnvelope
	opFetchBody
	opStore
	opAppend
	opLogout
	nOps
)

var opNames = [nOps]string{"LOGIN", "SELECT", "FETCH ENVELOPE", "FETCH BODY[]", "STORE", "APPEND", "LOGOUT"}

// stats is one client's record.
type stats struct {
	lat      [nOps][]time.Duration
	errs     [nOps]int
	connErrs int
	lastErr  error
}

func load(ctx context.Context, c *config) error {
	fmt.Printf("load: %d clients over %d users on %s for %s (fetch %d, append %d bytes)\n", c.clients, c.users, c.addr, c.duration, c.fetch, c.size)
	raw := message(c.size, 0)
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	all := make([]*stats, c.clients)
	var sessions atomic.Int64
	var wg sync.WaitGroup
	cpu0, ownCPU0 := procCPU(c.pid), selfCPU()
	t0 := time.Now()
	for i := range c.clients {
		st := &stats{}
		all[i] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(t0.UnixNano())))
			for n := i; ctx.Err() == nil; n += c.clients {
				if err := session(ctx, c, st, rng, c.userName(n), raw); err != nil {
					st.lastErr = err
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				sessions.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	report(c, all, elapsed, sessions.Load())
	fmt.Printf("CPU: imapload %.1fs", (selfCPU() - ownCPU0).Seconds())
	if c.pid > 0 {
		fmt.Printf(", server %.1fs", (procCPU(c.pid) - cpu0).Seconds())
	}
	fmt.Printf(" in %.1fs\n", elapsed.Seconds())
	return nil
}

// errDeadline ends a session at the end of the run; the command was not
// sent.
var errDeadline = errors.New("run over")

// session runs one LOGIN ... LOGOUT; commands that complete after the
// deadline are not counted.
func session(ctx context.Context, c *config, st *stats, rng *rand.Rand, user string, raw []byte) error {
	cl, err := c.dial()
	if err != nil {
		st.connErrs++
		return err
	}
	defer cl.Close()
	do := func(op int, f func() error) error {
		if ctx.Err() != nil {
			return errDeadline
		}
		t := time.Now()
		err := f()
		d := time.Since(t)
		if ctx.Err() != nil {
			return errDeadline
		}
		if err != nil {
			st.errs[op]++
			return fmt.Errorf("%s: %w", opNames[op], err)
		}
		st.lat[op] = append(st.lat[op], d)
		return nil
	}
	end := func(err error) error {
		if errors.Is(err, errDeadline) {
			return nil
		}
		return err
	}
	if err := do(opLogin, func() error { return cl.Login(user, c.password).Wait() }); err != nil {
		return end(err)
	}
	var n uint32
	if err := do(opSelect, func() error {
		d, err := cl.Select("INBOX", nil).Wait()
		if err == nil {
			n = d.NumMessages
		}
		return err
	}); err != nil {
		return end(err)
	}
	if n > 0 {
		k := uint32(c.fetch)
		start := uint32(1)
		if n > k {
			start = 1 + rng.Uint32N(n-k+1)
		}
		set := imap.SeqSetNum()
		set.AddRange(start, min(start+k-1, n))
		if err := do(opFetchEnvelope, func() error {
			msgs, err := cl.Fetch(set, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
			if err == nil && len(msgs) == 0 {
				err = errors.New("no messages")
			}
			return err
		}); err != nil {
			return end(err)
		}
		one := imap.SeqSetNum(1 + rng.Uint32N(n))
		if err := do(opFetchBody, func() error {
			msgs, err := cl.Fetch(one, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
			if err == nil && (len(msgs) != 1 || len(msgs[0].BodySection) != 1) {
				err = errors.New("no body")
			}
			return err
		}); err != nil {
			return end(err)
		}
		op := imap.StoreFlagsAdd
		if rng.IntN(2) == 0 {
			op = imap.StoreFlagsDel
		}
		if err := do(opStore, func() error {
			return cl.Store(one, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
		}); err != nil {
			return end(err)
		}
	}
	if err := do(opAppend, func() error { return appendMsg(cl, raw) }); err != nil {
		return end(err)
	}
	return end(do(opLogout, func() error { return cl.Logout().Wait() }))
}

func report(c *config, all []*stats, elapsed time.Duration, sessions int64) {
	var lat [nOps][]time.Duration
	var errs [nOps]int
	connErrs, ops := 0, 0
	var lastErr error
	for _, st := range all {
		for op := range nOps {
			lat[op] = append(lat[op], st.lat[op]...)
			errs[op] += st.errs[op]
			ops += len(st.lat[op])
		}
		connErrs += st.connErrs
		if st.lastErr != nil {
			lastErr = st.lastErr
		}
	}
	secs := elapsed.Seconds()
	fmt.Printf("elapsed %.1fs, %d sessions (%.1f/s), %d commands: %.0f ops/s\n", secs, sessions, float64(sessions)/secs, ops, float64(ops)/secs)
	fmt.Printf("%-15s %8s %9s %9s %9s %9s %7s\n", "command", "count", "p50", "p90", "p99", "max", "errors")
	var total []time.Duration
	for op := range nOps {
		l := lat[op]
		total = append(total, l...)
		slices.Sort(l)
		fmt.Printf("%-15s %8d %9s %9s %9s %9s %7d\n", opNames[op], len(l), pct(l, 50), pct(l, 90), pct(l, 99), pct(l, 100), errs[op])
	}
	slices.Sort(total)
	nerr := connErrs
	for _, e := range errs {
		nerr += e
	}
	fmt.Printf("%-15s %8d %9s %9s %9s %9s %7d\n", "all", len(total), pct(total, 50), pct(total, 90), pct(total, 99), pct(total, 100), nerr)
	if connErrs > 0 {
		fmt.Printf("connection errors: %d\n", connErrs)
	}
	if lastErr != nil {
		fmt.Printf("last error: %v\n", lastErr)
	}
	if c.pid > 0 {
		printMem(c.pid)
	}
}

// pct returns the p-th percentile of sorted durations.
func pct(l []time.Duration, p int) string {
	if len(l) == 0 {
		return "-"
	}
	i := min(len(l)-1, (len(l)*p+99)/100-1)
	return l[max(i, 0)].Round(10 * time.Microsecond).String()
}

// idle opens c.idle connections in IDLE and reports the server's memory.
func idle(ctx context.Context, c *config) error {
	fmt.Printf("idle: %d connections over %d users on %s\n", c.idle, c.users, c.addr)
	if c.pid > 0 {
		// Logins before (seeding) leave garbage (argon2id's 19 MiB per
		// verification) that the Go runtime returns to the system over
		// time; let it settle first.
		fmt.Print("now: ")
		printMem(c.pid)
		sleep(ctx, c.settle)
		fmt.Printf("after %s, before connecting: ", c.settle)
		printMem(c.pid)
	}
	type conn struct {
		cl   *imapclient.Client
		idle *imapclient.IdleCommand
	}
	conns := make([]conn, c.idle)
	defer func() {
		for _, cn := range conns {
			if cn.idle != nil {
				cn.idle.Close()
			}
			if cn.cl != nil {
				cn.cl.Close()
			}
		}
	}()
	t0 := time.Now()
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for i := range c.idle {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fail := func(err error) {
				mu.Lock()
				defer mu.Unlock()
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
			}
			cl, err := c.dial()
			if err != nil {
				fail(err)
				return
			}
			conns[i].cl = cl
			if err := cl.Login(c.userName(i), c.password).Wait(); err != nil {
				fail(err)
				return
			}
			if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
				fail(err)
				return
			}
			ic, err := cl.Idle()
			if err != nil {
				fail(err)
				return
			}
			conns[i].idle = ic
		}()
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("%d connections logged in, INBOX selected, in IDLE after %s; waiting %s\n", c.idle, time.Since(t0).Round(time.Millisecond), c.settle)
	if c.pid > 0 {
		fmt.Print("now: ")
		printMem(c.pid)
	}
	if !sleep(ctx, c.settle) {
		return ctx.Err()
	}
	for i, cn := range conns {
		select {
		case <-cn.cl.Closed():
			return fmt.Errorf("connection %d closed by the server", i)
		default:
		}
	}
	if c.pid > 0 {
		fmt.Printf("after %s with %d IDLE connections: ", c.settle, c.idle)
		printMem(c.pid)
	}
	if c.hold > 0 {
		fmt.Printf("holding for %s\n", c.hold)
		select {
		case <-ctx.Done():
		case <-time.After(c.hold):
		}
	}
	return nil
}

// sleep waits d or until ctx is done, and says whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// procCPU returns the user and system CPU time of a process so far (0
// if unknown).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces): state is
	// field 3, utime and stime are fields 14 and 15, in clock ticks
	// (USER_HZ, 100 on Linux).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU returns this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// printMem prints VmRSS, VmHWM and Threads of a process.
func printMem(pid int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "VmRSS", "VmHWM", "Threads":
			out = append(out, k+" "+strings.Join(strings.Fields(v), " "))
		}
	}
	fmt.Println(strings.Join(out, ", "))
}
