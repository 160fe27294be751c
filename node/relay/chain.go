package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Settings that hold the chain downlink in the store's CRDT, each a JSON
// hqapi.Chain with one of its lists: the chain's stores (destinations a
// till may send to) and the transfers in transit to this store (what a
// till receives from). Every till reads them offline.
const (
	ChainStoresSetting   = "hq.chain.stores"
	ChainIncomingSetting = "hq.chain.incoming"
	// ChainStockSetting holds HQ's cross-store stock snapshot (JSON
	// hqapi.StockSnapshot), renewed every Config.StockEvery.
	ChainStockSetting = "hq.chain.stock"
)

// ErrOlderChain says HQ sent a chain message older than the one the store
// holds (another HQ process with a slower clock, or a restored HQ).
var ErrOlderChain = errors.New("relay: chain message older than the one held")

// chainDownlink fetches the chain downlink and writes each list that
// changed into the CRDT. An HQ without the downlink is not an error.
func (r *Relay) chainDownlink(ctx context.Context) error {
	c, err := r.client.Chain(ctx)
	switch {
	case hqapi.NoChainDownlink(err):
		r.log.Debug("HQ has no chain downlink (an older HQ)")
		return nil
	case errors.Is(err, hqapi.ErrBadRequest):
		r.log.Warn("chain message from HQ refused", "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("hq chain: %w", err)
	}
	stores := hqapi.Chain{Version: c.Version, Made: c.Made, Stores: c.Stores}
	incoming := hqapi.Chain{Version: c.Version, Made: c.Made, Incoming: c.Incoming}
	for _, part := range []struct {
		name string
		msg  hqapi.Chain
	}{{ChainStoresSetting, stores}, {ChainIncomingSetting, incoming}} {
		if err := PutChain(ctx, r.cfg.Inventory, part.name, part.msg); errors.Is(err, ErrOlderChain) {
			r.log.Warn("chain message from HQ older than the store's; kept the store's", "setting", part.name, "err", err)
		} else if err != nil {
			return err
		}
	}
	return r.stockDownlink(ctx)
}

// stockDownlink brings HQ's cross-store stock snapshot into the CRDT when
// the one the store holds is older than StockEvery (kept there, so a new
// relay does not fetch again at once).
func (r *Relay) stockDownlink(ctx context.Context) error {
	held, err := ReadStock(ctx, r.cfg.Inventory)
	if err == nil && r.cfg.Now().UnixMilli()-held.Made < r.cfg.StockEvery.Milliseconds() {
		return nil
	}
	s, err := r.client.Stock(ctx)
	switch {
	case hqapi.NoChainDownlink(err):
		return nil
	case errors.Is(err, hqapi.ErrBadRequest):
		r.log.Warn("stock snapshot from HQ refused", "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("hq stock: %w", err)
	}
	if err := PutStock(ctx, r.cfg.Inventory, s); errors.Is(err, ErrOlderChain) {
		r.log.Warn("stock snapshot from HQ older than the store's; kept the store's", "err", err)
	} else if err != nil {
		return err
	}
	return nil
}

// PutStock writes a stock snapshot into ChainStockSetting unless the
// store holds a newer one (ErrOlderChain: nothing changes) or the
// snapshot breaks its bounds.
func PutStock(ctx context.Context, inv Inventory, s hqapi.StockSnapshot) error {
	if err := s.Check(); err != nil {
		return err
	}
	if held, err := ReadStock(ctx, inv); err == nil && held.Made > s.Made {
		return fmt.Errorf("%w: stock snapshot made at %d, the store holds one made at %d", ErrOlderChain, s.Made, held.Made)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode stock snapshot: %w", err)
	}
	if err := inv.PutSetting(ctx, ChainStockSetting, b); err != nil {
		return fmt.Errorf("save stock snapshot: %w", err)
	}
	return nil
}

// ReadStock reads the stock snapshot the store holds: an error wrapping
// crdt.ErrNotFound when there is none.
func ReadStock(ctx context.Context, inv interface {
	Setting(ctx context.Context, name string) ([]byte, error)
}) (*hqapi.StockSnapshot, error) {
	b, err := inv.Setting(ctx, ChainStockSetting)
	if err != nil {
		return nil, err
	}
	return hqapi.DecodeStock(b)
}

// PutChain writes a chain message into setting name unless it holds the
// same lists already (the CRDT keeps every write forever) or a newer
// message (ErrOlderChain: nothing changes).
func PutChain(ctx context.Context, inv Inventory, name string, msg hqapi.Chain) error {
	if err := msg.Check(); err != nil {
		return err
	}
	held, err := ReadChain(ctx, inv, name)
	switch {
	case errors.Is(err, crdt.ErrNotFound):
	case err != nil:
		// An unreadable setting (a newer version's) is replaced.
	case held.Made > msg.Made:
		return fmt.Errorf("%w: %s made at %d, the store holds one made at %d", ErrOlderChain, name, msg.Made, held.Made)
	case sameLists(held, &msg):
		return nil
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if err := inv.PutSetting(ctx, name, b); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// ReadChain reads a chain message from setting name: an error wrapping
// crdt.ErrNotFound when there is none.
func ReadChain(ctx context.Context, inv interface {
	Setting(ctx context.Context, name string) ([]byte, error)
}, name string) (*hqapi.Chain, error) {
	b, err := inv.Setting(ctx, name)
	if err != nil {
		return nil, err
	}
	return hqapi.DecodeChain(b)
}

// sameLists compares the lists of two chain messages, an empty list
// equal to none.
func sameLists(a, b *hqapi.Chain) bool {
	norm := func(c *hqapi.Chain) hqapi.Chain {
		return hqapi.Chain{Stores: append([]hqapi.ChainStore(nil), c.Stores...),
			Incoming: append([]hqapi.IncomingTransfer(nil), c.Incoming...)}
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
