package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"congthu/notify/notifydb"
	"congthu/store"
)

// Key prefixes: a key says what it is, so a leaked one is recognisable
// (secret scanners) and a test key is never mistaken for a live one.
const (
	liveKeyPrefix = "ct_live_"
	testKeyPrefix = "ct_test_"
)

// NewAPIKey returns a new random API key (256 bits, base64url, with a
// ct_live_ or ct_test_ prefix), its SHA-256 hash (hex) to store, and a
// short hint for listings.
func NewAPIKey(test bool) (key, hash, hint string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	p := liveKeyPrefix
	if test {
		p = testKeyPrefix
	}
	key = p + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), key[:len(p)+4] + "…"
}

// HashAPIKey returns the stored form of a key: hex SHA-256. A fast hash is
// enough because keys are high-entropy random strings, not passwords.
func HashAPIKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// caller is the authenticated API key of a request.
type caller struct {
	keyID   int64
	service string
	test    bool
	admin   bool // reads every service's usage
}

type ctxKey struct{}

func callerOf(ctx context.Context) *caller {
	c, _ := ctx.Value(ctxKey{}).(*caller)
	return c
}

// keyCache remembers looked-up keys for a short TTL.
type keyCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]keyEntry
}

type keyEntry struct {
	key *notifydb.APIKey
	exp time.Time
}

func newKeyCache(ttl time.Duration) *keyCache { return &keyCache{ttl: ttl, m: map[string]keyEntry{}} }

func (c *keyCache) get(hash string, now time.Time) *notifydb.APIKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || now.After(e.exp) {
		return nil
	}
	return e.key
}

func (c *keyCache) put(hash string, k *notifydb.APIKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[hash] = keyEntry{k, now.Add(c.ttl)}
}

// auth authenticates the request's API key: 401 without a valid key, 403
// for a revoked one.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		scheme, key, ok := strings.Cut(a, " ")
		key = strings.TrimSpace(key)
		if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="congthu"`)
			writeErrors(w, http.StatusUnauthorized, fieldError{Field: "Authorization", Message: "missing API key: send Authorization: Bearer KEY"})
			return
		}
		hash := HashAPIKey(key)
		now := s.opts.Now()
		k := s.keys.get(hash, now)
		if k == nil {
			var err error
			k, err = s.nst.APIKeyByHash(r.Context(), hash)
			if errors.Is(err, store.ErrNotFound) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="congthu", error="invalid_token"`)
				writeErrors(w, http.StatusUnauthorized, fieldError{Field: "Authorization", Message: "invalid API key"})
				return
			} else if err != nil {
				s.internal(w, "look up API key", err)
				return
			}
			s.keys.put(hash, k, now)
		}
		if !k.RevokedAt.IsZero() {
			writeErrors(w, http.StatusForbidden, fieldError{Field: "Authorization", Message: "API key revoked"})
			return
		}
		c := &caller{keyID: k.ID, service: k.Service, test: k.Test, admin: k.Admin}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
	})
}

// internal logs err and answers 500 without details.
func (s *Server) internal(w http.ResponseWriter, what string, err error) {
	s.log.Error("httpapi: "+what, "err", err)
	writeErrors(w, http.StatusInternalServerError, fieldError{Message: "internal error; try again"})
}

// unavailable logs err and answers 503 (the store or Redis is down).
func (s *Server) unavailable(w http.ResponseWriter, what string, err error) {
	s.log.Error("httpapi: "+what, "err", err)
	w.Header().Set("Retry-After", "5")
	writeErrors(w, http.StatusServiceUnavailable, fieldError{Message: "temporarily unavailable; try again"})
}
