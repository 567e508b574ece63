package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"512", 512, true},
		{"64k", 64 << 10, true},
		{"64K", 64 << 10, true},
		{"20M", 20 << 20, true},
		{"1G", 1 << 30, true},
		{" 3m ", 3 << 20, true},
		{"-1", 0, false},
		{"1.5M", 0, false},
		{"M", 0, false},
		{"12Q", 0, false},
		{"99999999999999G", 0, false},
	}
	for _, c := range cases {
		got, err := ParseSize(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if !c.ok && !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrBadSize", c.in, got, err)
		}
	}
}

func TestDefaultConfigsValidate(t *testing.T) {
	for _, n := range []string{"main", "dev"} {
		if err := DefaultConfig(n).Validate(); err != nil {
			t.Errorf("default %s config: %v", n, err)
		}
	}
}

func TestConfigValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"network", func(c *Config) { c.Network = "moon" }, "network"},
		{"listen", func(c *Config) { c.Listen = []string{"nonsense"} }, "listen"},
		{"bootstrap without peer id", func(c *Config) { c.Bootstrap = []string{"/ip4/127.0.0.1/tcp/1"} }, "bootstrap"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "log level"},
		{"api", func(c *Config) { c.API = "example.com:80" }, "api address"},
		{"api port", func(c *Config) { c.API = "127.0.0.1:99999" }, "bad port"},
		{"upload", func(c *Config) { c.Limits.MaxUpload = "fast" }, "max_upload"},
		{"memory", func(c *Config) { c.Limits.MaxMemory = "lots" }, "max_memory"},
		{"water marks", func(c *Config) { c.Limits.ConnLow, c.Limits.ConnHigh = 10, 5 }, "conn_low"},
		{"dht mode", func(c *Config) { c.DHT.Mode = "both" }, "dht mode"},
		{"security", func(c *Config) { c.Security = "plaintext" }, "security"},
		{"static relay without peer id", func(c *Config) { c.Relay.Static = []string{"/ip4/198.51.100.1/tcp/1"} }, "relay static"},
		{"relay reservations", func(c *Config) { c.Relay.MaxReservations = -1 }, "max_reservations"},
		{"relay circuit data", func(c *Config) { c.Relay.CircuitData = "much" }, "circuit_data"},
		{"relay carry rate", func(c *Config) { c.Relay.CarryRate = "fast" }, "carry_rate"},
		{"relay circuit duration", func(c *Config) { c.Relay.CircuitDuration = "-1s" }, "circuit_duration"},
		{"announce", func(c *Config) { c.Announce = []string{"nonsense"} }, "announce"},
		{"no_announce", func(c *Config) { c.NoAnnounce = []string{"/ip4/10.0.0.0/ipcidr/40"} }, "no_announce"},
		{"ban duration", func(c *Config) { c.Protect.BanDuration = "forever" }, "ban_duration"},
		{"chain requests", func(c *Config) { c.Protect.ChainRequestsPerSecond = -1 }, "chain_requests_per_second"},
		{"chain bytes", func(c *Config) { c.Protect.ChainBytesPerSecond = "lots" }, "chain_bytes_per_second"},
		{"swarm messages", func(c *Config) { c.Protect.SwarmMessagesPerSecond = -1 }, "swarm_messages_per_second"},
		{"swarm bytes", func(c *Config) { c.Protect.SwarmByteBurst = "lots" }, "swarm_byte_burst"},
		{"swarm delay", func(c *Config) { c.Protect.SwarmMaxDelay = "soon" }, "swarm_max_delay"},
		{"gossip txs", func(c *Config) { c.Protect.GossipTxBurst = -5 }, "gossip_tx_burst"},
		{"gossip delay", func(c *Config) { c.Protect.GossipMaxDelay = "-1s" }, "gossip_max_delay"},
	}
	for _, tc := range cases {
		c := DefaultConfig("dev")
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v; want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestRelayServiceDefault(t *testing.T) {
	if !DefaultConfig("main").Relay.ServiceEnabled("main") {
		t.Error("main: relay service off by default")
	}
	if DefaultConfig("dev").Relay.ServiceEnabled("dev") {
		t.Error("dev: relay service on by default")
	}
	var unset RelayConfig
	if !unset.ServiceEnabled("main") || unset.ServiceEnabled("dev") {
		t.Error("unset relay.service: want on for main, off for dev")
	}
}

func TestLoadConfigRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := LoadConfig(write("garbage.json", "{not json")); err == nil {
		t.Error("garbage config loaded")
	}
	if _, err := LoadConfig(write("unknown.json", `{"network":"dev","surprise":1}`)); err == nil {
		t.Error("config with an unknown field loaded")
	}
	if _, err := LoadConfig(write("big.json", `{"network":"dev","log_level":"`+strings.Repeat("x", maxConfigSize)+`"}`)); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized config: %v; want a size error", err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "absent.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent config: %v; want not-exist", err)
	}
	c, err := LoadConfig(write("min.json", `{"network":"main"}`))
	if err != nil || c.Network != "main" {
		t.Errorf("minimal config: %+v, %v", c, err)
	}
}

