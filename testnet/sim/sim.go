// Package sim is the deterministic tier of the testnet: a single-goroutine
// simulator of a store's tills over the pure rules only — ledger.State and
// its folds, and a model of the CRDT stock counter's slots and merge —
// with a network that drops, duplicates, reorders and partitions
// messages, tills that crash (losing the CRDT write that follows a ledger
// write) and restart, and clients that retry with their idempotency key.
// Everything comes from one seed, so a failure replays exactly: the error
// names the seed and the step.
//
// After every step it checks the invariants that must hold at any time;
// at the end it heals the network, lets anti-entropy run to quiescence and
// checks that every till holds every event and the same folds, and that
// every till's stock counters sum to the fold of the ledger.
//
// sim imports only ledger and ledgertest: no clock, no goroutines, no I/O.
package sim

import (
	"fmt"
	"math/rand/v2"
	"reflect"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// Bug deliberately breaks one rule, so tests can show the checks catch it.
type Bug int

// Bugs.
const (
	NoBug Bug = iota
	// BugCounterAdds merges a counter slot by adding the incoming total
	// to the held one instead of keeping the newer value: duplicated or
	// repeated messages count stock twice.
	BugCounterAdds
	// BugRefundUnchecked lets a till refund a sale line in full again
	// without looking at what it already refunded (CheckLocal skipped).
	BugRefundUnchecked
)

// Config shapes a simulation.
type Config struct {
	Tills  int // 2..8
	Steps  int
	SKUs   int // 1..8 (ledgertest.SKUs)
	Drop   int // percent of deliveries lost
	Dup    int // percent of deliveries that also stay in flight
	Faults int // percent of steps that partition, heal, crash or restart
	Bug    Bug
}

// DefaultConfig is the CI configuration: 4 tills, 160 steps.
func DefaultConfig() Config {
	return Config{Tills: 4, Steps: 160, SKUs: 6, Drop: 10, Dup: 10, Faults: 8}
}

// Result summarises a run.
type Result struct {
	Events     int // events made
	Delivered  int
	Dropped    int
	Retries    int // client retries answered with their first event
	Anomalies  int // concurrent over-refunds (allowed, and reported)
	Partitions int
	Crashes    int
}

type slotKey struct {
	sku  string
	till ledger.TillID
}

// slot is a counter slot: the owner's cumulative movement of one SKU as of
// its ledger seq.
type slot struct {
	seq   uint64
	total int64
}

// newer reports whether a wins over b under go-ds-crdt's rule as tillmesh
// uses it: the owner's later write has seen the earlier and wins; at
// equal standing the larger value bytes (big-endian seq, then total) win.
func (a slot) newer(b slot) bool {
	if a.seq != b.seq {
		return a.seq > b.seq
	}
	return uint64(a.total) > uint64(b.total)
}

type node struct {
	idx   int
	till  *ledgertest.Till
	state *ledger.State
	slots map[slotKey]slot
	idem  map[string]*ledger.Event
	keys  []string // idempotency keys used, for retries
	up    bool
	group int
	dirty bool // a crash lost the CRDT write after a ledger write
	shift bool
}

type msgKind int

const (
	msgEvent msgKind = iota
	msgSlots
	msgPull
	msgPush
)

type msg struct {
	kind     msgKind
	from, to int
	ev       *ledger.Event
	events   []*ledger.Event
	slots    map[slotKey]slot
	vector   ledger.Vector
}

type sim struct {
	cfg    Config
	seed   uint64
	rng    *rand.Rand
	store  ledger.StoreID
	nodes  []*node
	flight []msg
	step   int
	clock  int64
	res    Result

	// The oracle: every event made, by till, and what each refund's
	// signer had seen when it signed.
	chains   map[ledger.TillID][]*ledger.Event
	sales    []ledger.EventID
	prefixes map[slotKey][]int64 // running movement per SKU and till, by seq
	seen     map[ledger.EventID]ledger.Vector
	refunds  map[ledger.EventID][]*ledger.Event // by sale
}

// Run simulates one seed and returns the first invariant it finds broken.
func Run(seed uint64, cfg Config) (Result, error) {
	if cfg.Tills < 2 || cfg.Tills > 8 || cfg.SKUs < 1 || cfg.SKUs > len(ledgertest.SKUs) || cfg.Steps < 1 {
		return Result{}, fmt.Errorf("sim: config %+v out of range", cfg)
	}
	s := &sim{cfg: cfg, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), clock: 1_700_000_000_000,
		chains: map[ledger.TillID][]*ledger.Event{}, seen: map[ledger.EventID]ledger.Vector{}, refunds: map[ledger.EventID][]*ledger.Event{},
		prefixes: map[slotKey][]int64{}}
	s.store[0], s.store[1] = 0x51, byte(seed)
	for i := range cfg.Tills {
		s.nodes = append(s.nodes, &node{idx: i, till: ledgertest.NewTill(s.store, byte(i+1), uint32(i+1)), state: ledger.NewState(s.store),
			slots: map[slotKey]slot{}, idem: map[string]*ledger.Event{}, up: true})
	}
	// Opening stock at till 1.
	var lines []ledger.StockLine
	for _, p := range ledgertest.SKUs[:cfg.SKUs] {
		q := int64(1000)
		if p.Unit == ledger.Kilogram {
			q = 100_000
		}
		lines = append(lines, ledger.StockLine{SKU: p.SKU, Qty: q})
	}
	if err := s.record(s.nodes[0], &ledger.StockReceive{Lines: lines, Staff: "1"}, "opening"); err != nil {
		return s.res, s.fail("opening: %v", err)
	}
	for s.step = 1; s.step <= cfg.Steps; s.step++ {
		if err := s.act(); err != nil {
			return s.res, s.fail("%v", err)
		}
		if err := s.check(); err != nil {
			return s.res, s.fail("%v", err)
		}
	}
	s.step = cfg.Steps + 1
	if err := s.quiesce(); err != nil {
		return s.res, s.fail("%v", err)
	}
	return s.res, nil
}

