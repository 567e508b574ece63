package webui

import (
	"errors"
	"io/fs"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLoginIsOneTimeAndExpires(t *testing.T) {
	c := &clock{time.Unix(1_000_000, 0)}
	a := NewAuth(c.now)
	secret, err := a.NewLogin()
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.Redeem(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Redeem(secret); !errors.Is(err, ErrLoginUnknown) {
		t.Errorf("second redeem: %v; want ErrLoginUnknown", err)
	}
	if got, ok := a.Check(s.ID); !ok || got.CSRF != s.CSRF || !got.ValidCSRF(s.CSRF) || got.ValidCSRF("") || got.ValidCSRF(s.ID) {
		t.Errorf("check %v %v", got, ok)
	}
	late, _ := a.NewLogin()
	c.t = c.t.Add(LoginTTL)
	if _, err := a.Redeem(late); !errors.Is(err, ErrLoginUnknown) {
		t.Errorf("expired login redeemed: %v", err)
	}
	// A session lives SessionTTL after its last use.
	a.Check(s.ID)
	c.t = c.t.Add(SessionTTL - time.Second)
	if _, ok := a.Check(s.ID); !ok {
		t.Error("session ended before SessionTTL without use")
	}
	c.t = c.t.Add(SessionTTL)
	if _, ok := a.Check(s.ID); ok {
		t.Error("session outlived SessionTTL")
	}
	if _, ok := a.Check(""); ok {
		t.Error("empty cookie accepted")
	}
}

func TestAuthIsBounded(t *testing.T) {
	c := &clock{time.Unix(1_000_000, 0)}
	a := NewAuth(c.now)
	first, _ := a.NewLogin()
	for i := 0; i < maxLogins; i++ {
		c.t = c.t.Add(time.Millisecond)
		a.NewLogin()
	}
	if len(a.logins) != maxLogins {
		t.Errorf("%d logins kept; want %d", len(a.logins), maxLogins)
	}
	if _, err := a.Redeem(first); err == nil {
		t.Error("the oldest login survived past the bound")
	}
	for i := 0; i < maxSessions+5; i++ {
		c.t = c.t.Add(time.Millisecond)
		l, _ := a.NewLogin()
		if _, err := a.Redeem(l); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.sessions) != maxSessions {
		t.Errorf("%d sessions kept; want %d", len(a.sessions), maxSessions)
	}
}

func TestBandwidthRates(t *testing.T) {
	b := NewBandwidth(4)
	t0 := time.Unix(100, 0)
	if got := b.Rates(); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
	// Five samples into a ring of four: the first is forgotten.
	for i, s := range []struct{ up, down int64 }{{0, 0}, {100, 0}, {300, 1000}, {300, 3000}, {100, 3500}} {
		b.Add(t0.Add(time.Duration(i)*time.Second), s.up, s.down)
	}
	want := []Rate{{102000, 200, 1000}, {103000, 0, 2000}, {104000, 0, 500}}
	got := b.Rates()
	if len(got) != len(want) {
		t.Fatalf("rates %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rate %d = %v; want %v", i, got[i], want[i])
		}
	}
}

func TestAssetsEmbedded(t *testing.T) {
	for _, f := range []string{"index.html", "app.js", "app.css"} {
		if b, err := fs.ReadFile(Assets(), f); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
