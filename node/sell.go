package node

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/basket"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/ui"
)

// Record makes, signs and durably stores one of this till's events, then
// writes its stock movements into the CRDT and sends it to the peers. It
// returns once the event is on disk; the mesh is never waited for. A
// repeated idempotency key returns the first event and existing=true.
func (t *Till) Record(ctx context.Context, body ledger.Body, idem string) (ev *ledger.Event, existing bool, err error) {
	if err := t.kindAllowed(ctx, body.Kind()); err != nil {
		return nil, false, err
	}
	if ledger.Rounded(body) {
		if err := t.kindAllowed(ctx, ledger.FeatureCashRounding); err != nil {
			return nil, false, err
		}
	}
	useBy, after, err := t.beforeRecord(ctx, body, idem) // grants.go: spent once
	if err != nil {
		return nil, false, err
	}
	body = t.roundRefund(ctx, body) // the granted amount, rounded when paid in cash
	if after != nil {
		defer func() { after(ev, existing, err) }() // after the unlock below
	}
	t.sellMu.Lock()
	defer t.sellMu.Unlock()
	if !useBy.IsZero() && time.Now().After(useBy) {
		return nil, false, fmt.Errorf("%w: the refund's grant ran out before it could be recorded; try again", ui.ErrUnavailable)
	}
	ev, existing, err = t.db.Append(ctx, t.key, body, idem, t.cfg.Now().UnixMilli())
	if err != nil || existing {
		return ev, existing, mapStoreErr(err)
	}
	// Peers first: nothing below is on the event's way to the other
	// tills.
	if err := t.sync.Publish(ctx, ev); err != nil {
		t.log.Debug("publish event; peers will pull it", "seq", ev.Seq, "err", err)
	}
	if m := ledger.Movements(ev); len(m) > 0 {
		// Queued, not waited for: the inventory writes this till's
		// movements in one DAG node per interval (crdt.QueueMovements).
		// Not atomic with the ledger write: movements queued or written
		// and not synced when the till stops are mended by repairStock
		// at the next start.
		if err := t.inv.QueueMovements(ev.Seq, m); err != nil {
			t.log.Warn("stock counter not updated; repaired at next start", "seq", ev.Seq, "err", err)
		}
	}
	if t.relay != nil {
		t.relay.Kick()
	}
	t.kickOutbox()
	t.afterCommit(ev, idem)
	return ev, false, nil
}

func mapStoreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ledgerdb.ErrDiskFull), errors.Is(err, ledgerdb.ErrOwnChainDamaged):
		return fmt.Errorf("%w: %v", ui.ErrUnavailable, err)
	case errors.Is(err, ledgerdb.ErrIdempotencyReuse):
		return fmt.Errorf("%w: %v", ui.ErrConflict, err)
	}
	return err
}

// product finds a line's product by SKU or by barcode (productByCode).
func (t *Till) product(ctx context.Context, l ui.SaleLine) (crdt.Product, error) {
	switch {
	case l.SKU != "" && l.Barcode != "":
		return crdt.Product{}, fmt.Errorf("%w: line names both sku %q and barcode %q", ui.ErrBadRequest, l.SKU, l.Barcode)
	case l.SKU != "":
		p, err := t.inv.Product(ctx, l.SKU)
		if errors.Is(err, crdt.ErrNotFound) || errors.Is(err, crdt.ErrInvalid) {
			return p, fmt.Errorf("%w: unknown sku %q", ui.ErrBadRequest, l.SKU)
		}
		return p, err
	case l.Barcode != "":
		p, err := t.productByCode(ctx, l.Barcode)
		if errors.Is(err, ui.ErrNotFound) {
			return p, fmt.Errorf("%w: unknown barcode %q", ui.ErrBadRequest, l.Barcode)
		}
		return p, err
	}
	return crdt.Product{}, fmt.Errorf("%w: a line needs a sku or a barcode", ui.ErrBadRequest)
}