func (s *sim) fail(format string, args ...any) error {
	return fmt.Errorf("seed %d step %d: %s", s.seed, s.step, fmt.Sprintf(format, args...))
}

// act takes one step: a till records something, a message is delivered
// (or lost, or duplicated), tills sync, or a fault.
func (s *sim) act() error {
	s.clock += int64(1 + s.rng.IntN(2000))
	r := s.rng.IntN(100)
	switch {
	case r < s.cfg.Faults:
		return s.fault()
	case r < s.cfg.Faults+35:
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if !n.up {
			return nil
		}
		return s.local(n)
	case r < s.cfg.Faults+85:
		return s.deliver()
	default:
		a, b := s.nodes[s.rng.IntN(len(s.nodes))], s.nodes[s.rng.IntN(len(s.nodes))]
		if a != b && a.up {
			s.send(msg{kind: msgPull, from: a.idx, to: b.idx, vector: a.state.Vector()})
		}
	}
	return nil
}

// local makes a till record an event, or a client retry an old request.
func (s *sim) local(n *node) error {
	if len(n.keys) > 0 && s.rng.IntN(10) == 0 {
		key := n.keys[s.rng.IntN(len(n.keys))]
		seq := n.till.Seq
		ev, err := s.request(n, nil, key)
		if err != nil {
			return err
		}
		if ev != n.idem[key] || n.till.Seq != seq {
			return fmt.Errorf("till %d: a retry of %q made a new event", n.idx+1, key)
		}
		s.res.Retries++
		return nil
	}
	key := fmt.Sprintf("k%d-%d", n.idx, s.step)
	switch r := s.rng.IntN(100); {
	case r < 12:
		if refund := s.refundBody(n); refund != nil {
			return s.record(n, refund, key)
		}
	case r < 16:
		if n.shift {
			return s.record(n, &ledger.ShiftClose{Currency: "EUR", Staff: "1"}, key)
		}
		return s.record(n, &ledger.ShiftOpen{Currency: "EUR", Float: 10_000, Staff: "1"}, key)
	case r < 20:
		p := ledgertest.SKUs[s.rng.IntN(s.cfg.SKUs)]
		return s.record(n, &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: p.SKU, Qty: int64(1 + s.rng.IntN(50))}}, Staff: "1"}, key)
	}
	sale := ledgertest.Sale(s.rng, 3)
	for i := range sale.Lines { // only the SKUs in play
		p := ledgertest.SKUs[s.rng.IntN(s.cfg.SKUs)]
		sale.Lines[i].SKU, sale.Lines[i].Name = p.SKU, p.Name
	}
	return s.record(n, sale, key)
}

