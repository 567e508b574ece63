package ledger

import (
	"bytes"
	"testing"
)

// TestChannelIndexEntries: a channel record round-trips and fits an undo
// record's limits, as do its address index entries (present with an empty
// value), so a block that opens or settles channels can be disconnected.
func TestChannelIndexEntries(t *testing.T) {
	id := Hash{7}
	ch := Channel{ID: id, PayerKey: [PubKeySize]byte{1}, Payee: Address{2}, Deposit: 5, Expiry: 9, Opened: 3, State: ChannelClosed, Settled: 8, Paid: 4}
	got, err := decodeChannel(id, ch.encode())
	if err != nil || got != ch {
		t.Fatalf("channel record: %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, ch.encode()[:channelRecordSize-1], append(ch.encode(), 0)} {
		if _, err := decodeChannel(id, bad); err == nil {
			t.Fatalf("a %d-byte record decoded", len(bad))
		}
	}
	for _, state := range []byte{0, 4, 0xff} {
		b := ch.encode()
		b[76] = state
		if _, err := decodeChannel(id, b); err == nil {
			t.Fatalf("a record in state %d decoded", state)
		}
	}
	u := undoRecord{index: []indexUndo{
		{key: channelKey(id), slot: indexSlot{val: ch.encode(), present: true}},
		{key: channelAddrKey(prefixChannelPayer, Address{1}, id), slot: indexSlot{present: true}},
		{key: channelAddrKey(prefixChannelPayee, Address{2}, id)},
	}}
	back, err := decodeUndo(u.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.encode(), u.encode()) || len(back.index) != 3 || !back.index[1].slot.present || back.index[2].slot.present {
		t.Fatalf("undo record with channel entries: %+v", back)
	}
}

func FuzzDecodeChannel(f *testing.F) {
	f.Add(Channel{State: ChannelOpen, Deposit: 1}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ch, err := decodeChannel(Hash{}, b); err == nil && !bytes.Equal(ch.encode(), b) {
			t.Fatalf("channel record re-encoding differs")
		}
	})
}
