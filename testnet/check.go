package testnet

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
)

// view is what the checks read of one running till: its vector and CRDT
// stock always, its whole ledger when it can be read (inproc, or from
// disk once a till process has stopped).
type view struct {
	s        *slot
	inc      *incarnation
	vector   ledger.Vector
	stock    map[string]int64
	chains   map[ledger.TillID][]*ledger.Event // nil: not read
	problems []string
}

// shallow reads every running till of a store: vector and stock.
func (h *harness) shallow(ctx context.Context, st *store) ([]*view, error) {
	views, err := h.vectors(ctx, st)
	if err != nil {
		return nil, err
	}
	return views, h.stocks(ctx, views)
}

// vectors reads every running till's version vector.
func (h *harness) vectors(ctx context.Context, st *store) ([]*view, error) {
	var views []*view
	for _, s := range st.slots {
		th, inc, _ := s.current()
		if th != nil {
			views = append(views, &view{s: s, inc: inc})
		}
	}
	return views, eachView(views, func(v *view, th tillHandle) (err error) {
		if v.vector, err = th.vector(ctx); err != nil {
			return fmt.Errorf("%s: vector: %w", v.s.name, err)
		}
		return nil
	})
}

// stocks reads the views' CRDT stock. Over HTTP it is the costly read
// (~17 ms for 300 products), so convergence polls it last.
func (h *harness) stocks(ctx context.Context, views []*view) error {
	return eachView(views, func(v *view, th tillHandle) (err error) {
		if v.stock, err = th.stock(ctx); err != nil {
			return fmt.Errorf("%s: stock: %w", v.s.name, err)
		}
		return nil
	})
}

func eachView(views []*view, f func(*view, tillHandle) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(views))
	for i, v := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th, _, _ := v.s.current()
			if th == nil {
				errs[i] = fmt.Errorf("%s: %w", v.s.name, errDown)
				return
			}
			errs[i] = f(v, th)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readChains reads every chained event of a ledger.
func readChains(db *ledgerdb.DB) (map[ledger.TillID][]*ledger.Event, error) {
	out := map[ledger.TillID][]*ledger.Event{}
	for till, head := range db.Vector() {
		evs := make([]*ledger.Event, 0, head)
		if err := db.Range(till, 1, func(ev *ledger.Event) bool { evs = append(evs, ev); return true }); err != nil {
			return nil, err
		}
		out[till] = evs
	}
	return out, nil
}

// deep reads the whole ledger of a view: from the running node inproc,
// from disk for a stopped till process. It reports false when neither is
// possible (a till process still running).
func (h *harness) deep(v *view) (bool, error) {
	th, _, _ := v.s.current()
	var db *ledgerdb.DB
	if th != nil {
		n := th.node()
		if n == nil {
			return false, nil
		}
		db = n.DB()
	} else {
		cfg := ledgerdb.DefaultConfig(filepath.Join(v.inc.dir, "ledger"), v.s.st.file.ID)
		cfg.Ballast, cfg.Logger = 0, h.log
		var err error
		if db, err = ledgerdb.Open(cfg); err != nil {
			return false, err
		}
		defer db.Close()
		v.vector = db.Vector()
	}
	var err error
	if v.chains, err = readChains(db); err != nil {
		return false, err
	}
	for _, p := range db.Problems() {
		v.problems = append(v.problems, fmt.Sprintf("%s: ledger problem: %s", v.s.name, p))
	}
	ev, err := db.Evidence()
	if err != nil {
		return false, err
	}
	for _, e := range ev {
		v.problems = append(v.problems, fmt.Sprintf("%s: equivocation evidence: till %s seq %d", v.s.name, e.Till.Short(), e.Seq))
	}
	return true, nil
}