// refundBody refunds part of a sale the till knows of, as the till's own
// rules allow (or, with BugRefundUnchecked, the whole line regardless).
func (s *sim) refundBody(n *node) *ledger.Refund {
	var sales []ledger.EventID
	for _, id := range s.sales[max(0, len(s.sales)-30):] {
		if _, _, _, ok := n.state.Fold().Sale(id); ok {
			sales = append(sales, id)
		}
	}
	if len(sales) == 0 {
		return nil
	}
	id := sales[s.rng.IntN(len(sales))]
	f := n.state.Fold()
	sale, _, _, _ := f.Sale(id)
	line := s.rng.IntN(len(sale.Lines))
	var lines []ledger.RefundLine
	if s.cfg.Bug == BugRefundUnchecked {
		l := sale.Lines[line]
		lines = []ledger.RefundLine{{Line: line, SKU: l.SKU, Qty: l.Qty, Amount: 1, Tax: 0, Rate: l.TaxRate}}
	} else {
		rem, err := f.Refundable(id)
		if err != nil || rem[line].Qty <= 0 {
			return nil
		}
		q := 1 + int64(s.rng.IntN(int(rem[line].Qty)))
		if lines, err = f.RefundLines(id, []ledger.Pick{{Line: line, Qty: q}}); err != nil {
			return nil
		}
	}
	rf := &ledger.Refund{Sale: id, Currency: sale.Currency, Lines: lines, Staff: "1", Reason: "sim"}
	var total ledger.Money
	for _, l := range lines {
		total += l.Amount
	}
	if total > 0 {
		rf.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: total}}
	}
	return rf
}

// request is ledgerdb.Append's contract: a known key returns its event.
func (s *sim) request(n *node, body ledger.Body, key string) (*ledger.Event, error) {
	if ev := n.idem[key]; ev != nil {
		return ev, nil
	}
	ev := &ledger.Event{Store: s.store, Till: n.till.ID, Seq: n.till.Seq + 1, Prev: n.till.Prev, Body: body, Key: key,
		Time: n.state.NextTime(n.till.ID, s.clock, 120_000)}
	if s.cfg.Bug != BugRefundUnchecked {
		if err := n.state.CheckLocal(ev); err != nil {
			return nil, nil // refused: nothing recorded
		}
	}
	if err := ev.Sign(n.till.Key); err != nil {
		return nil, fmt.Errorf("till %d: sign %s: %v", n.idx+1, body.Kind(), err)
	}
	if _, err := n.state.Apply(ev); err != nil {
		return nil, fmt.Errorf("till %d: own event does not apply: %v", n.idx+1, err)
	}
	n.till.Seq, n.till.Prev, n.till.Clock = ev.Seq, ev.ID(), ev.Time
	n.idem[key] = ev
	n.keys = append(n.keys, key)
	return ev, nil
}

// record makes an event, writes its stock movements into the till's own
// counter slots (unless a crash comes in between) and gossips both.
func (s *sim) record(n *node, body ledger.Body, key string) error {
	ev, err := s.request(n, body, key)
	if err != nil || ev == nil {
		return err
	}
	s.res.Events++
	s.chains[n.till.ID] = append(s.chains[n.till.ID], ev)
	s.track(ev)
	if rf, ok := body.(*ledger.Refund); ok {
		s.refunds[rf.Sale] = append(s.refunds[rf.Sale], ev)
	}
	switch body.(type) {
	case *ledger.Sale:
		s.sales = append(s.sales, ev.ID())
	case *ledger.Refund:
		s.seen[ev.ID()] = n.state.Vector() // what its signer had seen
	case *ledger.ShiftOpen:
		n.shift = true
	case *ledger.ShiftClose:
		n.shift = false
	}
	if s.rng.IntN(100) < 3 {
		// The till dies between its ledger write and its counter write.
		n.up, n.dirty = false, true
		s.res.Crashes++
		return nil
	}
	changed := s.applyOwn(n, ev)
	for _, o := range s.nodes {
		if o != n {
			s.send(msg{kind: msgEvent, from: n.idx, to: o.idx, ev: ev})
			if len(changed) > 0 {
				s.send(msg{kind: msgSlots, from: n.idx, to: o.idx, slots: changed})
			}
		}
	}
	return nil
}

