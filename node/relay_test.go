package node

import (
	"testing"
	"time"
)

// TestRelayServiceSettings checks the relay limits and rate cap each
// configuration gives: control-only circuits by default, circuits that
// carry data (large enough for peers to use, with a rate cap) with
// carry_data, and explicit settings kept.
func TestRelayServiceSettings(t *testing.T) {
	on := true
	cases := []struct {
		name     string
		rc       RelayConfig
		off      bool
		data     int64
		duration time.Duration
		rate     int64
	}{
		{name: "dev default is off", off: true},
		{name: "control only", rc: RelayConfig{Service: &on}, data: defaultCircuitData, duration: defaultCircuitDuration},
		{name: "carry data", rc: RelayConfig{Service: &on, CarryData: true}, data: defaultCarryData, duration: defaultCarryDuration, rate: defaultCarryRate},
		{name: "carry data, no cap", rc: RelayConfig{Service: &on, CarryData: true, CarryRate: "0"}, data: defaultCarryData, duration: defaultCarryDuration},
		{name: "carry data, explicit", rc: RelayConfig{Service: &on, CarryData: true, CarryRate: "20M", CircuitData: "256M", CircuitDuration: "10m"},
			data: 256 << 20, duration: 10 * time.Minute, rate: 20_000_000},
		{name: "explicit control limits", rc: RelayConfig{Service: &on, CircuitData: "1M", CircuitDuration: "30s"}, data: 1 << 20, duration: 30 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := newRelayService(c.rc, "dev")
			if err != nil {
				t.Fatal(err)
			}
			if c.off {
				if s != nil {
					t.Fatal("relay service on; want off")
				}
				return
			}
			r := s.res
			if r.Limit == nil || r.Limit.Data != c.data || r.Limit.Duration != c.duration {
				t.Errorf("limit %+v; want data %d, duration %v", r.Limit, c.data, c.duration)
			}
			if s.rate != c.rate {
				t.Errorf("rate cap %d; want %d", s.rate, c.rate)
			}
			// A peer uses a circuit for data exactly when the relay
			// carries data.
			if carries := uint64(r.Limit.Data) >= carryMinData; carries != (c.rc.CarryData) {
				t.Errorf("circuit of %d bytes counts as carrying data: %v; carry_data is %v", r.Limit.Data, carries, c.rc.CarryData)
			}
		})
	}
	if _, err := newRelayService(RelayConfig{Service: &on, CarryData: true, CarryRate: "fast"}, "dev"); err == nil {
		t.Error("carry_rate \"fast\" accepted")
	}
}
