package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tillmesh/tillmesh/hw"
	"github.com/tillmesh/tillmesh/hw/receipt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// afterCommit hands a committed event to the hardware: the receipt to the
// print queue, a drawer kick for cash, the total to the customer display.
// Everything here returns at once; nothing can fail or delay the sale.
//
// An exchange (a Return then a Sale, keys <key>/return and <key>/sale)
// prints one receipt when its sale is recorded (printExchange); its
// return prints none of its own. idem is the event's idempotency key.
func (t *Till) afterCommit(ev *ledger.Event, idem string) {
	if t.hw == nil {
		return
	}
	switch b := ev.Body.(type) {
	case *ledger.Sale:
		if !t.printExchange(ev, idem) { // node/slips.go: an exchange prints with its return
			lang, _, loc := t.printLocale(context.Background())
			r, err := receipt.FromSale(ev, receipt.Info{Store: t.cfg.Store.Name, Number: t.cert.Number, Till: t.cert.Name, Receipt: t.receiptNumber(ev),
				CardLeft: t.cardLeft(b), Footer: t.fiscalFooter(context.Background(), ev.ID()), Lang: lang, Location: loc})
			if err != nil {
				t.log.Warn("receipt not built", "seq", ev.Seq, "err", err)
			} else if _, err := t.hw.Enqueue(r); err != nil && !errors.Is(err, hw.ErrNoDevice) {
				t.log.Warn("receipt not queued", "seq", ev.Seq, "err", err)
			}
		}
		for _, tn := range b.Tenders {
			if tn.Kind == ledger.Cash {
				t.hw.KickDrawer()
				break
			}
		}
		if tot, err := b.Totals(); err == nil {
			lang, _, _ := t.printLocale(context.Background())
			t.hw.Show(displayTotal(lang, b.Currency, tot.Total, b.Rounding))
		}
	case *ledger.ShiftClose:
		// The Z report prints from the fold that made the Z screen.
		var sh *ledger.Shift
		var z uint64 // the shift's number at this till: the Z report's
		t.db.View(func(s *ledger.State) {
			for i, x := range s.Fold().Shifts(ev.Till) {
				if x.CloseSeq == ev.Seq {
					c := *x
					sh, z = &c, uint64(i+1)
				}
			}
		})
		lang, _, loc := t.printLocale(context.Background())
		r, err := receipt.FromShiftClose(ev, sh, receipt.Info{Store: t.cfg.Store.Name, Number: t.cert.Number, Till: t.cert.Name, Receipt: z,
			Lang: lang, Location: loc})
		if err != nil {
			t.log.Warn("Z report not built", "seq", ev.Seq, "err", err)
		} else if _, err := t.hw.Enqueue(r); err != nil && !errors.Is(err, hw.ErrNoDevice) {
			t.log.Warn("Z report not queued", "seq", ev.Seq, "err", err)
		}
	case *ledger.NoSale, *ledger.CashIn, *ledger.CashOut:
		t.hw.KickDrawer()
		t.printSlip(ev) // node/slips.go
	case *ledger.Refund:
		for _, tn := range b.Tenders {
			if tn.Kind == ledger.Cash {
				t.hw.KickDrawer()
				break
			}
		}
		t.printSlip(ev)
	case *ledger.Return:
		for _, tn := range b.Tenders {
			if tn.Kind == ledger.Cash {
				t.hw.KickDrawer()
				break
			}
		}
		if !isExchange(b.Tenders) { // an exchange's return prints on its sale's receipt
			t.printSlip(ev)
		}
	case *ledger.Void:
		t.printSlip(ev)
	}
}

// receiptNumber is ev's receipt number (ledger.State.ReceiptNumber), 0
// if it takes none.
func (t *Till) receiptNumber(ev *ledger.Event) (n uint64) {
	t.db.View(func(s *ledger.State) { n, _ = s.ReceiptNumber(ev.Till, ev.Seq) })
	return n
}

// Hardware returns the till's device hub.
func (t *Till) Hardware() *hw.Hub { return t.hw }

// registerSim adds read-only routes that show what the simulated printer
// printed: GET /sim/receipts lists them as text, /sim/receipts/{n}.png
// renders one. protect puts them behind the UI's Host allowlist and
// security headers, like every other page of the till.
func registerSim(mux *http.ServeMux, set *sim.Set, protect func(http.Handler) http.Handler) {
	mux.Handle("GET /sim/receipts", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for i, rc := range set.Printer.Receipts() {
			fmt.Fprintf(w, "---- receipt %d (/sim/receipts/%d.png)\n%s\n", i, i, rc.Text())
		}
	})))
	mux.Handle("GET /sim/receipts/{file}", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		n, err := strconv.Atoi(name[:max(0, len(name)-len(".png"))])
		rs := set.Printer.Receipts()
		if err != nil || n < 0 || n >= len(rs) {
			http.Error(w, "no such receipt", http.StatusNotFound)
			return
		}
		png, err := rs[n].PNG()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(png)
	})))
}

