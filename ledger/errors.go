package ledger

import "fmt"

// ErrorCode identifies which rule a block or transaction broke.
type ErrorCode int

// The rule codes. Each is checked in exactly one place, where the rule is
// stated in one sentence above the check.
const (
	// ErrMalformed: the bytes do not decode as a block or transaction.
	ErrMalformed ErrorCode = iota + 1
	// ErrBlockTooBig: a block's encoding is larger than MaxBlockSize.
	ErrBlockTooBig
	// ErrTooManyTxs: a block holds more than MaxBlockTxs transactions.
	ErrTooManyTxs
	// ErrNoTxs: a block holds no transactions (it needs a coinbase).
	ErrNoTxs
	// ErrBadVersion: the header version is not one this code knows.
	ErrBadVersion
	// ErrBadTarget: the compact bits are negative, zero or easier than PowLimit.
	ErrBadTarget
	// ErrHighHash: the block hash is above the target its bits state.
	ErrHighHash
	// ErrBadMerkleRoot: the header's merkle root is not that of the transactions.
	ErrBadMerkleRoot
	// ErrFirstTxNotCoinbase: the first transaction is not a coinbase.
	ErrFirstTxNotCoinbase
	// ErrMultipleCoinbases: a transaction after the first is a coinbase.
	ErrMultipleCoinbases
	// ErrDuplicateTx: two transactions in a block have the same id.
	ErrDuplicateTx
	// ErrBadHeight: the header height is not the parent's plus one.
	ErrBadHeight
	// ErrUnexpectedBits: the bits differ from the ASERT retarget of the parent.
	ErrUnexpectedBits
	// ErrTimeTooOld: the timestamp is not above the median of the last blocks.
	ErrTimeTooOld
	// ErrTimeTooNew: the timestamp is too far ahead of the receiver's clock.
	ErrTimeTooNew
	// ErrInvalidAncestor: the block builds on a block known to be invalid.
	ErrInvalidAncestor
	// ErrWrongChainID: a transaction is signed for another network.
	ErrWrongChainID
	// ErrUnknownTxKind: a transaction's kind is not coinbase, transfer, anchor, name commitment or a channel's.
	ErrUnknownTxKind
	// ErrPayloadTooBig: a transaction's payload exceeds MaxPayload.
	ErrPayloadTooBig
	// ErrBadCoinbase: a coinbase has a sender, fee or signature.
	ErrBadCoinbase
	// ErrCoinbaseHeight: a coinbase's nonce is not its block's height.
	ErrCoinbaseHeight
	// ErrBadCoinbaseAmount: a coinbase pays other than subsidy plus fees.
	ErrBadCoinbaseAmount
	// ErrBadPubKey: the sender is not a valid x-only public key.
	ErrBadPubKey
	// ErrBadSignature: the Schnorr signature does not verify.
	ErrBadSignature
	// ErrZeroAmount: a transfer moves nothing, or a channel opens with no deposit.
	ErrZeroAmount
	// ErrBadRecipient: a transfer pays the zero address, or a channel's
	// payee is the zero address or its payer.
	ErrBadRecipient
	// ErrBadAnchor: an anchor's payload is not a CID and name, or it moves coins.
	ErrBadAnchor
	// ErrBadNonce: a transaction's nonce is not its sender's next nonce.
	ErrBadNonce
	// ErrInsufficientBalance: the sender cannot cover amount plus fee.
	ErrInsufficientBalance
	// ErrOverflow: an amount, fee, balance or fee total overflows 64 bits.
	ErrOverflow
	// ErrBadNameCommit: a name commitment is not 32 bytes, or it moves coins.
	ErrBadNameCommit
	// ErrNameTaken: an anchor names a name another key owns.
	ErrNameTaken
	// ErrNameNotCommitted: a first claim of a name reveals no commitment on the chain.
	ErrNameNotCommitted
	// ErrNameCommitTooNew: a first claim's commitment is less than NameCommitDepth blocks deep.
	ErrNameCommitTooNew

	// Mempool policy (a transaction that breaks these may still be valid in a block).

	// ErrCoinbaseInMempool: coinbases only exist inside blocks.
	ErrCoinbaseInMempool
	// ErrMempoolDuplicate: the transaction is already in the mempool.
	ErrMempoolDuplicate
	// ErrMempoolConflict: another transaction from the sender uses this nonce.
	ErrMempoolConflict
	// ErrNonceGap: the nonce skips ahead of the sender's pending transactions.
	ErrNonceGap
	// ErrFeeTooLow: the fee is below the mempool's minimum.
	ErrFeeTooLow
	// ErrMempoolFull: the mempool is full of transactions paying more.
	ErrMempoolFull
	// ErrMempoolNameConflict: another sender's pending anchor claims the name.
	ErrMempoolNameConflict

	// Payment channels: consensus rules, then the mempool's.

	// ErrBadChannelTx: a channel transaction's payload is not the layout of
	// its kind, or a close, refund or top-up moves coins or names a recipient
	// it must not.
	ErrBadChannelTx
	// ErrChannelExpiryTooSoon: an open or top-up sets an expiry height not
	// above its block's height.
	ErrChannelExpiryTooSoon
	// ErrChannelExpiryShortened: a top-up's expiry is before the channel's.
	ErrChannelExpiryShortened
	// ErrNoSuchChannel: a close, refund or top-up names a channel no open
	// created on the chain.
	ErrNoSuchChannel
	// ErrChannelNotPayee: a close is sent by someone other than the payee.
	ErrChannelNotPayee
	// ErrChannelNotPayer: a refund or top-up is sent by someone other than
	// the payer.
	ErrChannelNotPayer
	// ErrChannelClosed: the channel was closed already (a double close, or
	// a refund or top-up after the close).
	ErrChannelClosed
	// ErrChannelRefunded: the channel's deposit was refunded already (a
	// close, a second refund or a top-up after the refund).
	ErrChannelRefunded
	// ErrChannelNotExpired: a refund comes before the channel's expiry height.
	ErrChannelNotExpired
	// ErrVoucherWrongChannel: a close's voucher is for another channel.
	ErrVoucherWrongChannel
	// ErrVoucherWrongChain: a close's voucher is signed for another network.
	ErrVoucherWrongChain
	// ErrVoucherOverDeposit: a close's voucher pays more than the deposit.
	ErrVoucherOverDeposit
	// ErrBadVoucherSignature: a voucher's signature does not verify
	// against the channel's payer (a bad signature or another key's).
	ErrBadVoucherSignature
	// ErrMempoolChannelConflict: another sender's pending transaction
	// closes, refunds or tops up the channel (a close and a refund racing).
	ErrMempoolChannelConflict

	numErrorCodes // keep last
)

