package ledger

// Genesis nonces, found by mining each network's genesis header once
// (TestGenesisProofOfWork checks them; it prints a new nonce if a genesis
// field changes).
const (
	mainGenesisNonce = 1569642
	devGenesisNonce  = 1464
)

// Genesis returns the network's genesis block. Its coinbase pays nothing
// to the zero address, so the chain starts with no coins; it is the one
// block that is not validated, because every node builds it from Params.
func (p *Params) Genesis() *Block {
	cb := &Tx{
		ChainID: p.ChainID,
		Kind:    TxCoinbase,
		Payload: []byte(p.GenesisMessage),
	}
	blk := &Block{
		Header: Header{
			Version: BlockVersion,
			Time:    p.GenesisTime,
			Bits:    p.GenesisBits,
			Nonce:   p.GenesisNonce,
		},
		Txs: []*Tx{cb},
	}
	blk.Header.MerkleRoot = MerkleRoot(blk.TxIDs())
	return blk
}
