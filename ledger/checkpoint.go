package ledger

import (
	"fmt"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// A checkpoint is a State in bytes: each chain's head and the folds, as of
// the State's Vector. A node stores one beside the events it covers and,
// at start, restores it and applies only the events above its vector,
// instead of every event it holds. Events held above a gap and
// equivocation evidence are not in it: the node stores those events and
// applies them again; a till flagged for equivocating stays flagged.
type checkpoint struct {
	Version   int
	Store     StoreID
	Clock     HLC
	Chains    []cpChain
	Events    int
	Tills     []cpTill
	Stock     []cpStock
	ByHour    map[int64]Money
	BySKU     []SKUSales
	Orphans   []EventID
	Anomalies []Anomaly
	// Newer counts the events of kinds this version does not know.
	Newer map[Kind]int `cbor:",omitempty"`
	// Transfers are the store's transfer_out and transfer_in sides.
	Transfers []cpTransfer `cbor:",omitempty"`
}

type cpChain struct {
	Till    TillID
	Head    uint64
	ID      EventID
	Time    HLC
	Flagged bool `cbor:",omitempty"`
	// Receipts is the till's receipt count (State.Receipts).
	Receipts uint64 `cbor:",omitempty"`
}

type cpTill struct {
	Till   TillID
	Total  Report
	Shifts []*Shift
	Open   int // index of the open shift in Shifts, -1 if none
}

type cpStock struct {
	SKU  string
	Till TillID
	Qty  int64
}

// checkpointVersion 2 added each chain's receipt count and the cleared
// carts in reports; a version-1 checkpoint is refused, and its owner
// applies every event again (once).
const checkpointVersion = 2

// MaxCheckpointSize bounds what RestoreState accepts.
const MaxCheckpointSize = 256 << 20

// Checkpoint returns the state as bytes for RestoreState, with the vector
// it covers. Deterministic: two States that applied the same events give
// the same bytes, flags aside.
func (s *State) Checkpoint() ([]byte, Vector, error) {
	f := s.fold
	cp := checkpoint{Version: checkpointVersion, Store: s.store, Clock: s.clock, Events: f.events, ByHour: f.byHour}
	for _, t := range s.Tills() {
		c := s.chains[t]
		if c.head == 0 && !c.flagged {
			continue
		}
		cp.Chains = append(cp.Chains, cpChain{Till: t, Head: c.head, ID: c.id, Time: c.time, Flagged: c.flagged, Receipts: c.receipts})
	}
	tills := make([]TillID, 0, len(f.tills))
	for t := range f.tills {
		tills = append(tills, t)
	}
	sortTills(tills)
	for _, t := range tills {
		tf := f.tills[t]
		ct := cpTill{Till: t, Total: tf.total, Shifts: tf.shifts, Open: -1}
		for i, sh := range tf.shifts {
			if sh == tf.open {
				ct.Open = i
			}
		}
		cp.Tills = append(cp.Tills, ct)
	}
	for _, sku := range f.SKUs() {
		ts := make([]TillID, 0, len(f.stock[sku]))
		for t := range f.stock[sku] {
			ts = append(ts, t)
		}
		sortTills(ts)
		for _, t := range ts {
			cp.Stock = append(cp.Stock, cpStock{SKU: sku, Till: t, Qty: f.stock[sku][t]})
		}
	}
	cp.BySKU = f.TopProducts(len(f.bySKU))
	for id := range f.orphans {
		cp.Orphans = append(cp.Orphans, id)
	}
	sortIDs(cp.Orphans)
	cp.Anomalies = f.Anomalies()
	if len(f.newer) > 0 {
		cp.Newer = f.newer
	}
	cp.Transfers = f.checkpointTransfers()
	b, err := encMode.Marshal(cp)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: encode checkpoint: %w", err)
	}
	return b, s.Vector(), nil
}

// RestoreState returns the State a checkpoint holds, finding older events
// in idx as NewStateWith does. The events the checkpoint covers must be in
// idx.
func RestoreState(store StoreID, b []byte, idx Index) (*State, error) {
	if len(b) > MaxCheckpointSize {
		return nil, fmt.Errorf("ledger: checkpoint of %d bytes", len(b))
	}
	dm, err := cbor.DecOptions{
		MaxArrayElements: 1 << 24, MaxMapPairs: 1 << 24, MaxNestedLevels: 16,
		DupMapKey: cbor.DupMapKeyEnforcedAPF, ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		return nil, err
	}
	var cp checkpoint
	if err := dm.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("ledger: decode checkpoint: %w", err)
	}
	switch {
	case cp.Version != checkpointVersion:
		return nil, fmt.Errorf("ledger: checkpoint version %d, want %d", cp.Version, checkpointVersion)
	case cp.Store != store:
		return nil, fmt.Errorf("ledger: checkpoint of store %s, want %s", cp.Store, store)
	}
	s := NewStateWith(store, idx)
	s.clock = cp.Clock
	f := s.fold
	f.events = cp.Events
	for _, c := range cp.Chains {
		s.chains[c.Till] = &chain{head: c.Head, id: c.ID, time: c.Time, flagged: c.Flagged, receipts: c.Receipts, pending: map[uint64]*Event{}}
	}
	for _, ct := range cp.Tills {
		tf := &tillFold{total: ct.Total, shifts: ct.Shifts}
		fixReport(&tf.total)
		for i, sh := range tf.shifts {
			if sh == nil {
				return nil, fmt.Errorf("ledger: checkpoint: till %s shift %d missing", ct.Till.Short(), i)
			}
			fixReport(&sh.Report)
		}
		if ct.Open >= len(tf.shifts) {
			return nil, fmt.Errorf("ledger: checkpoint: till %s open shift %d of %d", ct.Till.Short(), ct.Open, len(tf.shifts))
		}
		if ct.Open >= 0 {
			tf.open = tf.shifts[ct.Open]
		}
		f.tills[ct.Till] = tf
	}
	for _, st := range cp.Stock {
		f.move(st.SKU, st.Till, st.Qty)
	}
	if cp.ByHour != nil {
		f.byHour = cp.ByHour
	}
	for _, sk := range cp.BySKU {
		f.bySKU[sk.SKU] = &sk
	}
	for _, id := range cp.Orphans {
		f.orphans[id] = true
	}
	if len(cp.Newer) > 0 {
		f.newer = Newer(cp.Newer)
	}
	f.restoreTransfers(cp.Transfers)
	for _, a := range cp.Anomalies {
		f.anomalies[a.Sale] = append(f.anomalies[a.Sale], a.Reason)
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("ledger: checkpoint: %w", err)
	}
	return s, nil
}

// fixReport gives a decoded report the empty maps NewReport makes.
func fixReport(r *Report) {
	if r.Bands == nil {
		r.Bands = map[TaxRate]TaxBand{}
	}
	if r.Tenders == nil {
		r.Tenders = map[TenderKind]Money{}
	}
	if r.RefundTenders == nil {
		r.RefundTenders = map[TenderKind]Money{}
	}
}

func sortIDs(ids []EventID) {
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
}