// String returns the code's name, e.g. "ErrBadNonce".
func (c ErrorCode) String() string {
	switch c {
	case ErrMalformed:
		return "ErrMalformed"
	case ErrBlockTooBig:
		return "ErrBlockTooBig"
	case ErrTooManyTxs:
		return "ErrTooManyTxs"
	case ErrNoTxs:
		return "ErrNoTxs"
	case ErrBadVersion:
		return "ErrBadVersion"
	case ErrBadTarget:
		return "ErrBadTarget"
	case ErrHighHash:
		return "ErrHighHash"
	case ErrBadMerkleRoot:
		return "ErrBadMerkleRoot"
	case ErrFirstTxNotCoinbase:
		return "ErrFirstTxNotCoinbase"
	case ErrMultipleCoinbases:
		return "ErrMultipleCoinbases"
	case ErrDuplicateTx:
		return "ErrDuplicateTx"
	case ErrBadHeight:
		return "ErrBadHeight"
	case ErrUnexpectedBits:
		return "ErrUnexpectedBits"
	case ErrTimeTooOld:
		return "ErrTimeTooOld"
	case ErrTimeTooNew:
		return "ErrTimeTooNew"
	case ErrInvalidAncestor:
		return "ErrInvalidAncestor"
	case ErrWrongChainID:
		return "ErrWrongChainID"
	case ErrUnknownTxKind:
		return "ErrUnknownTxKind"
	case ErrPayloadTooBig:
		return "ErrPayloadTooBig"
	case ErrBadCoinbase:
		return "ErrBadCoinbase"
	case ErrCoinbaseHeight:
		return "ErrCoinbaseHeight"
	case ErrBadCoinbaseAmount:
		return "ErrBadCoinbaseAmount"
	case ErrBadPubKey:
		return "ErrBadPubKey"
	case ErrBadSignature:
		return "ErrBadSignature"
	case ErrZeroAmount:
		return "ErrZeroAmount"
	case ErrBadRecipient:
		return "ErrBadRecipient"
	case ErrBadAnchor:
		return "ErrBadAnchor"
	case ErrBadNonce:
		return "ErrBadNonce"
	case ErrInsufficientBalance:
		return "ErrInsufficientBalance"
	case ErrOverflow:
		return "ErrOverflow"
	case ErrBadNameCommit:
		return "ErrBadNameCommit"
	case ErrNameTaken:
		return "ErrNameTaken"
	case ErrNameNotCommitted:
		return "ErrNameNotCommitted"
	case ErrNameCommitTooNew:
		return "ErrNameCommitTooNew"
	case ErrCoinbaseInMempool:
		return "ErrCoinbaseInMempool"
	case ErrMempoolDuplicate:
		return "ErrMempoolDuplicate"
	case ErrMempoolConflict:
		return "ErrMempoolConflict"
	case ErrNonceGap:
		return "ErrNonceGap"
	case ErrFeeTooLow:
		return "ErrFeeTooLow"
	case ErrMempoolFull:
		return "ErrMempoolFull"
	case ErrMempoolNameConflict:
		return "ErrMempoolNameConflict"
	case ErrBadChannelTx:
		return "ErrBadChannelTx"
	case ErrChannelExpiryTooSoon:
		return "ErrChannelExpiryTooSoon"
	case ErrChannelExpiryShortened:
		return "ErrChannelExpiryShortened"
	case ErrNoSuchChannel:
		return "ErrNoSuchChannel"
	case ErrChannelNotPayee:
		return "ErrChannelNotPayee"
	case ErrChannelNotPayer:
		return "ErrChannelNotPayer"
	case ErrChannelClosed:
		return "ErrChannelClosed"
	case ErrChannelRefunded:
		return "ErrChannelRefunded"
	case ErrChannelNotExpired:
		return "ErrChannelNotExpired"
	case ErrVoucherWrongChannel:
		return "ErrVoucherWrongChannel"
	case ErrVoucherWrongChain:
		return "ErrVoucherWrongChain"
	case ErrVoucherOverDeposit:
		return "ErrVoucherOverDeposit"
	case ErrBadVoucherSignature:
		return "ErrBadVoucherSignature"
	case ErrMempoolChannelConflict:
		return "ErrMempoolChannelConflict"
	}
	return fmt.Sprintf("ErrorCode(%d)", int(c))
}

// AllErrorCodes returns every defined code, in order.
func AllErrorCodes() []ErrorCode {
	codes := make([]ErrorCode, 0, numErrorCodes-1)
	for c := ErrMalformed; c < numErrorCodes; c++ {
		codes = append(codes, c)
	}
	return codes
}

// RuleError is a rejection: which rule and a description of the violation.
// Callers match it with errors.As and look at Code.
type RuleError struct {
	Code ErrorCode
	Desc string
}

// Error is the description alone: it reaches users (a refused send says
// why), who have no use for the code's Go name; callers that need the rule
// match Code with errors.As.
func (e *RuleError) Error() string { return e.Desc }

func ruleErr(code ErrorCode, format string, args ...any) error {
	return &RuleError{Code: code, Desc: fmt.Sprintf(format, args...)}
}