// applyOwn is crdt.ApplyMovements: the till's own slots move by the
// event's movements, tagged with its seq.
func (s *sim) applyOwn(n *node, ev *ledger.Event) map[slotKey]slot {
	changed := map[slotKey]slot{}
	for sku, d := range ledger.Movements(ev) {
		k := slotKey{sku, n.till.ID}
		cur := n.slots[k]
		if cur.seq == ev.Seq {
			continue
		}
		sl := slot{seq: max(cur.seq, ev.Seq), total: cur.total + d}
		n.slots[k] = sl
		changed[k] = sl
	}
	return changed
}

// repair is node.repairStock: on restart the till sets each of its own
// slots to its ledger's movements.
func (s *sim) repair(n *node) map[slotKey]slot {
	changed := map[slotKey]slot{}
	head, _, _ := n.state.Head(n.till.ID)
	f := n.state.Fold()
	for _, sku := range f.SKUs() {
		want, ok := f.Stock(sku)[n.till.ID]
		if !ok {
			continue
		}
		k := slotKey{sku, n.till.ID}
		if n.slots[k].total != want {
			n.slots[k] = slot{seq: head, total: want}
			changed[k] = n.slots[k]
		}
	}
	n.dirty = false
	return changed
}

func (s *sim) send(m msg) { s.flight = append(s.flight, m) }

// deliver hands one message in flight, chosen at random (so messages are
// reordered), to its till — unless it is lost, or the till is down or
// across a partition.
func (s *sim) deliver() error {
	if len(s.flight) == 0 {
		return nil
	}
	i := s.rng.IntN(len(s.flight))
	m := s.flight[i]
	if s.rng.IntN(100) >= s.cfg.Dup {
		s.flight[i] = s.flight[len(s.flight)-1]
		s.flight = s.flight[:len(s.flight)-1]
	}
	from, to := s.nodes[m.from], s.nodes[m.to]
	if !to.up || from.group != to.group || s.rng.IntN(100) < s.cfg.Drop {
		s.res.Dropped++
		return nil
	}
	s.res.Delivered++
	return s.receive(to, m)
}

func (s *sim) receive(n *node, m msg) error {
	switch m.kind {
	case msgEvent:
		return s.insert(n, []*ledger.Event{m.ev})
	case msgSlots:
		s.merge(n, m.slots)
	case msgPull:
		// Answer with what the asker lacks, and every slot we hold.
		var evs []*ledger.Event
		for _, rg := range n.state.Vector().Diff(m.vector) {
			for seq := rg.From; seq <= rg.To; seq++ {
				evs = append(evs, s.chains[rg.Till][seq-1])
			}
		}
		s.send(msg{kind: msgPush, from: n.idx, to: m.from, events: evs, slots: cloneSlots(n.slots)})
	case msgPush:
		if err := s.insert(n, m.events); err != nil {
			return err
		}
		s.merge(n, m.slots)
	}
	return nil
}

// insert applies peers' events as ledgerdb.Insert does: duplicates are
// no-ops, events above a gap wait.
func (s *sim) insert(n *node, evs []*ledger.Event) error {
	for _, ev := range evs {
		if _, err := n.state.Apply(ev); err != nil {
			return fmt.Errorf("till %d: peer event %d-%d: %v", n.idx+1, s.number(ev.Till), ev.Seq, err)
		}
	}
	return nil
}

func (s *sim) merge(n *node, in map[slotKey]slot) {
	for k, v := range in {
		cur, ok := n.slots[k]
		switch {
		case s.cfg.Bug == BugCounterAdds && ok && k.till != n.till.ID:
			n.slots[k] = slot{seq: max(cur.seq, v.seq), total: cur.total + v.total}
		case !ok || v.newer(cur):
			n.slots[k] = v
		}
	}
}

