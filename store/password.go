package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// argonParams are the parameters new hashes get; tests lower them (the
// race detector makes argon2 very slow).
var argonParams = struct {
	memory, time uint32
	threads      uint8
}{argonMemory, argonTime, argonThreads}

// HashPassword returns an argon2id PHC string for password:
// $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("store: salt: %w", err)
	}
	p := argonParams
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches a stored hash: an
// argon2id PHC string or a bcrypt hash ($2a$, $2b$, $2y$). Unknown or
// malformed hashes never match.
func VerifyPassword(hash, password string) bool {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, password)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	}
	return false
}

func verifyArgon2id(hash, password string) bool {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	// Refuse parameters that would let a stored hash exhaust memory or CPU.
	if m == 0 || m > 1<<21 || t == 0 || t > 64 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 1024 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against for unknown addresses so that they take
// as long as wrong passwords.
var dummyHash = sync.OnceValue(func() string {
	b := make([]byte, 16)
	rand.Read(b)
	h, _ := HashPassword(base64.RawStdEncoding.EncodeToString(b))
	return h
})

// authCache remembers successful verifications, like Dovecot's auth cache:
// per address, the stored hash that was verified and a keyed digest of the
// password. A hit needs the account's current hash to equal the cached one,
// so a password change anywhere invalidates it.
type authCache struct {
	ttl time.Duration
	key []byte // per-process random HMAC key: digests are useless elsewhere

	mu      sync.Mutex
	entries map[string]authEntry

	hits atomic.Int64 // for tests and metrics
}

type authEntry struct {
	hash    string
	digest  [sha256.Size]byte
	expires time.Time
}

// maxAuthCache bounds the cache; when full it is emptied.
const maxAuthCache = 100_000

func newAuthCache(ttl time.Duration) *authCache {
	key := make([]byte, 32)
	rand.Read(key)
	return &authCache{ttl: ttl, key: key, entries: map[string]authEntry{}}
}

func (c *authCache) digest(password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(password))
	var d [sha256.Size]byte
	copy(d[:], m.Sum(nil))
	return d
}

// hit reports whether password was verified against hash recently.
func (c *authCache) hit(address, hash, password string) bool {
	if c.ttl < 0 {
		return false
	}
	c.mu.Lock()
	e, ok := c.entries[address]
	c.mu.Unlock()
	if !ok || e.hash != hash || time.Now().After(e.expires) {
		return false
	}
	d := c.digest(password)
	if subtle.ConstantTimeCompare(d[:], e.digest[:]) != 1 {
		return false
	}
	c.hits.Add(1)
	return true
}

func (c *authCache) put(address, hash, password string) {
	if c.ttl < 0 {
		return
	}
	d := c.digest(password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxAuthCache {
		c.entries = map[string]authEntry{}
	}
	c.entries[address] = authEntry{hash: hash, digest: d, expires: time.Now().Add(c.ttl)}
}

func (c *authCache) drop(address string) {
	c.mu.Lock()
	delete(c.entries, address)
	c.mu.Unlock()
}
