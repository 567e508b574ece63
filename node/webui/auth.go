package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Lifetimes of what Auth hands out.
const (
	// LoginTTL is how long a one-time login secret may wait to be used.
	LoginTTL = 10 * time.Minute
	// SessionTTL is how long a session lasts after it was last used.
	SessionTTL = 12 * time.Hour
	// maxLogins and maxSessions bound what an API client can make the
	// daemon remember; past them the oldest are forgotten.
	maxLogins   = 16
	maxSessions = 64
)

// Errors of Redeem.
var (
	ErrLoginUnknown = errors.New("this login link is unknown, used already or expired: run 'myco webui' for a new one")
)

// Session is a browser's login: its cookie value and its CSRF token.
type Session struct {
	ID   string
	CSRF string
}

// Auth keeps the one-time login secrets and the sessions they became. It
// reads the time only through the clock it was given.
type Auth struct {
	now      func() time.Time
	mu       sync.Mutex
	logins   map[string]time.Time // secret -> expiry
	sessions map[string]*session
}

type session struct {
	csrf     string
	lastUsed time.Time
}

// NewAuth returns an empty Auth reading time from now.
func NewAuth(now func() time.Time) *Auth {
	return &Auth{now: now, logins: map[string]time.Time{}, sessions: map[string]*session{}}
}

// randomToken is 32 random bytes in hex.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// NewLogin makes a one-time login secret, valid for LoginTTL.
func (a *Auth) NewLogin() (string, error) {
	s, err := randomToken()
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for k, exp := range a.logins {
		if !now.Before(exp) {
			delete(a.logins, k)
		}
	}
	if len(a.logins) >= maxLogins {
		dropOldest(a.logins, func(t time.Time) time.Time { return t })
	}
	a.logins[s] = now.Add(LoginTTL)
	return s, nil
}

// Redeem exchanges a login secret for a new session; the secret is spent
// whether or not it was still valid.
func (a *Auth) Redeem(secret string) (Session, error) {
	id, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var found string
	for k := range a.logins {
		if subtle.ConstantTimeCompare([]byte(k), []byte(secret)) == 1 {
			found = k
		}
	}
	if found == "" {
		return Session{}, ErrLoginUnknown
	}
	exp := a.logins[found]
	delete(a.logins, found)
	if !now.Before(exp) {
		return Session{}, ErrLoginUnknown
	}
	a.expireLocked(now)
	if len(a.sessions) >= maxSessions {
		dropOldest(a.sessions, func(s *session) time.Time { return s.lastUsed })
	}
	a.sessions[id] = &session{csrf: csrf, lastUsed: now}
	return Session{ID: id, CSRF: csrf}, nil
}

// Check returns the live session whose cookie value is id, and renews it.
func (a *Auth) Check(id string) (Session, bool) {
	if id == "" {
		return Session{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.expireLocked(now)
	s, ok := a.sessions[id]
	if !ok {
		return Session{}, false
	}
	s.lastUsed = now
	return Session{ID: id, CSRF: s.csrf}, true
}

// Logout ends a session.
func (a *Auth) Logout(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
}

// ValidCSRF reports whether token is the session's CSRF token.
func (s Session) ValidCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

func (a *Auth) expireLocked(now time.Time) {
	for k, s := range a.sessions {
		if now.Sub(s.lastUsed) >= SessionTTL {
			delete(a.sessions, k)
		}
	}
}

// dropOldest deletes the entry of m whose time is earliest.
func dropOldest[V any](m map[string]V, when func(V) time.Time) {
	var oldest string
	var t time.Time
	for k, v := range m {
		if oldest == "" || when(v).Before(t) {
			oldest, t = k, when(v)
		}
	}
	delete(m, oldest)
}
