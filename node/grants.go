package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/grant"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/ui"
)

// Refunds are spent once (docs/ARCHITECTURE.md, "Spent once"). The till
// that made a sale owns what remains refundable of it. Every refund, at
// the owner or elsewhere, first takes a grant from the owner's grant
// book: the owner serializes grants, computes the lines from what
// remains less what its unused grants still reserve, stores the grant
// (fsynced) and only then answers. The refund event names the grant.
//
// When the owner cannot be reached the store's policy decides
// (SettingOfflineRefunds): refuse, or let a supervisor approve a refund
// without a grant, up to SettingOfflineLimit per till in any 24 hours,
// recorded as an offline spend (ledger.Refund.Offline).

// Store settings of the offline policy (CRDT settings, set on the
// settings screen or PUT /api/settings).
const (
	// SettingOfflineRefunds is "allow" to let a supervisor approve a
	// refund of another till's sale while that till cannot be reached;
	// anything else (the default) refuses it.
	SettingOfflineRefunds = ui.SettingOfflineRefunds
	// SettingOfflineLimit is the most, in minor units, one till may give
	// back offline in any 24 hours (default ui.DefaultLimit of the store's
	// currency; DefaultOfflineLimit in euros).
	SettingOfflineLimit = ui.SettingOfflineLimit
	DefaultOfflineLimit = ui.DefaultOfflineLimit
)

const (
	// grantTimeout bounds one grant round trip to the owner.
	grantTimeout = 2 * time.Second
	// grantUseWithin is how long after asking a till may still record
	// the refund a grant allows; after that it asks again.
	grantUseWithin = 30 * time.Second
	// grantLease is how long an owner keeps an unused grant reserved
	// before it may release it, and only once it has synced with the
	// asking till after that (releasable).
	grantLease = 2 * time.Minute
	// offlineWindow is the span the offline limit applies to.
	offlineWindow = 24 * time.Hour
)

// grantBook is the owner's side: the grants this till gave for its own
// sales. One mutex serializes every grant (a grant costs one fsync), so
// two askers can never both be granted the same units.
type grantBook struct {
	mu    sync.Mutex
	next  uint64
	held  map[ledger.EventID][]ledgerdb.Grant // given and not yet seen used
	cards map[string][]ledgerdb.Grant         // card grants likewise (balances.go)
	byKey map[grantKey]ledgerdb.Grant         // asker + idempotency key
	// offMu serializes offline spends at this till (the limit check and
	// the record written before the refund).
	offMu sync.Mutex
}

type grantKey struct {
	till ledger.TillID
	key  string
}

// openGrants loads the grant book and serves the grant protocol.
func (t *Till) openGrants() error {
	gs, err := t.db.Grants()
	if err != nil {
		return fmt.Errorf("load grants: %w", err)
	}
	b := &t.grants
	b.held, b.byKey, b.next = map[ledger.EventID][]ledgerdb.Grant{}, map[grantKey]ledgerdb.Grant{}, 1
	b.cards = map[string][]ledgerdb.Grant{}
	for _, g := range gs {
		if g.Ref.N >= b.next {
			b.next = g.Ref.N + 1
		}
		b.byKey[grantKey{g.Requester, g.Key}] = g
		if g.Card != "" {
			b.cards[g.Card] = append(b.cards[g.Card], g)
			continue
		}
		b.held[g.Sale] = append(b.held[g.Sale], g)
	}
	grant.Serve(t.host.Host(), t.admittedTill, t.giveGrant, grantTimeout)
	return nil
}

func (t *Till) admittedTill(p peer.ID) (ledger.TillID, bool) {
	c, ok := t.host.Admitted(p)
	if !ok || t.revoked(c.Till) {
		return ledger.TillID{}, false
	}
	return c.Till, true
}

// peerOf returns the peer of an admitted till.
func (t *Till) peerOf(till ledger.TillID) (peer.ID, bool) {
	for _, p := range t.host.Peers() {
		if c, ok := t.host.Admitted(p.ID); ok && c.Till == till && p.Connected {
			return p.ID, true
		}
	}
	return "", false
}

