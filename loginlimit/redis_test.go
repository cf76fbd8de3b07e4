package loginlimit

import (
	"context"
	"testing"
	"time"

	"congthu/internal/testenv"
)

// The behaviour tests again, with the state in Redis.
func TestSharedInRedis(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	testRedis = rdb
	defer func() { testRedis = nil }()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"AccountLockout", TestAccountLockout},
		{"IPLockout", TestIPLockout},
		{"IPv6Prefix", TestIPv6Prefix},
		{"WindowAndSuccess", TestWindowAndSuccess},
		{"SucceedKeepsLockout", TestSucceedKeepsLockout},
		{"Delay", TestDelay},
		{"Concurrent", TestConcurrent},
	} {
		if err := rdb.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name, tc.fn)
		if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n == 0 {
			t.Fatalf("%s: %d Redis keys (%v): the state did not go to Redis", tc.name, n, err)
		}
	}
}

// Two nodes sharing Redis give an attacker one allowance, not two: the
// failures on both count together, the lockout holds on both, and the
// keys expire once they no longer matter.
func TestNodesShareCounts(t *testing.T) {
	rdb := testenv.RedisClient(t, testenv.Redis(t))
	opts := Options{AccountFailures: 6, IPFailures: 100, DelayAfter: -1, Redis: rdb}
	a, b := New(opts), New(opts)
	for i := range 3 {
		a.Fail(ip1, "nva@hanoi.gov.vn")
		b.Fail(ip2, "nva@hanoi.gov.vn")
		if _, locked := a.Check(ip1, "nva@hanoi.gov.vn"); locked != (i == 2) {
			t.Fatalf("after %d failures on each node: locked %v", i+1, locked)
		}
	}
	if _, locked := b.Check(ip2, "NVA@hanoi.gov.vn"); !locked {
		t.Fatal("the lockout from node a does not hold on node b")
	}
	ttl, err := rdb.PTTL(context.Background(), redisKeys("acct:nva@hanoi.gov.vn")[1]).Result()
	if err != nil || ttl <= 15*time.Minute || ttl > 16*time.Minute+time.Second {
		t.Fatalf("lockout key expires in %v (%v), want just over the 15 min lockout", ttl, err)
	}
	ttl, err = rdb.PTTL(context.Background(), redisKeys("ip:192.0.2.1")[0]).Result()
	if err != nil || ttl <= 0 || ttl > 16*time.Minute+time.Second {
		t.Fatalf("failure set expires in %v (%v), want within the window and a minute", ttl, err)
	}
}

// With Redis gone the limiter still limits, in this process's memory; after
// Redis lost its scripts it loads them again.
func TestRedisDownFallsBackToMemory(t *testing.T) {
	srv := testenv.StartRedis(t)
	rdb := testenv.RedisClient(t, srv.URL(0))
	l := New(Options{AccountFailures: 3, IPFailures: 100, DelayAfter: -1, Redis: rdb, RedisTimeout: 200 * time.Millisecond})
	l.Fail(ip1, "a@x.vn") // loads the script
	if err := rdb.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	l.Fail(ip1, "a@x.vn")
	l.Fail(ip1, "a@x.vn")
	if _, locked := l.Check(ip1, "a@x.vn"); !locked {
		t.Fatal("not locked after 3 failures around a SCRIPT FLUSH")
	}
	if l.Len() != 0 {
		t.Fatalf("%d keys in memory while Redis answered", l.Len())
	}

	srv.Stop()
	for i := range 3 {
		if _, locked := l.Check(ip2, "b0@x.vn"); locked {
			t.Fatalf("locked after %d failures with Redis down", i)
		}
		l.Fail(ip2, "b0@x.vn")
	}
	if _, locked := l.Check(ip2, "b0@x.vn"); !locked {
		t.Fatal("with Redis down, 3 failures did not lock the account")
	}
	// Redis is back: what was counted meanwhile still holds.
	srv.Start(t)
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if _, locked := l.Check(ip2, "b0@x.vn"); !locked {
		t.Fatal("the lockout counted in memory was forgotten when Redis came back")
	}
}