// converged says whether a store's running tills agree: equal vectors,
// CRDT stock equal to the fold (or, over HTTP, equal everywhere and to
// what the acknowledged events add up to), and HQ holding the same
// events with the same stock unless the store is cut off from it.
func (h *harness) converged(ctx context.Context, st *store) (bool, string) {
	views, err := h.vectors(ctx, st)
	if err != nil {
		return false, err.Error()
	}
	if len(views) == 0 {
		return true, ""
	}
	v0 := views[0]
	for _, v := range views[1:] {
		if !v.vector.Equal(v0.vector) {
			return false, fmt.Sprintf("%s holds %d events, %s %d (%s)", v0.s.name, v0.vector.Total(), v.s.name, v.vector.Total(), vectorDiff(v0.vector, v.vector, st))
		}
	}
	hqUp := h.hq != nil && !h.gate.storeDown(st.file.ID)
	if hqUp {
		if hv := h.hq.Vector(st.file.ID); !hv.Equal(v0.vector) {
			return false, fmt.Sprintf("HQ holds %d events, the tills %d", hv.Total(), v0.vector.Total())
		}
	}
	// Stock is costly to read over HTTP; the CRDT's heads are cheap and
	// differ while a merge is under way.
	heads := make([][]string, len(views))
	if err := eachView(views, func(v *view, th tillHandle) (err error) {
		for i := range views {
			if views[i] == v {
				heads[i], err = th.crdtHeads(ctx)
			}
		}
		return err
	}); err != nil {
		return false, err.Error()
	}
	for i := range views[1:] {
		if !slices.Equal(heads[0], heads[i+1]) {
			return false, fmt.Sprintf("%s and %s hold different CRDT heads: stock not merged yet", v0.s.name, views[i+1].s.name)
		}
	}
	if err := h.stocks(ctx, views); err != nil {
		return false, err.Error()
	}
	var want map[string]int64
	if n := views[0].s; n != nil {
		if th, _, _ := n.current(); th != nil && th.node() != nil {
			want = map[string]int64{}
			var heads map[ledger.TillID]ledger.EventID
			th.node().View(func(s *ledger.State) {
				heads = headsOf(s)
				for _, sku := range s.Fold().SKUs() {
					want[sku] = s.Fold().StockTotal(sku)
				}
			})
			for _, v := range views[1:] {
				th, _, _ := v.s.current()
				if th == nil || th.node() == nil {
					continue
				}
				var other map[ledger.TillID]ledger.EventID
				th.node().View(func(s *ledger.State) { other = headsOf(s) })
				for t, id := range heads {
					if other[t] != id {
						return false, fmt.Sprintf("%s and %s have different heads for till %d", v0.s.name, v.s.name, st.number(t))
					}
				}
			}
		}
	}
	if want == nil {
		want = h.expectedStock(st, v0.vector)
	}
	if hqUp {
		hs, err := h.hqStock(ctx, st)
		if err != nil {
			return false, err.Error()
		}
		if want == nil {
			want = hs
		} else if d := stockDiff(want, hs); d != "" {
			return false, "HQ stock: " + d
		}
	}
	for _, v := range views {
		if want != nil {
			if d := stockDiff(want, v.stock); d != "" {
				return false, v.s.name + " stock: " + d + h.slotHint(ctx, st, v, want)
			}
		} else if d := stockDiff(v0.stock, v.stock); d != "" {
			return false, v.s.name + " stock differs from " + v0.s.name + ": " + d
		}
	}
	return true, ""
}

func headsOf(s *ledger.State) map[ledger.TillID]ledger.EventID {
	out := map[ledger.TillID]ledger.EventID{}
	for _, t := range s.Tills() {
		_, id, _ := s.Head(t)
		out[t] = id
	}
	return out
}