// giveGrant is the owner's answer to a grant request from till from
// (this till itself for its own refunds).
func (t *Till) giveGrant(ctx context.Context, from ledger.TillID, req grant.Request) grant.Response {
	b := &t.grants
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.byKey[grantKey{from, req.Key}]; ok {
		if g.Sale != req.Sale || g.Card != req.Card || g.Void != req.Void || (g.Card != "" && g.Amount != req.Amount) {
			return grant.Response{Code: grant.CodeBadRequest, Error: fmt.Sprintf("idempotency key %q was used for another grant", req.Key)}
		}
		return grant.Response{Ref: g.Ref, Lines: g.Lines, Amount: g.Amount}
	}
	if req.Card != "" {
		return t.giveCardGrant(ctx, from, req)
	}
	if req.Void {
		return t.giveVoidGrant(from, req) // voids.go
	}
	var lines []ledger.RefundLine
	var owner ledger.TillID
	var err error
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
		if perr != nil {
			err = perr
			return
		}
		if voiding != nil {
			err = fmt.Errorf("%w: sale %s is being voided at till %s", ledger.ErrAlreadyVoided, req.Sale.String()[:8], t.tillName(voiding.Requester.String()))
			return
		}
		lines, err = f.GrantLines(req.Sale, req.LedgerPicks(), held)
	})
	switch {
	case errors.Is(err, ledger.ErrUnknownSale):
		return grant.Response{Code: grant.CodeUnknownSale, Error: err.Error()}
	case err == nil && owner != t.id:
		return grant.Response{Code: grant.CodeNotOwner, Error: fmt.Sprintf("sale %s was made at till %s", req.Sale.String()[:8], t.tillName(owner.String()))}
	case errors.Is(err, ledger.ErrOverRefund):
		return grant.Response{Code: grant.CodeOverRefund, Error: err.Error()}
	case errors.Is(err, ledger.ErrAlreadyVoided):
		return grant.Response{Code: grant.CodeVoided, Error: err.Error()}
	case errors.Is(err, ledger.ErrInvalidBody):
		return grant.Response{Code: grant.CodeBadRequest, Error: err.Error()}
	case err != nil:
		return grant.Response{Code: grant.CodeUnavailable, Error: err.Error()}
	}
	g := ledgerdb.Grant{Ref: ledger.GrantRef{Owner: t.id, N: b.next}, Sale: req.Sale, Requester: from, Key: req.Key,
		Lines: lines, Made: t.cfg.Now().UnixMilli()}
	if err := t.db.PutGrant(g); err != nil {
		return grant.Response{Code: grant.CodeUnavailable, Error: err.Error()}
	}
	b.next++
	b.held[req.Sale] = append(b.held[req.Sale], g)
	b.byKey[grantKey{from, req.Key}] = g
	t.log.Debug("grant given", "grant", g.Ref.String(), "sale", req.Sale.String()[:8], "to", t.tillName(from.String()))
	return grant.Response{Ref: g.Ref, Lines: lines}
}

// pruneHeld drops the grants of a sale that a refund has used, or that
// the asker can no longer use (releasable), and returns the lines the
// others still reserve and the void grant still held, if any. A void
// does not name its grant (its body is the one older releases read): a
// void grant is used once the sale is voided. Called with the book's
// mutex and the ledger's view held.
func (t *Till) pruneHeld(f *ledger.Fold, sale ledger.EventID) ([][]ledger.RefundLine, *ledgerdb.Grant, error) {
	b := &t.grants
	gs := b.held[sale]
	if len(gs) == 0 {
		return nil, nil, nil
	}
	used, err := f.UsedGrants(sale)
	if err != nil {
		return nil, nil, err
	}
	voided := false
	for _, g := range gs {
		if g.Void {
			_, verr := f.VoidOf(sale)
			voided = errors.Is(verr, ledger.ErrAlreadyVoided)
			break
		}
	}
	keep := gs[:0]
	var out [][]ledger.RefundLine
	var voiding *ledgerdb.Grant
	for _, g := range gs {
		if used[g.Ref] || (g.Void && voided) || t.releasable(g) {
			continue
		}
		keep = append(keep, g)
		if g.Void {
			voiding = &keep[len(keep)-1]
			continue
		}
		out = append(out, g.Lines)
	}
	if len(keep) == 0 {
		delete(b.held, sale)
	} else {
		b.held[sale] = keep
	}
	return out, voiding, nil
}

