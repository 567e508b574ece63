package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// VoucherSize is the length of an encoded Voucher: chain id (4), channel
// id (32), cumulative amount (8) and signature (64).
const VoucherSize = 4 + HashSize + 8 + SigSize

// voucherTag domain-separates voucher signatures (BIP-340 tagged hash), so
// no voucher signature is ever a valid transaction signature or the
// reverse.
const voucherTag = "myco/voucher/v1"

// Voucher is an off-chain payment in a channel: the payer's promise that
// the payee may close the channel with Amount, the total paid so far (not
// an increment). Each voucher supersedes the ones before it; the payee
// keeps the highest and closes with it (TxChannelClose). The signature is
// the payer's BIP-340 signature over SigHash, which covers the chain id,
// the channel id and the amount, so a voucher is valid on one network and
// one channel only.
type Voucher struct {
	ChainID uint32
	Channel Hash
	Amount  uint64
	Sig     [SigSize]byte
}

// appendUnsigned appends the signed fields: chain id, channel id, amount.
func (v Voucher) appendUnsigned(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, v.ChainID)
	b = append(b, v.Channel[:]...)
	return binary.LittleEndian.AppendUint64(b, v.Amount)
}

// Append appends the canonical encoding of v: chain id (uint32), channel
// id, amount (uint64), signature; integers little-endian.
func (v Voucher) Append(b []byte) []byte {
	return append(v.appendUnsigned(b), v.Sig[:]...)
}

// Encode returns the canonical encoding of v (VoucherSize bytes).
func (v Voucher) Encode() []byte { return v.Append(make([]byte, 0, VoucherSize)) }

// DecodeVoucher decodes exactly one voucher (VoucherSize bytes). Every
// such byte string decodes and re-encodes to itself; whether the signature
// is good is Verify's question.
func DecodeVoucher(b []byte) (Voucher, error) {
	if len(b) != VoucherSize {
		return Voucher{}, ruleErr(ErrMalformed, "decode voucher: %d bytes, want %d", len(b), VoucherSize)
	}
	var v Voucher
	v.ChainID = binary.LittleEndian.Uint32(b[0:4])
	copy(v.Channel[:], b[4:36])
	v.Amount = binary.LittleEndian.Uint64(b[36:44])
	copy(v.Sig[:], b[44:])
	return v, nil
}

// SigHash returns the 32-byte message the payer signs: the BIP-340 tagged
// hash ("myco/voucher/v1") of the chain id, channel id and amount.
func (v Voucher) SigHash() [32]byte {
	return taggedHash(voucherTag, v.appendUnsigned(make([]byte, 0, VoucherSize-SigSize)))
}

// taggedHash is BIP-340's tagged hash: SHA-256(SHA-256(tag) ||
// SHA-256(tag) || msg).
func taggedHash(tag string, msg []byte) [32]byte {
	t := sha256.Sum256([]byte(tag))
	h := sha256.New()
	h.Write(t[:])
	h.Write(t[:])
	h.Write(msg)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// SignVoucher returns a voucher for a cumulative amount in channel on the
// network chainID, signed by the payer's key.
func SignVoucher(payer *btcec.PrivateKey, chainID uint32, channel Hash, amount uint64) (Voucher, error) {
	v := Voucher{ChainID: chainID, Channel: channel, Amount: amount}
	h := v.SigHash()
	sig, err := schnorr.Sign(payer, h[:])
	if err != nil {
		return Voucher{}, fmt.Errorf("sign voucher: %w", err)
	}
	copy(v.Sig[:], sig.Serialize())
	return v, nil
}

// Verify checks that the payer whose x-only key is payerKey (a Channel's
// PayerKey) signed v. A failure is a *RuleError with
// ErrBadVoucherSignature. It does not check the chain id, the channel or
// the amount against a deposit: a receiver compares them with what it
// expects (a close's rules do so on the chain).
func (v Voucher) Verify(payerKey [PubKeySize]byte) error { return v.verify(payerKey, nil, sigKeep) }

// verify checks v's signature by payerKey through cache (see
// sigCache.check).
func (v Voucher) verify(payerKey [PubKeySize]byte, cache *sigCache, use sigUse) error {
	h := v.SigHash()
	return cache.check(newSigKey(&h, &payerKey, &v.Sig), use, func() error {
		pub, err := schnorr.ParsePubKey(payerKey[:])
		if err != nil {
			return ruleErr(ErrBadVoucherSignature, "voucher payer key %x: %v", payerKey, err)
		}
		sig, err := schnorr.ParseSignature(v.Sig[:])
		if err != nil {
			return ruleErr(ErrBadVoucherSignature, "voucher for %d in channel %s: %v", v.Amount, v.Channel, err)
		}
		if !sig.Verify(h[:], pub) {
			return ruleErr(ErrBadVoucherSignature, "voucher for %d in channel %s is not signed by the payer %x", v.Amount, v.Channel, payerKey)
		}
		return nil
	})
}
