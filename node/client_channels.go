package node

import (
	"context"
	"net/http"
)

// callAPI sends req (nil for none) to path and decodes the answer into a T.
func callAPI[T any](ctx context.Context, c *Client, method, path string, req any) (T, error) {
	var v T
	err := c.Do(ctx, method, path, req, &v)
	return v, err
}

// Channels lists the channels the daemon's wallet pays or is paid through.
func (c *Client) Channels(ctx context.Context) ([]ChannelJSON, error) {
	return callAPI[[]ChannelJSON](ctx, c, http.MethodGet, "/api/v0/channel/list", nil)
}

// OpenChannel asks the daemon to open a channel from its wallet.
func (c *Client) OpenChannel(ctx context.Context, req ChannelOpenRequest) (ChannelTxJSON, error) {
	return callAPI[ChannelTxJSON](ctx, c, http.MethodPost, "/api/v0/channel/open", req)
}

// CloseChannel asks the daemon to close a channel that pays it.
func (c *Client) CloseChannel(ctx context.Context, req ChannelTxRequest) (ChannelTxJSON, error) {
	return callAPI[ChannelTxJSON](ctx, c, http.MethodPost, "/api/v0/channel/close", req)
}

// RefundChannel asks the daemon to take back the deposit of an expired
// channel it pays.
func (c *Client) RefundChannel(ctx context.Context, req ChannelTxRequest) (ChannelTxJSON, error) {
	return callAPI[ChannelTxJSON](ctx, c, http.MethodPost, "/api/v0/channel/refund", req)
}

// TopupChannel asks the daemon to add deposit or life to a channel it pays.
func (c *Client) TopupChannel(ctx context.Context, req ChannelTopupRequest) (ChannelTxJSON, error) {
	return callAPI[ChannelTxJSON](ctx, c, http.MethodPost, "/api/v0/channel/topup", req)
}

// PayChannel asks the daemon for a voucher paying more in a channel.
func (c *Client) PayChannel(ctx context.Context, req ChannelPayRequest) (VoucherJSON, error) {
	return callAPI[VoucherJSON](ctx, c, http.MethodPost, "/api/v0/channel/pay", req)
}

// AcceptVoucher hands the daemon a voucher received as payee.
func (c *Client) AcceptVoucher(ctx context.Context, req VoucherAcceptRequest) (AcceptJSON, error) {
	return callAPI[AcceptJSON](ctx, c, http.MethodPost, "/api/v0/channel/accept", req)
}