// releasable reports whether an unused grant can no longer be used: the
// asker records within grantUseWithin of asking, so once the lease has
// passed and this till has synced the asker's whole ledger after that
// (nothing the asker held was missing here), no refund naming the grant
// can still arrive. A grant to this till itself is released at the end
// of the lease.
func (t *Till) releasable(g ledgerdb.Grant) bool {
	end := time.UnixMilli(g.Made).Add(grantLease)
	if t.cfg.Now().Before(end) {
		return false
	}
	if g.Requester == t.id {
		return true
	}
	p, ok := t.peerOf(g.Requester)
	if !ok {
		return false
	}
	ps, ok := t.sync.Peers()[p]
	return ok && ps.LastSync.After(end) && ps.Ahead == 0 && ps.LastErr == ""
}

// beforeRecord is Record's hook for spends: a refund not recorded yet
// takes a grant (spendRefund); a replay of a recorded one goes straight
// to the ledger, which returns the first event.
//
// A card movement is checked against the card and a redemption takes the
// card owner's grant (balances.go); a sale paid by card redeems its card
// tenders first. For a sale it returns after, which Record calls once it
// has let go of its lock: it gives the redemptions back if the sale was
// not recorded, and earns the customer's points if it was.
func (t *Till) beforeRecord(ctx context.Context, body ledger.Body, idem string) (useBy time.Time, after func(*ledger.Event, bool, error), err error) {
	switch b := body.(type) {
	case *ledger.Return:
		// A return paid out as store credit issues it (ledger.CardEntries):
		// only past the card kind's gate.
		for _, tn := range b.Tenders {
			if tn.Kind == ledger.StoreCreditTender {
				if err := t.kindAllowed(ctx, ledger.KindCard); err != nil {
					return time.Time{}, nil, fmt.Errorf("%w (a return paid out as store credit)", err)
				}
				if err := t.newCardOfChain(ctx, tn.Ref); err != nil {
					return time.Time{}, nil, err
				}
			}
		}
		return time.Time{}, nil, nil
	case *ledger.Refund, *ledger.CardMove, *ledger.Void:
	case *ledger.Sale:
		if !paidByCard(b) && b.Customer == "" {
			return time.Time{}, nil, nil
		}
	default:
		return time.Time{}, nil, nil
	}
	if idem != "" {
		if ev, err := t.db.ByIdempotencyKey(t.id, idem); err != nil || ev != nil {
			return time.Time{}, nil, err
		}
	}
	switch b := body.(type) {
	case *ledger.Refund:
		for _, tn := range b.Tenders {
			if tn.Kind == ledger.StoreCreditTender {
				if err := t.kindAllowed(ctx, ledger.KindCard); err != nil {
					return time.Time{}, nil, fmt.Errorf("%w (a refund paid out as store credit)", err)
				}
				if err := t.newCardOfChain(ctx, tn.Ref); err != nil {
					return time.Time{}, nil, err
				}
			}
		}
		if useBy, err = t.spendRefund(ctx, b, idem); err != nil {
			return time.Time{}, nil, err
		}
		return useBy, t.pointsBackFor(ctx, idem), nil // points.go
	case *ledger.CardMove:
		useBy, err = t.beforeCard(ctx, b, idem)
		return useBy, nil, err
	case *ledger.Void:
		if useBy, err = t.spendVoid(ctx, b, idem); err != nil { // voids.go
			return time.Time{}, nil, err
		}
		return useBy, t.pointsBackFor(ctx, idem), nil
	case *ledger.Sale:
		done, err := t.beforeSale(ctx, b, idem)
		if err != nil {
			return time.Time{}, nil, err
		}
		return time.Time{}, func(ev *ledger.Event, existing bool, err error) {
			ctx := context.WithoutCancel(ctx)
			switch {
			case err != nil:
				t.reverse(ctx, done, idem)
			case !existing:
				t.earnPoints(ctx, ev, idem)
			}
		}, nil
	}
	return time.Time{}, nil, nil
}