// productByCode finds the product a scanned or typed code names, by
// ledger/basket's one rule (basket.LookupKeys): a wrong GS1 check digit
// wraps ui.ErrBadRequest, an unknown code ui.ErrNotFound.
func (t *Till) productByCode(ctx context.Context, code string) (crdt.Product, error) {
	keys, err := basket.LookupKeys(code)
	if err != nil {
		return crdt.Product{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	for _, k := range keys {
		p, err := t.inv.ProductByBarcode(ctx, k)
		if !errors.Is(err, crdt.ErrNotFound) {
			return p, err
		}
	}
	return crdt.Product{}, fmt.Errorf("%w: unknown barcode %s", ui.ErrNotFound, code)
}

// Sell records a sale from an API request: it looks each line's product
// up in the catalog, prices the basket by ledger/basket's rules
// (ui.SaleRequest.Sale: prices include tax unless the store's
// tax_included setting is "false"; the discounts and price overrides are
// what the UI approved) and records the sale. The idempotency key is looked up once, where the event is
// stored (Record): a retry gets the first event and existing=true.
func (t *Till) Sell(ctx context.Context, req ui.SaleRequest) (*ledger.Event, bool, error) {
	if req.Staff == "" {
		req.Staff = "api"
	}
	// The store's setting decides, whoever made the request.
	req.TaxAdded = !t.taxIncluded(ctx)
	req.CashStep = t.cashStep(ctx)
	find := func(l ui.SaleLine) (ui.Product, error) { return t.product(ctx, l) }
	sale, err := req.Sale(find)
	if err != nil {
		return nil, false, err
	}
	if ledger.Rounded(sale) {
		if gate := t.kindAllowed(ctx, ledger.FeatureCashRounding); gate != nil {
			// A till of an older release would refuse a rounded sale: take
			// the exact amount, or say which till holds the rounding back.
			req.CashStep = 0
			if sale, err = req.Sale(find); err != nil {
				return nil, false, fmt.Errorf("%w (cash is not rounded yet: %v)", err, gate)
			}
		}
	}
	if err := t.checkSaleCustomer(sale.Customer); err != nil { // node/customers.go
		return nil, false, err
	}
	ev, existing, err := t.Record(ctx, sale, req.IdempotencyKey)
	if err == nil && existing && ev.Kind() != ledger.KindSale {
		err = fmt.Errorf("%w: idempotency key %q made a %s", ui.ErrConflict, req.IdempotencyKey, ev.Kind())
	}
	if err != nil {
		return nil, false, err
	}
	return ev, existing, nil
}

// Stock returns a SKU's store stock from the CRDT counters (a revoked
// till's from the ledger: storeStock in revoke.go).
func (t *Till) Stock(ctx context.Context, sku string) (ui.StockLevel, error) {
	total, slots, err := t.storeStock(ctx, sku)
	if err != nil && !errors.Is(err, crdt.ErrNotFound) {
		return ui.StockLevel{}, err
	}
	p, perr := t.inv.Product(ctx, sku)
	if perr != nil && len(slots) == 0 {
		return ui.StockLevel{}, fmt.Errorf("%w: unknown sku %q", ui.ErrNotFound, sku)
	}
	return ui.StockLevel{SKU: sku, Name: p.Name, Total: total, Slots: t.bySlotName(slots), Chain: t.chainStockOf(ctx, sku)}, nil
}

func (t *Till) bySlotName(slots map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(slots))
	for till, q := range slots {
		out[t.tillName(till)] += q
	}
	return out
}

// tillName turns a till ID (hex) into its number when known: from a
// certificate seen before, or else one published in the inventory (a
// till newly enrolled holds every till's there, from the snapshot, long
// before ledger sync brings their events).
func (t *Till) tillName(hexID string) string {
	if id, err := ledger.ParseTillID(hexID); err == nil {
		n := t.number(id)
		if n == 0 && t.enrolled(id) {
			n = t.number(id)
		}
		if n > 0 {
			return strconv.FormatUint(uint64(n), 10)
		}
		return id.Short()
	}
	return hexID
}

// AllStock lists every product of the catalog, with its stock (0 for a
// product nothing has moved yet, so a new product can be received), and
// every SKU with stock counters that is no longer in the catalog.
func (t *Till) AllStock(ctx context.Context) ([]ui.StockLevel, error) {
	totals, err := t.inv.AllStock(ctx)
	if err != nil {
		return nil, err
	}
	prods, err := t.inv.Products(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]crdt.Product, len(prods))
	skus := make([]string, 0, len(totals)+len(prods))
	for _, p := range prods {
		names[p.SKU] = p
		skus = append(skus, p.SKU)
	}
	for sku := range totals {
		if _, ok := names[sku]; !ok {
			skus = append(skus, sku)
		}
	}
	sort.Strings(skus)
	out := make([]ui.StockLevel, 0, len(skus))
	for _, sku := range skus {
		if _, moved := totals[sku]; !moved {
			p := names[sku]
			out = append(out, ui.StockLevel{SKU: sku, Name: p.Name, Slots: map[string]int64{}})
			continue
		}
		st, err := t.Stock(ctx, sku)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Status describes the till, its peers and its ledger.
func (t *Till) Status(ctx context.Context) ui.Status {
	st := ui.Status{Till: t.host.Host().ID().String(), TillID: t.id.String(), Number: t.cert.Number, Name: t.cert.Name,
		Store: t.cfg.Store.ID.String(), VersionVector: map[string]uint64{}, Peers: []ui.Peer{},
		ClockWarnings: []string{}, CRDTHeads: []string{},
		HQ: t.hqStatus()}
	for _, a := range t.host.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
	}
	v := t.db.Vector()
	for id, seq := range v {
		st.VersionVector[t.tillName(id.String())] = seq
		st.Events += seq
	}
	synced := t.sync.Peers()
	for _, p := range t.host.Peers() {
		sp := synced[p.ID]
		up := ui.Peer{ID: p.ID.String(), Number: p.Number, Name: p.Name, Connected: p.Connected, LastSeen: p.LastSeen,
			Behind: sp.Behind, Ahead: sp.Ahead, SkewMS: sp.Skew.Milliseconds(), Addrs: []string{}}
		for _, a := range p.Addrs {
			up.Addrs = append(up.Addrs, a.String())
		}
		if !p.Connected {
			up.Offline = ui.OfflineSince(p.LastSeen, t.cfg.Now())
		}
		if sp.Skew > 2*time.Minute || sp.Skew < -2*time.Minute {
			st.ClockWarnings = append(st.ClockWarnings, fmt.Sprintf("till %d's clock differs from ours by %v", p.Number, sp.Skew.Round(time.Second)))
		}
		st.Peers = append(st.Peers, up)
	}
	heads, _ := t.inv.Heads()
	for _, h := range heads {
		st.CRDTHeads = append(st.CRDTHeads, h.String())
	}
	t.mu.Lock()
	for _, n := range t.startNotes {
		st.AddProblem(n)
	}
	t.mu.Unlock()
	for _, p := range t.db.Problems() {
		st.AddProblem(ui.Note{Key: ui.NoteDamagedRecord, Args: map[string]any{"till": p.Till.Short(), "seq": p.Seq, "reason": p.Reason},
			Text: p.String()})
	}
	hs := t.hw.Status()
	if n, ok := hardwareNote(hs); ok {
		st.AddProblem(n)
	}
	for _, n := range t.revocationProblems() {
		st.AddProblem(n)
	}
	t.newerStatus(&st)
	t.outboxStatus(&st)
	st.Printer = printerText(hs)
	return st
}

// hardwareNote is hw's banner (a device needing a person) as a status
// note, its words as hw.Status.Banner has them.
func hardwareNote(s hw.Status) (ui.Note, bool) {
	if s.Banner == "" {
		return ui.Note{}, false
	}
	q := s.Queue
	for _, d := range s.Devices {
		if d.Health != hw.HealthError {
			continue
		}
		if d.Kind == hw.KindPrinter && q != nil && q.Pending > 0 {
			return ui.Note{Key: ui.NotePrinterWaiting, Args: map[string]any{"name": d.Name, "problem": d.Problem, "n": q.Pending}, Text: s.Banner}, true
		}
		return ui.Note{Key: ui.NoteDevice, Args: map[string]any{"device": string(d.Kind), "name": d.Name, "problem": d.Problem}, Text: s.Banner}, true
	}
	if q != nil && q.Held {
		return ui.Note{Key: ui.NotePrinterHeld, Args: map[string]any{"reason": q.Reason, "n": q.Pending}, Text: s.Banner}, true
	}
	return ui.Note{Text: s.Banner}, true
}

// printerText says what the receipt printer is doing, for the receipt
// screen: the same words whether a receipt prints, a copy is asked for
// or a shift closes.
func printerText(s hw.Status) string {
	for _, d := range s.Devices {
		if d.Kind != hw.KindPrinter {
			continue
		}
		waiting := ""
		if s.Queue != nil && s.Queue.Pending > 0 {
			waiting = fmt.Sprintf(", %d receipt(s) waiting", s.Queue.Pending)
		}
		switch {
		case d.Health == hw.HealthError:
			return d.Problem + waiting
		case s.Queue != nil && s.Queue.Held:
			return s.Queue.Reason + waiting
		case !d.Connected:
			return "connecting" + waiting
		}
		return "ready"
	}
	return "none"
}

func (t *Till) hqStatus() ui.HQStatus {
	if t.relay == nil {
		return ui.HQStatus{Note: "no HQ configured (tillmesh till --hq URL)"}
	}
	rs := t.relay.Status()
	st := ui.HQStatus{Reachable: rs.Reachable, Unsent: rs.Unsent, Note: rs.LastError, LastContact: rs.LastContact}
	if !rs.Reachable {
		st.Offline = ui.OfflineSince(rs.LastContact, t.cfg.Now())
	}
	switch {
	case rs.IsRelay:
		st.Relay = "this till"
	case rs.RelayNumber > 0:
		st.Relay = fmt.Sprintf("till %d", rs.RelayNumber)
	}
	return st
}

// taxIncluded reads the store's tax_included setting (ui.Settings): true
// unless set to "false", and true when it cannot be read.
// roundRefund rounds what a refund paid back in cash gives back to the
// store's cash rounding step (ledger.RoundCash), once every till of the
// store reads roundings; other bodies come back as they are.
func (t *Till) roundRefund(ctx context.Context, body ledger.Body) ledger.Body {
	r, ok := body.(*ledger.Refund)
	if !ok || r.RoundStep != 0 || r.Rounding != 0 || len(r.Tenders) != 1 || r.Tenders[0].Kind != ledger.Cash {
		return body
	}
	step := t.cashStep(ctx)
	if step <= 1 || t.kindAllowed(ctx, ledger.FeatureCashRounding) != nil {
		return body
	}
	var total ledger.Money
	for _, l := range r.Lines {
		total += l.Amount
	}
	if r.Tenders[0].Amount != total || ledger.RoundCash(total, step) <= 0 {
		return body
	}
	c := *r
	c.RoundStep, c.Rounding = step, ledger.CashRounding(total, step)
	c.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: total + c.Rounding}}
	return &c
}

// cashStep is the store's cash rounding step (ui.SettingCashRounding),
// 0 when none is set.
func (t *Till) cashStep(ctx context.Context) ledger.Money {
	v, ok, err := t.Setting(ctx, ui.SettingCashRounding)
	if err != nil || !ok {
		return 0
	}
	return ui.ParseMoneySetting(v)
}

func (t *Till) taxIncluded(ctx context.Context) bool {
	v, ok, err := t.Setting(ctx, ui.SettingTaxIncluded)
	return err != nil || !ok || ui.TaxIncludedSetting(v)
}
