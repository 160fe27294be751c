package hqapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// ChainPath is the chain downlink: the other stores of the chain and the
// transfers on their way to this store, as HQ knows them now. An HQ
// before it answers 404; the relay then skips it.
func ChainPath(s ledger.StoreID) string { return "/v1/stores/" + s.String() + "/chain" }

// ChainVersion is the version of the Chain message. A relay keeps a
// message of a version it does not know out of the store (it logs it),
// so a newer HQ's change of meaning never reaches an older till.
const ChainVersion = 1

// Limits of the chain downlink. Each part goes into one setting of the
// store's CRDT (64 KiB), so the parts are bounded well below that.
const (
	MaxChainStores   = 1000 // stores in Chain.Stores
	MaxChainIncoming = 200  // transfers in Chain.Incoming
	MaxStoreNameLen  = 200
)

// ChainStore is a store of the chain, as a destination a till can pick.
type ChainStore struct {
	ID   ledger.StoreID `json:"id"`
	Name string         `json:"name"`
}

// IncomingTransfer is a transfer sent to the store that the store has not
// received yet (as far as HQ knows): the list a till receives from.
type IncomingTransfer struct {
	Number   string             `json:"number"`
	From     ledger.StoreID     `json:"from"`
	FromName string             `json:"from_name,omitempty"`
	Lines    []ledger.StockLine `json:"lines"`
	Note     string             `json:"note,omitempty"`
	Sent     int64              `json:"sent"` // Unix ms of the transfer_out
}

// Chain is the answer to GET ChainPath. Made is HQ's clock when it was
// made: a till keeps the newest it has seen and refuses an older one.
type Chain struct {
	Version  int                `json:"version"`
	Made     int64              `json:"made"`
	Stores   []ChainStore       `json:"stores"`
	Incoming []IncomingTransfer `json:"incoming"`
}

// Check bounds a chain message from HQ: its version, sizes, and the
// transfers it lists (each as a transfer_out would be).
func (c *Chain) Check() error {
	switch {
	case c.Version != ChainVersion:
		return fmt.Errorf("%w: chain message version %d, this till reads %d", ErrBadRequest, c.Version, ChainVersion)
	case c.Made <= 0:
		return fmt.Errorf("%w: chain message made at %d", ErrBadRequest, c.Made)
	case len(c.Stores) > MaxChainStores:
		return fmt.Errorf("%w: %d stores, limit %d", ErrBadRequest, len(c.Stores), MaxChainStores)
	case len(c.Incoming) > MaxChainIncoming:
		return fmt.Errorf("%w: %d incoming transfers, limit %d", ErrBadRequest, len(c.Incoming), MaxChainIncoming)
	}
	for i, s := range c.Stores {
		if s.ID == (ledger.StoreID{}) || s.Name == "" || len(s.Name) > MaxStoreNameLen {
			return fmt.Errorf("%w: store %d: want an ID and a name of 1..%d bytes", ErrBadRequest, i, MaxStoreNameLen)
		}
	}
	for i, t := range c.Incoming {
		out := ledger.TransferOut{Number: t.Number, To: ledger.StoreID{1}, Lines: t.Lines, Note: t.Note, Staff: "hq"}
		if err := ledger.CheckBody(&out); err != nil || t.From == (ledger.StoreID{}) || len(t.FromName) > MaxStoreNameLen {
			return fmt.Errorf("%w: incoming transfer %d (%s): %v", ErrBadRequest, i, t.Number, err)
		}
	}
	return nil
}

// DecodeChain parses and checks a chain message.
func DecodeChain(b []byte) (*Chain, error) {
	var c Chain
	dec := json.NewDecoder(strings.NewReader(string(b))) // unknown fields: a newer HQ's, ignored
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: chain message: %v", ErrBadRequest, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Chain fetches the chain downlink. An HQ without it answers an error for
// which NoChainDownlink is true.
func (c *Client) Chain(ctx context.Context) (Chain, error) {
	var out Chain
	err := c.do(ctx, http.MethodGet, ChainPath(c.store), nil, "", nil, &out)
	if err == nil {
		err = out.Check()
	}
	return out, err
}

// NoChainDownlink reports whether err says HQ has no chain downlink (an
// HQ before it).
func NoChainDownlink(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound && se.Body.Code != CodeUnknownStore
}