// spendRefund gets the owner's grant for a refund before it is recorded
// (or checks an offline spend against the store's policy and limit). It
// replaces the refund's lines with the ones the owner granted, which may
// differ in amount from this till's proration when the owner knows of
// refunds that have not arrived here, and sets a single tender to their
// total. It returns when the refund must be recorded by.
func (t *Till) spendRefund(ctx context.Context, rf *ledger.Refund, idem string) (time.Time, error) {
	if rf.Grant != nil {
		return time.Time{}, fmt.Errorf("%w: a refund's grant is asked for by the till, not sent in", ui.ErrBadRequest)
	}
	var owner ledger.TillID
	var known bool
	t.db.View(func(st *ledger.State) { _, owner, _, known = st.Fold().Sale(rf.Sale) })
	if !known {
		return time.Time{}, fmt.Errorf("%w: %s", ledger.ErrUnknownSale, rf.Sale.String()[:8])
	}
	if rf.Offline != nil {
		return time.Time{}, t.checkOffline(ctx, rf, owner, idem)
	}
	if idem == "" {
		return time.Time{}, fmt.Errorf("%w: a refund needs an idempotency key", ui.ErrBadRequest)
	}
	req := grant.Request{Sale: rf.Sale, Key: idem}
	for _, l := range rf.Lines {
		req.Picks = append(req.Picks, grant.Pick{Line: l.Line, Qty: l.Qty})
	}
	if err := req.Check(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	asked := time.Now() // monotonic: the deadline is a duration on this till
	res, err := t.askGrant(ctx, owner, req, func(why string) error { return t.unreachable(ctx, owner, why) })
	if err != nil {
		return time.Time{}, err
	}
	if err := grantError(res); err != nil {
		return time.Time{}, err
	}
	if len(res.Lines) != len(rf.Lines) {
		return time.Time{}, fmt.Errorf("%w: the owner granted %d lines for %d asked", ui.ErrUnavailable, len(res.Lines), len(rf.Lines))
	}
	ref := res.Ref
	rf.Grant, rf.Lines = &ref, res.Lines
	var total ledger.Money
	for _, l := range rf.Lines {
		total += l.Amount
	}
	switch {
	case total == 0:
		rf.Tenders = nil
	case len(rf.Tenders) == 1:
		rf.Tenders[0].Amount = total
	}
	return asked.Add(grantUseWithin), nil
}

// askGrant asks the sale's owner for req: its own grant book when this
// till made the sale, else over the mesh within grantTimeout. An owner
// that cannot be reached is unreachable's error, with the reason.
func (t *Till) askGrant(ctx context.Context, owner ledger.TillID, req grant.Request, unreachable func(why string) error) (grant.Response, error) {
	if owner == t.id {
		return t.giveGrant(ctx, t.id, req), nil
	}
	p, ok := t.peerOf(owner)
	if !ok {
		return grant.Response{}, unreachable("not connected")
	}
	actx, cancel := context.WithTimeout(ctx, grantTimeout)
	defer cancel()
	res, err := grant.Ask(actx, t.host.Host(), p, req)
	if err != nil {
		return grant.Response{}, unreachable(err.Error())
	}
	return res, nil
}

// grantError maps a refused grant onto the errors the UI answers with.
func grantError(res grant.Response) error {
	switch res.Code {
	case "":
		if res.Ref.N == 0 {
			return fmt.Errorf("%w: the owner's answer names no grant", ui.ErrUnavailable)
		}
		return nil
	case grant.CodeOverRefund:
		return fmt.Errorf("%w: %s", ledger.ErrOverRefund, res.Error)
	case grant.CodeUnknownSale:
		return fmt.Errorf("%w: the sale's till does not know it: %s", ui.ErrConflict, res.Error)
	case grant.CodeVoided:
		return fmt.Errorf("%w: %s", ledger.ErrAlreadyVoided, res.Error)
	case grant.CodeBadRequest, grant.CodeNotOwner:
		return fmt.Errorf("%w: %s", ui.ErrBadRequest, res.Error)
	}
	return fmt.Errorf("%w: the sale's till could not grant the refund: %s", ui.ErrUnavailable, res.Error)
}

// ErrOwnerUnreachable wraps ledger.ErrOwnerUnreachable for the UI: the
// refund may still be made offline if the store allows it.
func (t *Till) unreachable(ctx context.Context, owner ledger.TillID, why string) error {
	policy := "the store refuses refunds of another till's sale while it is away"
	if t.offlineAllowed(ctx) {
		policy = "a supervisor may approve it as an offline refund"
	}
	return fmt.Errorf("%w: till %s, which made the sale, cannot be reached (%s); %s", ledger.ErrOwnerUnreachable,
		t.tillName(owner.String()), why, policy)
}

func (t *Till) offlineAllowed(ctx context.Context) bool {
	v, ok, err := t.Setting(ctx, SettingOfflineRefunds)
	return err == nil && ok && v == "allow"
}

func (t *Till) offlineLimit(ctx context.Context) ledger.Money {
	if v, ok, err := t.Setting(ctx, SettingOfflineLimit); err == nil && ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n <= ledger.MaxPrice {
			return ledger.Money(n)
		}
	}
	cur := ui.DefaultSettings.Currency
	if v, ok, err := t.Setting(ctx, ui.SettingCurrency); err == nil && ok && len(v) == 3 {
		cur = v
	}
	return ui.DefaultLimit(cur) // the store's currency's: 5,000 cents, 500,000 so'm
}