func cloneSlots(m map[slotKey]slot) map[slotKey]slot {
	c := make(map[slotKey]slot, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (s *sim) number(t ledger.TillID) int {
	for _, n := range s.nodes {
		if n.till.ID == t {
			return n.idx + 1
		}
	}
	return 0
}

// fault partitions, heals, crashes or restarts.
func (s *sim) fault() error {
	switch s.rng.IntN(4) {
	case 0: // split into two sides at random
		for _, n := range s.nodes {
			n.group = s.rng.IntN(2)
		}
		s.res.Partitions++
	case 1:
		for _, n := range s.nodes {
			n.group = 0
		}
	case 2:
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		if n.up {
			n.up = false
			s.res.Crashes++
		}
	case 3:
		for _, n := range s.nodes {
			if !n.up {
				s.restart(n)
				break
			}
		}
	}
	return nil
}

// restart brings a till back: it repairs its slots from its ledger,
// announces them, and pulls from a peer.
func (s *sim) restart(n *node) {
	n.up = true
	changed := s.repair(n)
	for _, o := range s.nodes {
		if o == n {
			continue
		}
		if len(changed) > 0 {
			s.send(msg{kind: msgSlots, from: n.idx, to: o.idx, slots: changed})
		}
		s.send(msg{kind: msgPull, from: n.idx, to: o.idx, vector: n.state.Vector()})
	}
}

// check verifies the invariants that hold after every step.
func (s *sim) check() error {
	for _, n := range s.nodes {
		if err := n.state.Check(); err != nil {
			return fmt.Errorf("till %d: state: %v", n.idx+1, err)
		}
		// Durability: a till's own chain is whole in its own ledger.
		if head, _, _ := n.state.Head(n.till.ID); head != n.till.Seq {
			return fmt.Errorf("till %d holds %d of its own %d events", n.idx+1, head, n.till.Seq)
		}
		// Every counter slot anywhere is some prefix of its owner's
		// chain: never a mix, never counted twice.
		for k, v := range n.slots {
			if want := s.prefix(k, v.seq); v.total != want {
				return fmt.Errorf("till %d: slot %s/till %d is %d at seq %d; the owner's movements to seq %d add up to %d",
					n.idx+1, k.sku, s.number(k.till), v.total, v.seq, v.seq, want)
			}
		}
		if err := s.checkAnomalies(n); err != nil {
			return err
		}
	}
	// Two tills holding the same events agree on everything folded.
	vs := make([]ledger.Vector, len(s.nodes))
	for i, n := range s.nodes {
		vs[i] = n.state.Vector()
	}
	for i, a := range s.nodes {
		for j, b := range s.nodes[i+1:] {
			if vs[i].Equal(vs[i+1+j]) {
				if err := same(a, b); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// prefix is the owner's movement of k.sku over its events 1..seq.
func (s *sim) prefix(k slotKey, seq uint64) int64 {
	p := s.prefixes[k]
	if seq == 0 || len(p) == 0 {
		return 0
	}
	return p[min(seq, uint64(len(p)))-1]
}

// track extends the running sums behind prefix with a new event.
func (s *sim) track(ev *ledger.Event) {
	m := ledger.Movements(ev)
	for _, p := range ledgertest.SKUs[:s.cfg.SKUs] {
		k := slotKey{p.SKU, ev.Till}
		var last int64
		if n := len(s.prefixes[k]); n > 0 {
			last = s.prefixes[k][n-1]
		}
		s.prefixes[k] = append(s.prefixes[k], last+m[p.SKU])
	}
}

// checkAnomalies compares the fold's anomalies with a dumb recount, and
// requires each over-refund to come from refunds made concurrently at
// different tills (no till may over-refund what it has seen).
func (s *sim) checkAnomalies(n *node) error {
	f := n.state.Fold()
	over := map[ledger.EventID]bool{}
	for sale, refunds := range s.refunds {
		sb, _, _, ok := f.Sale(sale)
		if !ok {
			continue
		}
		qty := map[int]int64{}
		for _, r := range refunds {
			if _, held := n.state.ID(r.Till, r.Seq); !held {
				continue
			}
			for _, l := range r.Body.(*ledger.Refund).Lines {
				qty[l.Line] += l.Qty
			}
		}
		for line, q := range qty {
			if q > sb.Lines[line].Qty {
				over[sale] = true
			}
		}
	}
	got := map[ledger.EventID]bool{}
	for _, a := range f.Anomalies() {
		got[a.Sale] = true
		if !over[a.Sale] {
			return fmt.Errorf("till %d: anomaly %q on sale %s that the recount does not find", n.idx+1, a.Reason, a.Sale.String()[:8])
		}
	}
	for sale := range over {
		if !got[sale] {
			return fmt.Errorf("till %d: sale %s is over-refunded but Anomalies does not say so", n.idx+1, sale.String()[:8])
		}
		if !s.concurrent(sale) {
			return fmt.Errorf("till %d: sale %s over-refunded by refunds that saw each other", n.idx+1, sale.String()[:8])
		}
	}
	s.res.Anomalies = max(s.res.Anomalies, len(over))
	return nil
}

// concurrent reports whether two refunds of the sale were made at
// different tills without either having seen the other.
func (s *sim) concurrent(sale ledger.EventID) bool {
	rs := s.refunds[sale]
	for i, a := range rs {
		for _, b := range rs[i+1:] {
			if a.Till != b.Till && s.seen[a.ID()][b.Till] < b.Seq && s.seen[b.ID()][a.Till] < a.Seq {
				return true
			}
		}
	}
	return false
}

// same compares two tills that hold the same events.
func same(a, b *node) error {
	for _, t := range a.state.Tills() {
		_, ia, _ := a.state.Head(t)
		_, ib, _ := b.state.Head(t)
		if ia != ib {
			return fmt.Errorf("tills %d and %d hold equal vectors but different heads", a.idx+1, b.idx+1)
		}
	}
	fa, fb := a.state.Fold(), b.state.Fold()
	if !reflect.DeepEqual(fa.StoreReport(), fb.StoreReport()) {
		return fmt.Errorf("tills %d and %d hold the same events but report differently", a.idx+1, b.idx+1)
	}
	for _, sku := range fa.SKUs() {
		if fa.StockTotal(sku) != fb.StockTotal(sku) {
			return fmt.Errorf("tills %d and %d hold the same events but fold stock of %s differently", a.idx+1, b.idx+1, sku)
		}
	}
	if !reflect.DeepEqual(fa.Anomalies(), fb.Anomalies()) {
		return fmt.Errorf("tills %d and %d hold the same events but see different anomalies", a.idx+1, b.idx+1)
	}
	return nil
}

// quiesce heals everything and runs anti-entropy until nothing changes,
// then checks that the store converged.
func (s *sim) quiesce() error {
	for _, n := range s.nodes {
		n.group = 0
		if !n.up {
			s.restart(n)
		}
	}
	s.cfg.Drop, s.cfg.Dup = 0, 0
	for round := 0; round < 4*len(s.nodes); round++ {
		for len(s.flight) > 0 {
			if err := s.deliver(); err != nil {
				return err
			}
		}
		if s.converged() == nil {
			break
		}
		for _, a := range s.nodes {
			for _, b := range s.nodes {
				if a != b {
					s.send(msg{kind: msgPull, from: a.idx, to: b.idx, vector: a.state.Vector()})
				}
			}
		}
	}
	if err := s.check(); err != nil {
		return err
	}
	return s.converged()
}

// converged: every till holds every event made, the same heads and
// folds, and its counter slots sum to the fold's stock.
func (s *sim) converged() error {
	want := ledger.Vector{}
	ids := map[ledger.EventID]bool{}
	for t, c := range s.chains {
		want[t] = uint64(len(c))
		for _, ev := range c {
			if ids[ev.ID()] {
				return fmt.Errorf("event %s made twice", ev.ID().String()[:8])
			}
			ids[ev.ID()] = true
		}
	}
	for _, n := range s.nodes {
		if v := n.state.Vector(); !v.Equal(want) {
			return fmt.Errorf("till %d holds %d of %d events after quiescence", n.idx+1, v.Total(), want.Total())
		}
		f := n.state.Fold()
		totals := map[string]int64{}
		for k, v := range n.slots {
			totals[k.sku] += v.total
		}
		for _, p := range ledgertest.SKUs[:s.cfg.SKUs] {
			if totals[p.SKU] != f.StockTotal(p.SKU) {
				return fmt.Errorf("till %d: counters say %d of %s, the ledger %d", n.idx+1, totals[p.SKU], p.SKU, f.StockTotal(p.SKU))
			}
		}
	}
	for _, n := range s.nodes[1:] {
		if err := same(s.nodes[0], n); err != nil {
			return err
		}
	}
	return nil
}
