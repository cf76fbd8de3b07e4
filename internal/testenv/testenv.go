// Package testenv gives tests the real services they run against: a
// redis-server and a PostgreSQL cluster started for the test run on their
// own ports and temporary directories.
//
// scripts/test.sh starts one redis-server and one PostgreSQL cluster for the
// whole run and exports CONGTHU_TEST_REDIS_URL and CONGTHU_TEST_POSTGRES_URL.
// When they are not set (a plain "go test" on a developer machine) the first
// test that asks starts its own instances for the package's test process,
// which needs redis-server and PostgreSQL 15 installed (scripts/test.sh
// installs them on Debian).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// RedisServer is a redis-server process owned by a test.
type RedisServer struct {
	Addr string // host:port
	dir  string
	cmd  *exec.Cmd
	port int
}

// URL returns the redis:// URL of database db on this server.
func (r *RedisServer) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr, db) }

// Stop kills the server (like a crash: no SAVE).
func (r *RedisServer) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// Start starts the server again on the same port and directory (after Stop).
func (r *RedisServer) Start(t testing.TB) {
	t.Helper()
	if r.cmd != nil {
		return
	}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
}

func (r *RedisServer) start() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server not installed (scripts/test.sh installs it): %w", err)
	}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--databases", "4096",
		"--maxmemory-policy", "noeviction", "--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c := redis.NewClient(&redis.Options{Addr: r.Addr})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer", r.Addr)
}

// StartRedis starts a redis-server of the test's own, stopped at cleanup.
// Use it for tests that restart or flush Redis; others use Redis.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	port := FreePort(t)
	r := &RedisServer{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: t.TempDir(), port: port}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

var (
	sharedRedisOnce sync.Once
	sharedRedisAddr string
	sharedRedisErr  error
)

func sharedRedis() (string, error) {
	sharedRedisOnce.Do(func() {
		if u := os.Getenv("CONGTHU_TEST_REDIS_URL"); u != "" {
			opt, err := redis.ParseURL(u)
			if err != nil {
				sharedRedisErr = err
				return
			}
			sharedRedisAddr = opt.Addr
			return
		}
		dir, err := os.MkdirTemp("", "congthu-redis-")
		if err != nil {
			sharedRedisErr = err
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			sharedRedisErr = err
			return
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		r := &RedisServer{Addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, port: port}
		sharedRedisErr = r.start()
		sharedRedisAddr = r.Addr
		// The test process exits without cleanups for package-wide
		// servers: a watchdog stops this one after it.
		if sharedRedisErr == nil {
			reapAfterExit(fmt.Sprintf("kill -9 %d; rm -rf %s", r.cmd.Process.Pid, dir))
		}
	})
	return sharedRedisAddr, sharedRedisErr
}

// Redis returns the URL of an empty Redis database of the test's own on the
// shared server. Databases are handed out through a counter in database 0, so
// test processes of several packages never share one. Pub/sub channels are
// server-wide: tests that use them should name channels uniquely (see Name).
func Redis(t testing.TB) string {
	t.Helper()
	addr, err := sharedRedis()
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	n, err := c.Incr(ctx, "congthu-test:next-db").Result()
	if err != nil {
		t.Fatalf("redis: allocate database: %v", err)
	}
	db := int(1 + (n-1)%4095)
	dc := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	defer dc.Close()
	if err := dc.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redis: flush db %d: %v", db, err)
	}
	return fmt.Sprintf("redis://%s/%d", addr, db)
}

// RedisClient returns a client of the Redis database at url (from Redis
// or RedisServer.URL), closed at the end of the test.
func RedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Name returns a short random name with the given prefix, for databases,
// channels and keys that must not collide between tests.
func Name(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

var (
	sharedPGOnce sync.Once
	sharedPGURL  string
	sharedPGErr  error
)

const pgBin = "/usr/lib/postgresql/15/bin"

// StartPostgresCluster initdbs and starts a PostgreSQL cluster in dir on
// port and returns its admin URL. As root, it runs the server as the
// postgres user, since initdb and pg_ctl refuse to run as root.
func StartPostgresCluster(dir string, port int) (string, error) {
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		return "", fmt.Errorf("PostgreSQL 15 not installed (scripts/test.sh installs it): %w", err)
	}
	run := func(args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		}
		return exec.Command(args[0], args[1:]...)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(filepath.Dir(dir), 0o755)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := run(pgBin+"/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8").CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c max_connections=300 -c fsync=on", port, dir)
	if out, err := run(pgBin+"/pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "pg.log"), "-w", "start").CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

func sharedPostgres() (string, error) {
	sharedPGOnce.Do(func() {
		if u := os.Getenv("CONGTHU_TEST_POSTGRES_URL"); u != "" {
			sharedPGURL = u
			return
		}
		dir, err := os.MkdirTemp("", "congthu-pg-")
		if err != nil {
			sharedPGErr = err
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			sharedPGErr = err
			return
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		sharedPGURL, sharedPGErr = StartPostgresCluster(dir, port)
		stop := fmt.Sprintf("%s/pg_ctl -D %s/data -m immediate stop", pgBin, dir)
		if os.Geteuid() == 0 {
			stop = "runuser -u postgres -- " + stop
		}
		reapAfterExit(stop + " >/dev/null 2>&1; rm -rf " + dir)
	})
	return sharedPGURL, sharedPGErr
}

// Postgres returns the URL of a new, empty PostgreSQL database of the test's
// own on the shared cluster, dropped at cleanup.
func Postgres(t testing.TB) string {
	t.Helper()
	admin, err := sharedPostgres()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("postgres: connect: %v", err)
	}
	defer conn.Close(ctx)
	name := Name("t_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// GoBinary builds ./cmd/congthu once per test process into a temp dir and
// returns the path of the binary, for end-to-end tests against the real
// program.
func GoBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("CONGTHU_TEST_BIN"); p != "" {
			// Run the tests against another build, e.g. an older
			// commit, to show which probes it fails.
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "congthu-bin-")
		if err != nil {
			binErr = err
			return
		}
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "congthu")
		cmd := exec.Command("go", "build", "-tags", buildTags, "-o", binPath, "./cmd/congthu")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not in the congthu module")
	}
	return filepath.Dir(gomod), nil
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago (all n listeners are open at once, so no port repeats).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// reapAfterExit runs the shell command cmd once this test process has
// exited: package-wide servers (one redis-server, one PostgreSQL cluster
// per test binary) outlive the tests otherwise, since TestMain-less
// packages have no hook at exit. The watchdog is a detached sh polling
// this process's PID.
func reapAfterExit(cmd string) {
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s", os.Getpid(), cmd)
	c := exec.Command("sh", "-c", script)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err == nil {
		go c.Wait()
	}
}
