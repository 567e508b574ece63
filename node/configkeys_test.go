package node

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSetConfigValueChecksAsAtStart(t *testing.T) {
	base := DefaultConfig("dev")
	for _, c := range []struct {
		key, value string
		want       string // the value ConfigValue reads back
	}{
		{"log_level", "debug", "debug"},
		{"api", "127.0.0.1:6000", "127.0.0.1:6000"},
		{"limits.max_upload", "2M", "2M"},
		{"limits.conn_high", "300", "300"},
		{"listen", "/ip4/127.0.0.1/tcp/4100, /ip4/127.0.0.1/udp/4100/quic-v1", `["/ip4/127.0.0.1/tcp/4100","/ip4/127.0.0.1/udp/4100/quic-v1"]`},
		{"bootstrap", "[]", "[]"},
		{"relay.service", "true", "true"},
		{"relay.service", "", ""},
		{"dht.mode", "client", "client"},
	} {
		got, err := SetConfigValue(base, c.key, c.value)
		if err != nil {
			t.Errorf("set %s %q: %v", c.key, c.value, err)
			continue
		}
		if v, err := ConfigValue(got, c.key); err != nil || v != c.want {
			t.Errorf("set %s %q, then get: %q, %v; want %q", c.key, c.value, v, err, c.want)
		}
	}
	before := DefaultConfig("dev")
	for _, c := range []struct{ key, value, want string }{
		{"log_level", "loud", "log level"},
		{"api", "nowhere", "api address"},
		{"listen", "garbage", "listen address"},
		{"limits.conn_low", "500", "conn_low 500 and conn_high 256"},
		{"limits.conn_high", "many", "want a whole number"},
		{"limits.max_fds", "-1", "must not be negative"},
		{"limits.max_upload", "fast", "max_upload"},
		{"network", "moon", "must be main or dev"},
		{"dht.mode", "sometimes", "must be auto, server or client"},
		{"relay.service", "perhaps", "want true or false"},
		{"listen", `["unclosed`, "want a JSON list"},
		{"limits", "1", "is a section"},
		{"nosuch", "1", "no such config key"},
		{"limits.nosuch", "1", "no such config key"},
		{"api.port", "1", "no such config key"},
	} {
		_, err := SetConfigValue(base, c.key, c.value)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("set %s %q = %v; want an error saying %q", c.key, c.value, err, c.want)
		}
	}
	if !reflect.DeepEqual(base, before) {
		t.Error("SetConfigValue changed the config it was given")
	}
	if _, err := ConfigValue(base, "nosuch"); !errors.Is(err, ErrUnknownConfigKey) {
		t.Errorf("get nosuch: %v", err)
	}
}

func TestConfigKeysCoverTheFile(t *testing.T) {
	keys := ConfigKeys()
	for _, k := range []string{"api", "listen", "log_level", "limits.max_upload", "relay.circuit_duration", "dht.mode", "no_announce"} {
		if !slices.Contains(keys, k) {
			t.Errorf("ConfigKeys lacks %s: %v", k, keys)
		}
	}
	for _, k := range keys {
		if _, err := ConfigValue(DefaultConfig("main"), k); err != nil {
			t.Errorf("get %s: %v", k, err)
		}
	}
}
