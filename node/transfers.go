package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/relay"
	"github.com/tillmesh/tillmesh/ui"
)

// Stock transfers between the stores of a chain (ui.TransferDesk). The
// chain's stores and the transfers on their way here come from HQ through
// the relay into the CRDT (relay/chain.go), so both ends work offline:
// the sender checks the destination against the last list it holds, the
// receiver receives from the last incoming list, or blind by the number
// on the transfer note (whose first part names the sending store).

var _ ui.TransferDesk = (*Till)(nil)

// chainList reads one part of the chain downlink; nil, nil when the store
// holds none yet.
func (t *Till) chainList(ctx context.Context, setting string) (*hqapi.Chain, error) {
	c, err := relay.ReadChain(ctx, t.inv, setting)
	switch {
	case errors.Is(err, crdt.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", setting, err)
	}
	return c, nil
}

// Transfers lists the chain's other stores, the transfers on their way
// here not yet received, and this store's transfers both ways.
func (t *Till) Transfers(ctx context.Context) (ui.Transfers, error) {
	out := ui.Transfers{Stores: []ui.ChainStore{}, Incoming: []ui.IncomingTransfer{}, Sent: []ui.TransferSide{}, Received: []ui.TransferSide{}}
	stores, err := t.chainList(ctx, relay.ChainStoresSetting)
	if err != nil {
		return out, err
	}
	names := map[ledger.StoreID]string{}
	if stores != nil {
		out.StoresAge = time.UnixMilli(stores.Made)
		for _, s := range stores.Stores {
			names[s.ID] = s.Name
			if s.ID != t.cfg.Store.ID {
				out.Stores = append(out.Stores, ui.ChainStore{ID: s.ID.String(), Name: s.Name})
			}
		}
	}
	incoming, err := t.chainList(ctx, relay.ChainIncomingSetting)
	if err != nil {
		return out, err
	}
	var sent, received []*ledger.TransferSide
	t.db.View(func(st *ledger.State) {
		f := st.Fold()
		sent, received = f.TransfersOut(), f.TransfersIn()
		if incoming == nil {
			return
		}
		for _, in := range incoming.Incoming {
			if len(f.TransferIn(in.Number)) > 0 {
				continue // received here; HQ has not heard yet
			}
			out.Incoming = append(out.Incoming, ui.IncomingTransfer{Number: in.Number, From: in.From.String(),
				FromName: in.FromName, Lines: in.Lines, Note: in.Note, Sent: time.UnixMilli(in.Sent)})
		}
	})
	side := func(s *ledger.TransferSide) ui.TransferSide {
		return ui.TransferSide{Number: s.Number, Other: s.Other.String(), OtherName: names[s.Other], Lines: s.Lines,
			Sent: s.Sent, Note: s.Note, Receipt: ledger.EventNo(t.number(s.Till), s.Seq), At: time.UnixMilli(s.Time.Wall)}
	}
	for _, s := range sent {
		out.Sent = append(out.Sent, side(s))
	}
	for _, s := range received {
		out.Received = append(out.Received, side(s))
	}
	return out, nil
}

// TransferOut sends goods to another store of the chain: the destination
// must be on the chain's list HQ sent, every SKU in the catalog. The
// transfer number is made here (ledger.TransferNumber with the seq the
// event takes), unique in the chain without asking anyone.
func (t *Till) TransferOut(ctx context.Context, req ui.TransferOutRequest, staff string) (*ledger.Event, bool, error) {
	if ev, ok := t.replayed(req.IdempotencyKey, ledger.KindTransferOut); ok {
		return ev, true, nil // a retried request: its transfer, as it was
	}
	to, err := ledger.ParseStoreID(strings.TrimSpace(req.To))
	if err != nil {
		return nil, false, fmt.Errorf("%w: destination store %q: %v", ui.ErrBadRequest, req.To, err)
	}
	if to == t.cfg.Store.ID {
		return nil, false, fmt.Errorf("%w: the destination is this store", ui.ErrBadRequest)
	}
	stores, err := t.chainList(ctx, relay.ChainStoresSetting)
	if err != nil {
		return nil, false, err
	}
	if stores == nil {
		return nil, false, fmt.Errorf("%w: no list of the chain's stores from HQ yet: it comes through the relay once HQ is reachable", ui.ErrBadRequest)
	}
	known := false
	for _, s := range stores.Stores {
		known = known || s.ID == to
	}
	if !known {
		return nil, false, fmt.Errorf("%w: unknown destination store %s: not on the chain's list HQ sent (%d stores)", ui.ErrBadRequest, to, len(stores.Stores))
	}
	if err := t.checkTransferSKUs(ctx, req.Lines); err != nil {
		return nil, false, err
	}
	body := &ledger.TransferOut{To: to, Lines: req.Lines, Note: req.Note, Staff: staff}
	t.xferMu.Lock()
	defer t.xferMu.Unlock()
	var seq uint64
	t.db.View(func(st *ledger.State) { seq, _, _ = st.Head(t.id) })
	body.Number = ledger.TransferNumber(t.cfg.Store.ID, t.cert.Number, seq+1)
	if err := ledger.CheckBody(body); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	return t.Record(ctx, body, req.IdempotencyKey)
}

// replayed returns the event of kind k an idempotency key already made.
// A key that made another kind is left for Record to refuse.
func (t *Till) replayed(idem string, k ledger.Kind) (*ledger.Event, bool) {
	if idem == "" {
		return nil, false
	}
	ev, err := t.Replay(idem)
	if err != nil || ev == nil || ev.Kind() != k {
		return nil, false
	}
	return ev, true
}

func (t *Till) checkTransferSKUs(ctx context.Context, lines []ledger.StockLine) error {
	for i, l := range lines {
		if _, err := t.inv.Product(ctx, l.SKU); err != nil {
			return inventoryErr(err, fmt.Sprintf("line %d: unknown sku %q", i+1, l.SKU))
		}
	}
	return nil
}

// TransferIn receives a transfer by its number. A transfer on the
// incoming list is held to it: what was sent is recorded with what
// arrived, and more than was sent is refused. A transfer not on the list
// (this store has not heard from HQ since it was sent) is received blind:
// the sender is the request's From or the store the number's first part
// names, and HQ matches it later.
func (t *Till) TransferIn(ctx context.Context, req ui.TransferInRequest, staff string) (*ledger.Event, bool, error) {
	if ev, ok := t.replayed(req.IdempotencyKey, ledger.KindTransferIn); ok {
		return ev, true, nil
	}
	if req.Number == "" {
		return nil, false, fmt.Errorf("%w: no transfer number: scan the transfer note or pick from the list", ui.ErrBadRequest)
	}
	body := &ledger.TransferIn{Number: req.Number, Lines: req.Lines, Note: req.Note, Staff: staff}
	incoming, err := t.chainList(ctx, relay.ChainIncomingSetting)
	if err != nil {
		return nil, false, err
	}
	var listed *hqapi.IncomingTransfer
	if incoming != nil {
		for i := range incoming.Incoming {
			if incoming.Incoming[i].Number == req.Number {
				listed = &incoming.Incoming[i]
			}
		}
	}
	switch {
	case listed != nil:
		body.From, body.Sent = listed.From, listed.Lines
		body.Lines = receivedLines(listed.Lines, req.Lines)
	default:
		from, err := t.senderOf(ctx, req)
		if err != nil {
			return nil, false, err
		}
		body.From = from
	}
	if body.From == t.cfg.Store.ID {
		return nil, false, fmt.Errorf("%w: transfer %s was sent by this store: it is received at its destination", ui.ErrBadRequest, req.Number)
	}
	if err := t.checkTransferSKUs(ctx, body.Lines); err != nil {
		return nil, false, err
	}
	if err := ledger.CheckBody(body); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	return t.Record(ctx, body, req.IdempotencyKey)
}

// receivedLines puts what arrived in the order of what was sent, a sent
// line not in got arriving as 0; lines of SKUs that were not sent stay,
// for the ledger to refuse by name.
func receivedLines(sent, got []ledger.StockLine) []ledger.StockLine {
	have := map[string]bool{}
	qty := map[string]int64{}
	for _, l := range got {
		qty[l.SKU] += l.Qty
		have[l.SKU] = true
	}
	out := make([]ledger.StockLine, 0, len(sent))
	for _, l := range sent {
		out = append(out, ledger.StockLine{SKU: l.SKU, Qty: qty[l.SKU]})
		delete(have, l.SKU)
	}
	for _, l := range got {
		if have[l.SKU] {
			out = append(out, ledger.StockLine{SKU: l.SKU, Qty: qty[l.SKU]})
			delete(have, l.SKU)
		}
	}
	return out
}

// senderOf finds the sending store of a transfer received blind: From if
// given, else the store of the chain's list whose ID starts with the
// number's first part.
func (t *Till) senderOf(ctx context.Context, req ui.TransferInRequest) (ledger.StoreID, error) {
	if f := strings.TrimSpace(req.From); f != "" {
		id, err := ledger.ParseStoreID(f)
		if err != nil {
			return id, fmt.Errorf("%w: sending store %q: %v", ui.ErrBadRequest, f, err)
		}
		return id, nil
	}
	stores, err := t.chainList(ctx, relay.ChainStoresSetting)
	if err != nil {
		return ledger.StoreID{}, err
	}
	prefix, _, _ := strings.Cut(req.Number, "-")
	var found []ledger.StoreID
	if stores != nil && len(prefix) == 8 {
		for _, s := range stores.Stores {
			if strings.HasPrefix(s.ID.String(), prefix) {
				found = append(found, s.ID)
			}
		}
	}
	if len(found) != 1 {
		return ledger.StoreID{}, fmt.Errorf("%w: transfer %s is not on the incoming list and its number names no one store of the chain: pick the sending store", ui.ErrBadRequest, req.Number)
	}
	return found[0], nil
}

// chainStockCache keeps the last stock snapshot decoded, by its bytes:
// the stock page asks for every SKU at once.
type chainStockCache struct {
	mu   sync.Mutex
	raw  []byte
	snap *hqapi.StockSnapshot
}

var _ ui.ChainStocker = (*Till)(nil)

// chainSnapshot returns the cross-store stock snapshot the store holds,
// or nil (none yet, or unreadable: then logged).
func (t *Till) chainSnapshot(ctx context.Context) *hqapi.StockSnapshot {
	raw, err := t.inv.Setting(ctx, relay.ChainStockSetting)
	if err != nil {
		if !errors.Is(err, crdt.ErrNotFound) {
			t.log.Debug("read the stock snapshot", "err", err)
		}
		return nil
	}
	c := &t.snapCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil && bytes.Equal(c.raw, raw) {
		return c.snap
	}
	snap, err := hqapi.DecodeStock(raw)
	if err != nil {
		t.log.Warn("stock snapshot from HQ unreadable; not shown", "err", err)
		return nil
	}
	c.raw, c.snap = raw, snap
	return snap
}

func chainFigures(snap *hqapi.StockSnapshot, sku string) []ui.ChainStock {
	var out []ui.ChainStock
	for _, f := range snap.SKUs[sku] {
		st := snap.Stores[f[0]] // indexes checked by DecodeStock
		out = append(out, ui.ChainStock{Store: st.ID.String(), Name: st.Name, Qty: f[1], At: time.UnixMilli(st.At)})
	}
	return out
}

// chainStockOf returns the other stores' stock of a SKU from HQ's last
// snapshot, most first; nil without one.
func (t *Till) chainStockOf(ctx context.Context, sku string) []ui.ChainStock {
	snap := t.chainSnapshot(ctx)
	if snap == nil {
		return nil
	}
	return chainFigures(snap, sku)
}

// ChainStock returns the whole snapshot by SKU, for the sale screen's
// lookup.
func (t *Till) ChainStock(ctx context.Context) (map[string][]ui.ChainStock, error) {
	out := map[string][]ui.ChainStock{}
	snap := t.chainSnapshot(ctx)
	if snap == nil {
		return out, nil
	}
	for sku := range snap.SKUs {
		out[sku] = chainFigures(snap, sku)
	}
	return out, nil
}