func vectorDiff(a, b ledger.Vector, st *store) string {
	var parts []string
	seen := map[ledger.TillID]bool{}
	for t := range a {
		seen[t] = true
	}
	for t := range b {
		seen[t] = true
	}
	for t := range seen {
		if a[t] != b[t] {
			parts = append(parts, fmt.Sprintf("till %d: %d vs %d", st.number(t), a[t], b[t]))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// expectedStock is what the acknowledged events within v add up to, or
// nil when v holds events the harness never saw acknowledged (a request
// still in doubt): then it cannot say.
func (h *harness) expectedStock(st *store, v ledger.Vector) map[string]int64 {
	out := map[string]int64{}
	var n uint64
	for _, a := range h.acks.all() {
		if a.store != st || a.info.Seq > v[a.inc.id] {
			continue
		}
		n++
		for sku, q := range a.info.Moves {
			out[sku] += q
		}
	}
	if n != v.Total() {
		return nil
	}
	return out
}

func (h *harness) hqStock(ctx context.Context, st *store) (map[string]int64, error) {
	id := st.file.ID
	levels, err := h.hq.Stock(ctx, &id)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range levels {
		out[l.SKU] = l.Qty
	}
	return out, nil
}

// stockDiff describes how got differs from want ("" if equal); absent
// SKUs count as zero.
func stockDiff(want, got map[string]int64) string {
	var diffs []string
	for sku, q := range want {
		if got[sku] != q {
			diffs = append(diffs, fmt.Sprintf("%s %d, want %d", sku, got[sku], q))
		}
	}
	for sku, q := range got {
		if _, ok := want[sku]; !ok && q != 0 {
			diffs = append(diffs, fmt.Sprintf("%s %d, want 0", sku, q))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}

func countStockDiff(want, got map[string]int64) int {
	n := 0
	for sku, q := range want {
		if got[sku] != q {
			n++
		}
	}
	for sku, q := range got {
		if _, ok := want[sku]; !ok && q != 0 {
			n++
		}
	}
	return n
}

// checkResult is what one check found, summed over the stores.
type checkResult struct {
	events     uint64
	hqEvents   uint64
	lost       int
	duplicated int
	mismatches int
	identical  bool
	verified   int
	anomalies  int
	receiptsOK bool
	converged  bool
	deep       bool // whole ledgers were compared
	violations []string
	notes      []string
}

func (r *checkResult) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

// check runs every invariant over the stores. With whole ledgers (inproc,
// or final in the process modes, after the tills stopped) it compares
// them event by event and verifies every signature; otherwise it checks
// what the tills' APIs show. Cross-till invariants are checked only for
// a store whose tills have converged.
func (h *harness) check(ctx context.Context, final bool) *checkResult {
	r := &checkResult{identical: true, receiptsOK: true, converged: true, deep: true}
	for _, st := range h.stores {
		h.checkStore(ctx, st, final, r)
	}
	if r.converged {
		h.checkTransfers(r) // transfers.go
	}
	if final {
		h.acks.mu.Lock()
		r.duplicated += len(h.acks.dups)
		r.violations = append(r.violations, h.acks.dups...)
		h.acks.mu.Unlock()
	}
	return r
}

// checkConvergeWait is how long a check waits for a store that is not
// converged when the check starts (checkStore; harness.checkWait).
const checkConvergeWait = 20 * time.Second

func (h *harness) checkStore(ctx context.Context, st *store, final bool, r *checkResult) {
	conv, why := h.converged(ctx, st)
	if !conv && h.checkWait > 0 && st.sides() == nil {
		// A store that converged a moment ago (a `wait converged` just
		// before) may hold a write made since that has not reached every
		// till yet, as any write would; the checks below need a
		// converged store, so give it a while. One that stays apart is
		// reported as before. A partitioned store cannot converge: no
		// wait.
		_ = poll(ctx, h.checkWait, 50*time.Millisecond, func() (bool, error) {
			conv, why = h.converged(ctx, st)
			return conv, nil
		})
	}
	if !conv {
		r.converged = false
		r.identical = false
		r.notes = append(r.notes, fmt.Sprintf("store %s not converged (%s): cross-till checks skipped", st.name, why))
	}
	views, err := h.shallow(ctx, st)
	if err != nil {
		r.violate("store %s: %v", st.name, err)
		return
	}
	// CRDT stock is read while the tills run; whole ledgers after, for
	// till processes, which must stop first.
	if final && h.cfg.Mode != InProc {
		for _, v := range views {
			if th := v.s.setDown(); th != nil {
				if rss := th.peakRSS(); rss > v.inc.peakKB.Load() {
					v.inc.peakKB.Store(rss)
				}
				if err := th.stop(false); err != nil {
					r.notes = append(r.notes, err.Error())
				}
			}
		}
		if err := h.powerDown(st); err != nil {
			r.violate("store %s: %v", st.name, err)
		}
	}
	var deep []*view
	for _, v := range views {
		ok, err := h.deep(v)
		if err != nil {
			r.violate("%s: read ledger: %v", v.s.name, err)
			continue
		}
		if ok {
			deep = append(deep, v)
			r.violations = append(r.violations, v.problems...)
		}
	}
	if len(deep) == 0 {
		r.deep = false
		r.notes = append(r.notes, fmt.Sprintf("store %s: till ledgers are not readable while their processes run; checked vectors, stock and HQ", st.name))
		h.checkShallow(ctx, st, views, conv, r)
		return
	}
	// Each till's own ledger: signatures, chains, no duplicates, no
	// over-refund, every event it acknowledged.
	for _, v := range deep {
		h.checkLedger(st, v.s.name, v.chains, v.inc, r, v == deep[0])
	}
	ref := deep[0]
	state := stateOf(st, ref.chains)
	r.events += state.Vector().Total()
	refVector := state.Vector()
	// Tills that hold the same events as the reference must hold the
	// same ledger and, in their CRDT, the stock its fold gives, whether
	// or not the whole store has converged.
	want := foldStock(state)
	// At the end every till has settled: unless the store is still
	// partitioned its counters must equal the fold of its own ledger,
	// even if the store did not converge.
	for _, v := range views {
		w := want
		switch {
		case v.vector.Equal(refVector):
			if v.chains != nil && v != ref {
				if d := chainsDiff(ref.chains, v.chains); d != "" {
					r.identical = false
					r.violate("store %s: %s and %s hold different ledgers: %s", st.name, ref.s.name, v.s.name, d)
				}
			}
		case final && v.chains != nil && st.sides() == nil:
			// (Across a partition a till's ledger may hold events whose
			// counter updates it cannot fetch: not a fault.)
			w = foldStock(stateOf(st, v.chains))
		default:
			continue
		}
		if n := countStockDiff(w, v.stock); n > 0 {
			r.mismatches += n
			r.violate("%s: CRDT stock differs from the fold of its ledger: %s%s", v.s.name, stockDiff(w, v.stock), h.slotDetail(ctx, st, v, w, state))
		}
	}
	if !conv {
		return
	}
	// Every acknowledged event of the store, on every till.
	for _, a := range h.acks.all() {
		if a.store != st {
			continue
		}
		for _, v := range views {
			chains := v.chains
			if chains == nil {
				chains = ref.chains // identical (checked above)
			}
			if why := missing(a, chains); why != "" {
				r.lost++
				r.violate("%s: acknowledged %s %s (key %s) %s", v.s.name, a.kind, a.info.Receipt, a.key, why)
				break
			}
		}
	}
	h.checkHQ(ctx, st, ref.chains, want, r)
}

// checkShallow checks a store whose ledgers cannot be read: every
// acknowledged event inside every till's vector, stock equal everywhere
// and to the acknowledged movements, and HQ's copy deeply.
func (h *harness) checkShallow(ctx context.Context, st *store, views []*view, conv bool, r *checkResult) {
	for _, v := range views {
		for _, a := range h.acks.all() {
			if a.store == st && a.inc == v.inc && v.vector[a.inc.id] < a.info.Seq {
				r.lost++
				r.violate("%s: its own acknowledged %s %s is not in its ledger (vector %d)", v.s.name, a.kind, a.info.Receipt, v.vector[a.inc.id])
			}
		}
	}
	if !conv {
		return
	}
	v0 := views[0]
	for _, a := range h.acks.all() {
		if a.store == st && v0.vector[a.inc.id] < a.info.Seq {
			r.lost++
			r.violate("store %s: acknowledged %s %s is on no running till", st.name, a.kind, a.info.Receipt)
		}
	}
	if want := h.expectedStock(st, v0.vector); want != nil {
		for _, v := range views {
			if n := countStockDiff(want, v.stock); n > 0 {
				r.mismatches += n
				r.violate("%s: stock differs from the acknowledged movements: %s", v.s.name, stockDiff(want, v.stock))
			}
		}
	}
	r.events += v0.vector.Total()
	if h.hq != nil && !h.gate.storeDown(st.file.ID) {
		chains, err := h.hqChains(ctx, st)
		if err != nil {
			r.violate("store %s: read HQ: %v", st.name, err)
			return
		}
		h.checkLedger(st, "HQ", chains, nil, r, true)
		state := stateOf(st, chains)
		want := map[string]int64{}
		for _, sku := range state.Fold().SKUs() {
			want[sku] = state.Fold().StockTotal(sku)
		}
		for _, v := range views {
			if n := countStockDiff(want, v.stock); n > 0 {
				r.mismatches += n
				r.violate("%s: CRDT stock differs from the fold of HQ's ledger: %s", v.s.name, stockDiff(want, v.stock))
			}
		}
		h.checkHQ(ctx, st, chains, want, r)
	}
}

// slotHint is slotDetail for a till still running, with the ledger's
// side from the acknowledged events (all of them are acknowledged when
// the caller computed want from them).
func (h *harness) slotHint(ctx context.Context, st *store, v *view, want map[string]int64) string {
	th, _, _ := v.s.current()
	sku := firstDiff(want, v.stock)
	if th == nil || sku == "" {
		return ""
	}
	l, err := th.stockLevel(ctx, sku)
	if err != nil {
		return ""
	}
	acked := map[string]int64{}
	for _, a := range h.acks.all() {
		if a.store == st && a.info.Seq <= v.vector[a.inc.id] && a.info.Moves[sku] != 0 {
			acked[strconv.FormatUint(uint64(a.inc.number), 10)] += a.info.Moves[sku]
		}
	}
	return fmt.Sprintf(" (%s by till: counters %v, acknowledged movements %v)", sku, l.Slots, acked)
}

func firstDiff(want, got map[string]int64) string {
	var sku string
	for k, q := range want {
		if got[k] != q && (sku == "" || k < sku) {
			sku = k
		}
	}
	return sku
}

// slotDetail shows, for the first SKU a till has wrong, each till's
// counter slot as the till sees it next to what the ledger says each
// till moved: which till's slot is behind, and by how much.
func (h *harness) slotDetail(ctx context.Context, st *store, v *view, want map[string]int64, state *ledger.State) string {
	th, _, _ := v.s.current()
	if th == nil {
		return ""
	}
	sku := firstDiff(want, v.stock)
	if sku == "" {
		return ""
	}
	l, err := th.stockLevel(ctx, sku)
	if err != nil {
		return ""
	}
	fold := map[string]int64{}
	for till, q := range state.Fold().Stock(sku) {
		fold[strconv.FormatUint(uint64(st.number(till)), 10)] = q
	}
	return fmt.Sprintf(" (%s by till: counters %v, ledger %v)", sku, l.Slots, fold)
}

func foldStock(s *ledger.State) map[string]int64 {
	out := map[string]int64{}
	for _, sku := range s.Fold().SKUs() {
		out[sku] = s.Fold().StockTotal(sku)
	}
	return out
}

// missing says why an acknowledged event is not as acknowledged in a
// ledger ("" if it is).
func missing(a *ack, chains map[ledger.TillID][]*ledger.Event) string {
	chain := chains[a.inc.id]
	if a.info.Seq == 0 || a.info.Seq > uint64(len(chain)) {
		return "is missing"
	}
	ev := chain[a.info.Seq-1]
	switch {
	case ev.Key != a.key:
		return fmt.Sprintf("is another event (key %q)", ev.Key)
	case !a.info.ID.IsZero() && ev.ID() != a.info.ID:
		return fmt.Sprintf("has another ID (%s, acknowledged %s)", ev.ID().String()[:8], a.info.ID.String()[:8])
	case ev.Kind() != a.kind:
		return fmt.Sprintf("is a %s", ev.Kind())
	}
	return ""
}

// checkLedger checks one copy of a store's ledger on its own: every
// signature, the chains, no EventID or idempotency key twice, no
// over-refund, receipt numbers, and (for a till) every event it
// acknowledged itself.
func (h *harness) checkLedger(st *store, where string, chains map[ledger.TillID][]*ledger.Event, own *incarnation, r *checkResult, full bool) {
	ids := map[ledger.EventID]string{}
	receipts := map[string]bool{}
	// numbers is the reference numbering, counted here along each chain:
	// the receipt number of each event by till and seq, "" for events
	// that take none.
	numbers := map[ledger.TillID][]string{}
	for till, chain := range chains {
		if _, err := ledger.VerifyRun(ledger.EventID{}, chain); err != nil {
			r.violate("%s: chain of till %d does not verify: %v", where, st.number(till), err)
		}
		num := st.number(till)
		if num == 0 {
			r.receiptsOK = false
			r.violate("%s: events of till %s, which the store never enrolled", where, till.Short())
		}
		keys := map[string]uint64{}
		var counted uint64
		for i, ev := range chain {
			// VerifyRun authenticated the chain by its newest signature;
			// the reference copy also has every event's own checked.
			if full {
				if err := ev.Verify(); err != nil {
					r.violate("%s: event %d-%d: %v", where, num, ev.Seq, err)
				} else {
					r.verified++
				}
			}
			if ev.Seq != uint64(i+1) || ev.Till != till || ev.Store != st.file.ID {
				r.violate("%s: event at %d-%d is %s seq %d", where, num, i+1, ev.Till.Short(), ev.Seq)
			}
			if prev, dup := ids[ev.ID()]; dup {
				r.duplicated++
				r.violate("%s: event %s twice: at %s and %d-%d", where, ev.ID().String()[:8], prev, num, ev.Seq)
			}
			ids[ev.ID()] = fmt.Sprintf("%d-%d", num, ev.Seq)
			if ev.Key != "" {
				if seq, dup := keys[ev.Key]; dup {
					r.duplicated++
					r.violate("%s: idempotency key %q made two events of till %d: seq %d and %d", where, ev.Key, num, seq, ev.Seq)
				}
				keys[ev.Key] = ev.Seq
			}
			rc := ""
			if ledger.IsReceiptKind(ev.Kind()) {
				counted++
				rc = ledger.ReceiptNo(num, counted)
				if receipts[rc] {
					r.receiptsOK = false
					r.violate("%s: receipt number %s twice", where, rc)
				}
				receipts[rc] = true
			}
			numbers[till] = append(numbers[till], rc)
		}
	}
	state := stateOf(st, chains)
	if err := state.Check(); err != nil {
		r.violate("%s: ledger state: %v", where, err)
	}
	// The ledger's numbering is the reference's: 1..N without gaps.
	for till, chain := range chains {
		for i, ev := range chain {
			got := ""
			if n, ok := state.ReceiptNumber(till, ev.Seq); ok {
				got = ledger.ReceiptNo(st.number(till), n)
			}
			if want := numbers[till][i]; got != want {
				r.receiptsOK = false
				r.violate("%s: event %d of till %d has receipt number %q, want %q", where, ev.Seq, st.number(till), got, want)
			}
		}
	}
	for _, a := range state.Fold().Anomalies() {
		if h.overspentOffline(a.Sale) {
			continue // an offline refund the store allowed: the overspent step bounds it (doublespend.go)
		}
		r.anomalies++
		r.violate("%s: sale %s: %s", where, a.Sale.String()[:8], a.Reason)
	}
	if own == nil {
		return
	}
	for _, a := range h.acks.all() {
		if a.inc != own {
			continue
		}
		if why := missing(a, chains); why != "" {
			r.lost++
			r.violate("%s: its own acknowledged %s %s %s", where, a.kind, a.info.Receipt, why)
		}
		want := ""
		if ns := numbers[own.id]; a.info.Seq >= 1 && a.info.Seq <= uint64(len(ns)) {
			want = ns[a.info.Seq-1]
		}
		legacy := a.info.LegacyReceipt && a.info.Receipt == fmt.Sprintf("%d-%d", own.number, a.info.Seq)
		if a.info.Receipt != want && !legacy {
			r.receiptsOK = false
			r.violate("%s: acknowledged receipt %q for the event at seq %d, whose number is %q", where, a.info.Receipt, a.info.Seq, want)
		}
	}
}

// stateOf folds chains into a fresh state.
func stateOf(st *store, chains map[ledger.TillID][]*ledger.Event) *ledger.State {
	s := ledger.NewState(st.file.ID)
	for _, chain := range chains {
		for _, ev := range chain {
			s.Apply(ev)
		}
	}
	return s
}

// chainsDiff describes the first difference between two ledgers.
func chainsDiff(a, b map[ledger.TillID][]*ledger.Event) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d chains vs %d", len(a), len(b))
	}
	for till, ca := range a {
		cb := b[till]
		if len(ca) != len(cb) {
			return fmt.Sprintf("till %s: %d events vs %d", till.Short(), len(ca), len(cb))
		}
		for i := range ca {
			if ca[i].ID() != cb[i].ID() {
				return fmt.Sprintf("till %s seq %d: %s vs %s", till.Short(), i+1, ca[i].ID().String()[:8], cb[i].ID().String()[:8])
			}
		}
	}
	return ""
}

// hqChains reads HQ's copy of a store's ledger from its storage.
func (h *harness) hqChains(ctx context.Context, st *store) (map[ledger.TillID][]*ledger.Event, error) {
	out := map[ledger.TillID][]*ledger.Event{}
	err := h.hqDB.Range(ctx, st.file.ID, func(raw []byte) error {
		ev, err := ledger.Decode(raw)
		if err != nil {
			return err
		}
		out[ev.Till] = append(out[ev.Till], ev)
		return nil
	})
	for _, c := range out {
		sort.Slice(c, func(i, j int) bool { return c[i].Seq < c[j].Seq })
	}
	return out, err
}

// checkHQ compares HQ's copy and stock with the reference ledger.
func (h *harness) checkHQ(ctx context.Context, st *store, ref map[ledger.TillID][]*ledger.Event, want map[string]int64, r *checkResult) {
	if h.hq == nil {
		return
	}
	n, err := h.hq.Count(ctx, st.file.ID)
	if err != nil {
		r.violate("store %s: HQ count: %v", st.name, err)
		return
	}
	r.hqEvents += n
	if h.gate.storeDown(st.file.ID) {
		r.notes = append(r.notes, fmt.Sprintf("store %s is cut off from HQ: HQ not compared", st.name))
		return
	}
	chains, err := h.hqChains(ctx, st)
	if err != nil {
		r.violate("store %s: read HQ: %v", st.name, err)
		return
	}
	if d := chainsDiff(ref, chains); d != "" {
		r.identical = false
		r.violate("store %s: HQ's ledger differs from the tills': %s", st.name, d)
	}
	for _, a := range h.acks.all() {
		if a.store == st {
			if why := missing(a, chains); why != "" {
				r.lost++
				r.violate("HQ: acknowledged %s %s of %s %s", a.kind, a.info.Receipt, a.slot.name, why)
			}
		}
	}
	hs, err := h.hqStock(ctx, st)
	if err != nil {
		r.violate("store %s: HQ stock: %v", st.name, err)
		return
	}
	if c := countStockDiff(want, hs); c > 0 {
		r.mismatches += c
		r.violate("HQ: stock of store %s differs from the fold: %s", st.name, stockDiff(want, hs))
	}
	// HQ's figures are its rollups plus what it folded since: after a
	// crash and a restart too, each event counted once.
	if got, ok := h.hq.StoreReport(st.file.ID); !ok {
		r.violate("store %s: unknown at HQ", st.name)
	} else if want := stateOf(st, ref).Fold().StoreReport(); !reflect.DeepEqual(got, want) {
		r.violate("HQ: report of store %s differs from the fold of its ledger: %d sales %d refunds %d voids, want %d %d %d",
			st.name, got.Sales, got.Refunds, got.Voids, want.Sales, want.Refunds, want.Voids)
	}
	ev, err := h.hq.Evidence(ctx, st.file.ID)
	if err == nil && len(ev) > 0 {
		r.violate("HQ: %d pieces of equivocation evidence for store %s", len(ev), st.name)
	}
}
