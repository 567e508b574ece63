package node

import (
	"slices"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestAnnounceFactory(t *testing.T) {
	const circuit = "/ip4/198.51.100.1/tcp/4040/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit"
	host := []string{"/ip4/127.0.0.1/tcp/4040", "/ip4/192.168.1.2/tcp/4040", "/ip4/198.51.100.7/udp/4040/quic-v1", circuit}
	cases := []struct {
		name       string
		announce   []string
		noAnnounce []string
		want       []string
	}{
		{"nothing set", nil, nil, host},
		{"no_announce exact", nil, []string{"/ip4/127.0.0.1/tcp/4040"}, host[1:]},
		{"no_announce range", nil, []string{"/ip4/192.168.0.0/ipcidr/16", "/ip4/127.0.0.0/ipcidr/8"}, host[2:]},
		{"announce keeps relay addresses", []string{"/dns4/home.example/tcp/4040"}, nil, []string{"/dns4/home.example/tcp/4040", circuit}},
		{"announce then no_announce", []string{"/ip4/198.51.100.9/tcp/1"}, []string{"/ip4/198.51.100.0/ipcidr/24"}, nil},
	}
	for _, tc := range cases {
		f, err := announceFactory(tc.announce, tc.noAnnounce)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var in []ma.Multiaddr
		for _, s := range host {
			in = append(in, ma.StringCast(s))
		}
		out := in
		if f != nil {
			out = f(in)
		}
		var got []string
		for _, a := range out {
			got = append(got, a.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v; want %v", tc.name, got, tc.want)
		}
	}
}