// checkOffline lets an offline spend through if the store allows them
// and this till's offline spends of the last 24 hours stay within the
// limit; it writes the spend's record first, so a crash between the
// record and the refund can only undercount what is left of the limit.
// Called before Record; the refund's own CheckLocal still applies.
func (t *Till) checkOffline(ctx context.Context, rf *ledger.Refund, owner ledger.TillID, idem string) error {
	switch {
	case !t.offlineAllowed(ctx):
		return fmt.Errorf("%w: the store's policy refuses offline refunds", ui.ErrConflict)
	case owner == t.id:
		return fmt.Errorf("%w: this till made the sale: no offline approval needed", ui.ErrBadRequest)
	case rf.Offline.Owner != owner:
		return fmt.Errorf("%w: the offline approval names till %s, the sale was made at till %s", ui.ErrBadRequest,
			t.tillName(rf.Offline.Owner.String()), t.tillName(owner.String()))
	case idem == "":
		return fmt.Errorf("%w: an offline refund needs an idempotency key", ui.ErrBadRequest)
	}
	var amount ledger.Money
	for _, l := range rf.Lines {
		amount += l.Amount
	}
	b := &t.grants
	b.offMu.Lock()
	defer b.offMu.Unlock()
	now := t.cfg.Now()
	recs, err := t.db.Offline(now.Add(-offlineWindow).UnixMilli())
	if err != nil {
		return fmt.Errorf("%w: read offline spends: %v", ui.ErrUnavailable, err)
	}
	var spent ledger.Money
	for _, r := range recs {
		if r.Key == idem {
			return nil // a retry: counted once
		}
		spent += r.Amount
	}
	if limit := t.offlineLimit(ctx); spent+amount > limit {
		return fmt.Errorf("%w: an offline refund of %v would take this till's offline refunds of the last 24 hours to %v, above the store's limit of %v",
			ui.ErrConflict, amount, spent+amount, limit)
	}
	if err := t.db.PutOffline(ledgerdb.OfflineRecord{Key: idem, Amount: amount, At: now.UnixMilli()}); err != nil {
		return fmt.Errorf("%w: record offline spend: %v", ui.ErrUnavailable, err)
	}
	return nil
}
