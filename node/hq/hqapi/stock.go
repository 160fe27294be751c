package hqapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tillmesh/tillmesh/ledger"
)

// StockPath is the cross-store stock downlink: for each SKU the store
// stocks, the other stores holding the most of it, as HQ last heard.
func StockPath(s ledger.StoreID) string { return "/v1/stores/" + s.String() + "/stock" }

// StockVersion is the version of the StockSnapshot message; a relay
// keeps one of a version it does not know out of the store.
const StockVersion = 1

// Bounds of a stock snapshot. It goes into one setting of the store's
// CRDT (64 KiB), so HQ sends at most MaxStockStores stores per SKU (the
// ones holding the most) and drops SKUs, last by name, until the encoded
// message fits MaxStockBytes.
const (
	MaxStockStores = 5
	MaxStockBytes  = 60 << 10
)

// StockStore is a store a snapshot's figures name by index.
type StockStore struct {
	ID   ledger.StoreID `json:"id"`
	Name string         `json:"name"`
	At   int64          `json:"at"` // Unix ms: the store's last upload, when its figures were current
}

// StockSnapshot is the answer to GET StockPath. SKUs maps a SKU to pairs
// [index into Stores, quantity], most first; quantities are positive.
type StockSnapshot struct {
	Version int                   `json:"version"`
	Made    int64                 `json:"made"`
	Stores  []StockStore          `json:"stores"`
	SKUs    map[string][][2]int64 `json:"skus"`
}

// Check bounds a snapshot: version, sizes, indexes and quantities.
func (s *StockSnapshot) Check() error {
	switch {
	case s.Version != StockVersion:
		return fmt.Errorf("%w: stock snapshot version %d, this till reads %d", ErrBadRequest, s.Version, StockVersion)
	case s.Made <= 0:
		return fmt.Errorf("%w: stock snapshot made at %d", ErrBadRequest, s.Made)
	case len(s.Stores) > MaxChainStores:
		return fmt.Errorf("%w: %d stores, limit %d", ErrBadRequest, len(s.Stores), MaxChainStores)
	}
	for i, st := range s.Stores {
		if st.ID == (ledger.StoreID{}) || st.Name == "" || len(st.Name) > MaxStoreNameLen || st.At < 0 {
			return fmt.Errorf("%w: stock snapshot store %d: want an ID, a name of 1..%d bytes and a time", ErrBadRequest, i, MaxStoreNameLen)
		}
	}
	for sku, figs := range s.SKUs {
		if sku == "" || len(sku) > ledger.MaxSKULen || len(figs) > MaxStockStores {
			return fmt.Errorf("%w: stock snapshot sku %q with %d figures", ErrBadRequest, sku, len(figs))
		}
		for _, f := range figs {
			if f[0] < 0 || f[0] >= int64(len(s.Stores)) || f[1] <= 0 || f[1] > ledger.MaxQty*1000 {
				return fmt.Errorf("%w: stock snapshot sku %q: figure %v", ErrBadRequest, sku, f)
			}
		}
	}
	return nil
}

// DecodeStock parses and checks a stock snapshot.
func DecodeStock(b []byte) (*StockSnapshot, error) {
	if len(b) > MaxBody {
		return nil, fmt.Errorf("%w: stock snapshot of %d bytes", ErrBadRequest, len(b))
	}
	var s StockSnapshot
	dec := json.NewDecoder(strings.NewReader(string(b))) // unknown fields: a newer HQ's, ignored
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: stock snapshot: %v", ErrBadRequest, err)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Stock fetches the cross-store stock snapshot. An HQ without it answers
// an error for which NoChainDownlink is true.
func (c *Client) Stock(ctx context.Context) (StockSnapshot, error) {
	var out StockSnapshot
	err := c.do(ctx, http.MethodGet, StockPath(c.store), nil, "", nil, &out)
	if err == nil {
		err = out.Check()
	}
	return out, err
}