func TestInitRepo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	res, err := InitRepo(path, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if res.Network != "dev" || !strings.HasPrefix(res.Address, "mycod1") || res.PeerID == "" {
		t.Errorf("InitRepo = %+v", res)
	}
	r, err := OpenRepo(path)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := r.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if sk.Type().String() != "Ed25519" {
		t.Errorf("identity key type %s; want Ed25519", sk.Type())
	}
	for _, f := range []string{ConfigFile, IdentityFile, WalletFile} {
		st, err := os.Stat(r.File(f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v; want 0600", f, st.Mode().Perm())
		}
	}
	if _, err := InitRepo(path, "dev"); !errors.Is(err, ErrRepoExists) {
		t.Errorf("second InitRepo: %v; want ErrRepoExists", err)
	}
}

func TestInitRepoBadNetworkCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	if _, err := InitRepo(path, "moon"); err == nil {
		t.Fatal("InitRepo with an unknown network succeeded")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed init left %s behind", path)
	}
}

func TestOpenRepoMissing(t *testing.T) {
	if _, err := OpenRepo(t.TempDir()); !errors.Is(err, ErrNoRepo) {
		t.Errorf("OpenRepo on an empty dir: %v; want ErrNoRepo", err)
	}
}

func TestLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "repo")
	if _, err := InitRepo(path, "dev"); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRepo(path)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := r.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(); !errors.Is(err, ErrRepoLocked) {
		t.Errorf("second Lock: %v; want ErrRepoLocked", err)
	}
	l1.Close()
	l2, err := r.Lock()
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	l2.Close()
}

func TestResolveRepoPath(t *testing.T) {
	t.Setenv(EnvRepo, "/from/env")
	if p, _ := ResolveRepoPath("/from/flag"); p != "/from/flag" {
		t.Errorf("flag: %s", p)
	}
	if p, _ := ResolveRepoPath(""); p != "/from/env" {
		t.Errorf("env: %s", p)
	}
	t.Setenv(EnvRepo, "")
	t.Setenv("HOME", "/home/someone")
	if p, _ := ResolveRepoPath(""); p != "/home/someone/.myco" {
		t.Errorf("home: %s", p)
	}
}

func TestParsePeerAddr(t *testing.T) {
	good := "/ip4/127.0.0.1/tcp/4040/p2p/12D3KooWAKk25YUaZiT6fFGvjqHZbTULxjsn3iWHY2GbHUrqQ4qE"
	ai, err := ParsePeerAddr(good)
	if err != nil || ai.ID.String() != "12D3KooWAKk25YUaZiT6fFGvjqHZbTULxjsn3iWHY2GbHUrqQ4qE" || len(ai.Addrs) != 1 {
		t.Errorf("ParsePeerAddr(good) = %v, %v", ai, err)
	}
	for _, bad := range []string{"", "garbage", "/ip4/1.2.3.4/tcp/1", "/p2p/notapeerid", "/ip4/300.1.1.1/tcp/1/p2p/12D3KooWAKk25YUaZiT6fFGvjqHZbTULxjsn3iWHY2GbHUrqQ4qE"} {
		if _, err := ParsePeerAddr(bad); err == nil {
			t.Errorf("ParsePeerAddr(%q) succeeded", bad)
		}
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"network":"dev"}`))
	f.Add([]byte(`{"network":"main","listen":["/ip4/0.0.0.0/tcp/4040"],"limits":{"max_memory":"1G"}}`))
	f.Add([]byte(`{"bootstrap":["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWAKk25YUaZiT6fFGvjqHZbTULxjsn3iWHY2GbHUrqQ4qE"]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(p)
		if err == nil {
			// Whatever loads must validate and survive a save/load round trip.
			if err := c.Validate(); err != nil {
				t.Fatalf("loaded config does not validate: %v", err)
			}
			if err := c.Save(p); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadConfig(p); err != nil {
				t.Fatalf("saved config does not load: %v", err)
			}
		}
	})
}

// The protect section's swarm and gossip knobs reach the budgets, sizes
// and durations parsed; what is left out stays zero (the default).
func TestProtectBudgets(t *testing.T) {
	p := ProtectConfig{SwarmMessagesPerSecond: 7, SwarmBytesPerSecond: "2M", SwarmMaxDelay: "3s", GossipTxsPerSecond: 9, GossipMaxDelay: "2s"}
	sb := p.swarmBudget()
	if sb.MessagesPerSecond != 7 || sb.BytesPerSecond != 2<<20 || sb.ByteBurst != 0 || sb.MaxDelay != 3*time.Second {
		t.Errorf("swarm budget %+v", sb)
	}
	gb := p.gossipBudget()
	if gb.TxsPerSecond != 9 || gb.BlocksPerSecond != 0 || gb.MaxDelay != 2*time.Second {
		t.Errorf("gossip budget %+v", gb)
	}
}
