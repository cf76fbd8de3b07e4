package loginlimit

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testRedis, when set, makes newTest's limiters keep their state in
// Redis (TestSharedInRedis runs the behaviour tests that way).
var testRedis redis.UniversalClient

func newTest(opts Options) (*Limiter, *clock) {
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	opts.Now = c.now
	opts.Redis = testRedis
	return New(opts), c
}

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
)

func TestAccountLockout(t *testing.T) {
	l, c := newTest(Options{AccountFailures: 5, IPFailures: 100, DelayAfter: -1})
	for i := 0; i < 4; i++ {
		// Failures from different addresses all count for the account.
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		if _, locked := l.Check(ip, "A@x.vn"); locked {
			t.Fatalf("locked after %d failures, want not yet", i)
		}
		l.Fail(ip, "a@X.vn")
	}
	if _, locked := l.Check(ip1, "a@x.vn"); locked {
		t.Fatal("locked after 4 failures, want 5")
	}
	l.Fail(ip1, "a@x.vn")
	if _, locked := l.Check(ip2, "a@x.vn"); !locked {
		t.Fatal("not locked after 5 failures")
	}
	if _, locked := l.Check(ip2, "b@x.vn"); locked {
		t.Fatal("other account locked")
	}
	c.add(15*time.Minute - time.Second)
	if _, locked := l.Check(ip2, "a@x.vn"); !locked {
		t.Fatal("lock ended early")
	}
	c.add(time.Second)
	if _, locked := l.Check(ip2, "a@x.vn"); locked {
		t.Fatal("still locked after the lockout")
	}
}

func TestIPLockout(t *testing.T) {
	l, _ := newTest(Options{AccountFailures: 100, IPFailures: 3, DelayAfter: -1})
	for i := 0; i < 3; i++ {
		l.Fail(ip1, fmt.Sprintf("u%d@x.vn", i))
	}
	if _, locked := l.Check(ip1, "new@x.vn"); !locked {
		t.Fatal("address not locked after 3 failures")
	}
	if _, locked := l.Check(ip2, "new@x.vn"); locked {
		t.Fatal("other address locked")
	}
	// A success does not unlock the address.
	l.Succeed(ip1, "u0@x.vn")
	if _, locked := l.Check(ip1, "u0@x.vn"); !locked {
		t.Fatal("success unlocked the address")
	}
}

func TestIPv6Prefix(t *testing.T) {
	l, _ := newTest(Options{IPFailures: 2, DelayAfter: -1})
	l.Fail(netip.MustParseAddr("2001:db8::1"), "")
	l.Fail(netip.MustParseAddr("2001:db8::2"), "")
	if _, locked := l.Check(netip.MustParseAddr("2001:db8::ffff"), ""); !locked {
		t.Fatal("same /64 not locked")
	}
	if _, locked := l.Check(netip.MustParseAddr("2001:db8:0:1::1"), ""); locked {
		t.Fatal("other /64 locked")
	}
}

func TestWindowAndSuccess(t *testing.T) {
	l, c := newTest(Options{AccountFailures: 3, DelayAfter: -1})
	l.Fail(ip1, "a@x.vn")
	l.Fail(ip1, "a@x.vn")
	c.add(16 * time.Minute) // both fall out of the window
	l.Fail(ip1, "a@x.vn")
	l.Fail(ip1, "a@x.vn")
	if _, locked := l.Check(ip1, "a@x.vn"); locked {
		t.Fatal("old failures counted")
	}
	l.Succeed(ip1, "a@x.vn")
	l.Fail(ip1, "a@x.vn")
	l.Fail(ip1, "a@x.vn")
	if _, locked := l.Check(ip1, "a@x.vn"); locked {
		t.Fatal("success did not reset the account")
	}
}

// A success does not lift a lockout that began after its Check (an
// attacker's failures while the owner's login was in flight).
func TestSucceedKeepsLockout(t *testing.T) {
	l, _ := newTest(Options{AccountFailures: 3, DelayAfter: -1})
	if _, locked := l.Check(ip1, "a@x.vn"); locked {
		t.Fatal("locked before any failure")
	}
	for range 3 {
		l.Fail(ip2, "a@x.vn")
	}
	l.Succeed(ip1, "a@x.vn")
	if _, locked := l.Check(ip1, "a@x.vn"); !locked {
		t.Fatal("a success lifted the lockout")
	}
}

func TestDelay(t *testing.T) {
	l, _ := newTest(Options{AccountFailures: 100, IPFailures: 100, DelayAfter: 2, BaseDelay: time.Second, MaxDelay: 5 * time.Second})
	tests := []struct {
		fails int
		want  time.Duration
	}{
		{0, 0}, {1, 0}, {2, time.Second}, {3, 2 * time.Second}, {4, 4 * time.Second}, {5, 5 * time.Second}, {9, 5 * time.Second},
	}
	n := 0
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.fails), func(t *testing.T) {
			for ; n < tt.fails; n++ {
				l.Fail(ip1, "a@x.vn")
			}
			if got, _ := l.Check(ip1, "a@x.vn"); got != tt.want {
				t.Errorf("wait after %d failures = %v, want %v", tt.fails, got, tt.want)
			}
		})
	}
}

func TestBoundedMemory(t *testing.T) {
	l, c := newTest(Options{MaxEntries: 1000, AccountFailures: 2, DelayAfter: -1})
	l.Fail(ip1, "victim@x.vn")
	l.Fail(ip1, "victim@x.vn") // locked: kept while evicting
	for i := 0; i < 50000; i++ {
		c.add(time.Millisecond)
		l.Fail(netip.Addr{}, fmt.Sprintf("guess%d@x.vn", i))
		if n := l.Len(); n > 1000 {
			t.Fatalf("%d entries, want at most 1000", n)
		}
	}
	if _, locked := l.Check(ip2, "victim@x.vn"); !locked {
		t.Fatal("locked entry evicted")
	}
}

func TestAddrOf(t *testing.T) {
	tests := []struct {
		in   net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 25}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 25}, "192.0.2.7"},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, "2001:db8::1"},
		{nil, "invalid IP"},
	}
	for _, tt := range tests {
		if got := AddrOf(tt.in).String(); got != tt.want {
			t.Errorf("AddrOf(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	l, _ := newTest(Options{})
	if testRedis != nil {
		defer func() {
			if l.Len() != 0 {
				t.Errorf("%d keys in memory while Redis answered", l.Len())
			}
		}()
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				l.Check(ip1, "a@x.vn")
				l.Fail(ip1, "a@x.vn")
				l.Succeed(ip1, "a@x.vn")
			}
		}()
	}
	wg.Wait()
}