// Reprint queues a copy (marked COPY) of a sale's receipt: from the print
// queue's history, or rebuilt from the ledger when it has gone from there.
//
// In a store that registers receipts with a fiscal service the copy is
// always rebuilt, so it carries the registration as it stands now (the
// fiscal number, sign and verification URL, or "pending").
func (t *Till) Reprint(ctx context.Context, id ledger.EventID) error {
	footer := t.fiscalFooter(ctx, id)
	if footer == nil {
		if _, err := t.hw.Reprint(id); err == nil {
			return nil
		} else if !errors.Is(err, hw.ErrNotQueued) {
			return fmt.Errorf("%w: %v", ui.ErrUnavailable, err)
		}
	}
	var till ledger.TillID
	var seq uint64
	var found bool
	t.db.View(func(s *ledger.State) { _, till, seq, found = s.Fold().Sale(id) })
	if !found {
		return fmt.Errorf("%w: no sale %s", ui.ErrNotFound, id)
	}
	ev, err := t.db.Get(till, seq)
	if err != nil {
		return err
	}
	var cardLeft map[string]ledger.Money
	if s, ok := ev.Body.(*ledger.Sale); ok {
		cardLeft = t.cardLeft(s) // the balance now, on a copy
	}
	lang, _, loc := t.printLocale(ctx)
	r, err := receipt.FromSale(ev, receipt.Info{Store: t.cfg.Store.Name, Number: t.number(till), Receipt: t.receiptNumber(ev), CardLeft: cardLeft,
		Footer: footer, Lang: lang, Location: loc, FiscalQR: t.fiscalURL(ctx, id)}) // fiscalURL: node/outbox.go
	if err != nil {
		return err
	}
	if _, err := t.hw.ReprintReceipt(r); err != nil {
		return fmt.Errorf("%w: %v", ui.ErrUnavailable, err)
	}
	return nil
}

// feedScans hands every serial scanner's scan to the UI, which puts it
// in the cart as it does a keyboard-wedge scan (ui.API.Scanned).
func (t *Till) feedScans(ctx context.Context) error {
	scans := t.hw.Scans()
	for {
		select {
		case <-ctx.Done():
			return nil
		case sc, ok := <-scans:
			if !ok {
				return nil
			}
			if err := t.api.Scanned(ctx, sc.Code.GTIN, sc.Device); err != nil {
				t.log.Info("serial scan not added to the cart", "code", sc.Code.GTIN, "device", sc.Device, "err", err)
			}
		}
	}
}

// weightWindow is how long feedWeight waits for a stable weight before
// it looks whether the scale reads zero.
const weightWindow = 300 * time.Millisecond

// feedWeight hands each change of the scale's stable weight to the UI
// (ui.API.Weighed), which sends it to the pages, so a weighed line fills
// live. An item taken off (the scale reads a stable zero or less) sends
// 0; a weight that moves sends nothing until it settles. A till without
// a scale returns at once; a disconnected scale is asked again each
// weightWindow.
func (t *Till) feedWeight(ctx context.Context) error {
	var last int64
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, weightWindow)
		r, err := t.hw.Weigh(wctx)
		cancel()
		if errors.Is(err, hw.ErrNoDevice) {
			return nil
		}
		g := last
		if err == nil && r.Usable() == nil {
			g, _ = r.Grams()
		} else if now, ok := t.hw.ScaleReading(); ok && now.Stable && now.Milli <= 0 {
			g = 0
		}
		if g != last {
			last = g
			t.api.Weighed(g)
		}
		if err != nil && !errors.Is(err, hw.ErrUnstable) { // offline: it failed at once
			tm := time.NewTimer(weightWindow)
			select {
			case <-ctx.Done():
				tm.Stop()
			case <-tm.C:
			}
		}
	}
	return nil
}

// Weigh reads the scale for the UI (ui.Scale): a stable, positive weight
// in grams, or an error saying what the scale reported.
func (t *Till) Weigh(ctx context.Context) (int64, error) {
	r, err := t.hw.Weigh(ctx)
	switch {
	case errors.Is(err, hw.ErrNoDevice):
		return 0, fmt.Errorf("%w: this till has no scale", ui.ErrUnavailable)
	case err != nil:
		return 0, fmt.Errorf("%w: %v: take the item off, wait for zero and weigh again", ui.ErrBadRequest, err)
	}
	if err := r.Usable(); err != nil {
		return 0, fmt.Errorf("%w: the scale reads %v: %v", ui.ErrBadRequest, r, err)
	}
	g, err := r.Grams()
	if err != nil || g <= 0 {
		return 0, fmt.Errorf("%w: the scale reads %v: no positive weight", ui.ErrBadRequest, r)
	}
	return g, nil
}

// displayTotal is what the customer display shows after a sale: the
// word and the amount in the store's language (its receipt words: "Jami",
// "20 500 soʻm"); with a cash rounding, the amount paid after it, as the
// receipt's due. The display transliterates what its code page lacks.
func displayTotal(lang i18n.Lang, cur string, total, rounding ledger.Money) (top, bottom string) {
	c, err := i18n.LookupCurrency(cur)
	if err != nil {
		c = i18n.Currency{Code: cur, Digits: 2}
	}
	return receipt.T(lang, "receipt.display.total"), i18n.FormatMoney(lang, c, total+rounding)
}
