package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/grant"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/ui"
)

// Voids are spent once too (docs/ARCHITECTURE.md, "Spent once"). A void
// gives back the whole sale, so it takes the owner's grant on the whole
// sale, as a refund takes one on its lines: the owner grants a void only
// while no refund of the sale is recorded or granted, and no refund
// while a void grant is held. A void at the owner takes the grant from
// its own book. So a sale is voided or refunded, never both, while its
// till can be reached. A void of another till's sale is refused while
// that till cannot be reached: voids are never made offline (a refund
// may be, within the store's offline limit).
//
// The void's body is unchanged (older releases read it): it does not
// name its grant. The owner sees a void grant used once the sale is
// voided (pruneHeld), or releases it like a refund grant.

// giveVoidGrant is giveGrant for a void: called with the book's mutex
// held, after the idempotency key was looked up.
func (t *Till) giveVoidGrant(from ledger.TillID, req grant.Request) grant.Response {
	b := &t.grants
	var owner ledger.TillID
	var lines []ledger.RefundLine
	var err error
	refunding := false
	t.db.View(func(st *ledger.State) {
		f := st.Fold()
		ev, lerr := f.LookupSale(req.Sale)
		if lerr != nil {
			err = lerr
			return
		}
		if owner = ev.Till; owner != t.id {
			return
		}
		held, voiding, perr := t.pruneHeld(f, req.Sale)
		switch {
		case perr != nil:
			err = perr
			return
		case voiding != nil:
			err = fmt.Errorf("%w: sale %s is being voided at till %s", ledger.ErrAlreadyVoided, req.Sale.String()[:8], t.tillName(voiding.Requester.String()))
			return
		case len(held) > 0:
			refunding = true
			return
		}
		if _, err = f.VoidOf(req.Sale); err != nil {
			return
		}
		lines, err = f.GrantLines(req.Sale, wholeSale(f, req.Sale), nil)
	})
	switch {
	case errors.Is(err, ledger.ErrUnknownSale):
		return grant.Response{Code: grant.CodeUnknownSale, Error: err.Error()}
	case err == nil && owner != t.id:
		return grant.Response{Code: grant.CodeNotOwner, Error: fmt.Sprintf("sale %s was made at till %s", req.Sale.String()[:8], t.tillName(owner.String()))}
	case refunding:
		return grant.Response{Code: grant.CodeRefunding, Error: fmt.Sprintf("a refund of sale %s is under way: refund the rest instead", req.Sale.String()[:8])}
	case errors.Is(err, ledger.ErrAlreadyVoided):
		return grant.Response{Code: grant.CodeVoided, Error: err.Error()}
	case errors.Is(err, ledger.ErrInvalidBody), errors.Is(err, ledger.ErrOverRefund):
		return grant.Response{Code: grant.CodeBadRequest, Error: err.Error()}
	case err != nil:
		return grant.Response{Code: grant.CodeUnavailable, Error: err.Error()}
	}
	g := ledgerdb.Grant{Ref: ledger.GrantRef{Owner: t.id, N: b.next}, Sale: req.Sale, Requester: from, Key: req.Key,
		Lines: lines, Made: t.cfg.Now().UnixMilli(), Void: true}
	if err := t.db.PutGrant(g); err != nil {
		return grant.Response{Code: grant.CodeUnavailable, Error: err.Error()}
	}
	b.next++
	b.held[req.Sale] = append(b.held[req.Sale], g)
	b.byKey[grantKey{from, req.Key}] = g
	t.log.Debug("void grant given", "grant", g.Ref.String(), "sale", req.Sale.String()[:8], "to", t.tillName(from.String()))
	return grant.Response{Ref: g.Ref, Lines: lines}
}

// wholeSale picks every line of a sale at its full quantity.
func wholeSale(f *ledger.Fold, sale ledger.EventID) []ledger.Pick {
	s, _, _, ok := f.Sale(sale)
	if !ok {
		return nil
	}
	ps := make([]ledger.Pick, len(s.Lines))
	for i, l := range s.Lines {
		ps[i] = ledger.Pick{Line: i, Qty: l.Qty}
	}
	return ps
}

// spendVoid gets the owner's grant for a void before it is recorded and
// returns when the void must be recorded by.
func (t *Till) spendVoid(ctx context.Context, v *ledger.Void, idem string) (time.Time, error) {
	var owner ledger.TillID
	var picks []ledger.Pick
	var known bool
	t.db.View(func(st *ledger.State) {
		f := st.Fold()
		_, owner, _, known = f.Sale(v.Sale)
		picks = wholeSale(f, v.Sale)
	})
	if !known {
		return time.Time{}, fmt.Errorf("%w: %s", ledger.ErrUnknownSale, v.Sale.String()[:8])
	}
	if idem == "" {
		return time.Time{}, fmt.Errorf("%w: a void needs an idempotency key", ui.ErrBadRequest)
	}
	req := grant.Request{Sale: v.Sale, Key: idem, Void: true}
	for _, p := range picks {
		req.Picks = append(req.Picks, grant.Pick{Line: p.Line, Qty: p.Qty})
	}
	if err := req.Check(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	asked := time.Now() // monotonic: the deadline is a duration on this till
	res, err := t.askGrant(ctx, owner, req, func(why string) error { return t.voidUnreachable(owner, why) })
	if err != nil {
		return time.Time{}, err
	}
	if res.Code == grant.CodeRefunding {
		return time.Time{}, fmt.Errorf("%w: %s", ui.ErrConflict, res.Error)
	}
	if err := grantError(res); err != nil {
		return time.Time{}, err
	}
	return asked.Add(grantUseWithin), nil
}

func (t *Till) voidUnreachable(owner ledger.TillID, why string) error {
	return fmt.Errorf("%w: till %s, which made the sale, cannot be reached (%s); a sale is voided only with its till reachable (a refund may be made offline if the store allows it)",
		ledger.ErrOwnerUnreachable, t.tillName(owner.String()), why)
}
