package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ui/i18n"
)

// Record kinds in the store's outbox state (crdt.OutboxEntry.Kind).
const (
	kindCursor = "cursor" // id "v1": the connector's cursor, a version vector
	kindItem   = "item"   // id event ID: the item's Record
	kindDead   = "dead"   // id event ID: the Record while dead-lettered or retried
	kindRef    = "ref"    // id hash of a result's Ref: the event ID that holds it
	cursorID   = "v1"
)

// maxEntries is crdt's bound on one PutOutbox.
const maxEntries = 256

// perTill reports whether c wants each till's items in order
// (PerTiller).
func perTill(c Connector) bool {
	p, ok := c.(PerTiller)
	return ok && p.PerTill()
}

// stopGrace is how long a stopping till waits for requests in flight.
const stopGrace = 5 * time.Second

// maxRefs bounds the in-memory cache of recorded refs.
const maxRefs = 4096

// ErrNotFound is a connector or dead letter that does not exist.
var ErrNotFound = errors.New("outbox: not found")

// Outbox sends the store's events to the connectors' services from the
// till that leads, recording each result in the store's replicated state,
// and counts the backlog on every till. New checks the Config; Run runs
// until its context ends. Status, DeadLetters, Retry and Kick are safe
// from any goroutine.
type Outbox struct {
	cfg   Config
	log   *slog.Logger
	conns []*conn
	cat   *i18n.Catalog // the English of the status lines
}

// conn is one connector's state on this till.
type conn struct {
	c    Connector
	wake chan struct{}
	// round is held while the connector sends (Prepare and round), so
	// Handover can wait for a round in progress to end.
	round sync.Mutex
	// leading is true while this till sends this connector, after it
	// caught up with its peers' state (Config.Catchup). Written under
	// round.
	leading atomic.Bool

	mu        sync.Mutex
	cursor    ledger.Vector               // highest seq per till with nothing left to send at or below it
	done      map[ledger.EventID]bool     // final items above the cursor
	fails     map[ledger.EventID]*failure // items that failed, by event
	refs      map[string]ledger.EventID   // results' refs this till recorded
	down      int                         // consecutive unreachable rounds
	downUntil time.Time                   // no sending before this
	rng       *rand.Rand
	status    Status
	// lag holds, per till, since when the store-wide watermark has
	// waited for it (watermark.go); holding is true while an item waits.
	lag     map[ledger.TillID]time.Time
	holding bool
}

type failure struct {
	attempts int
	next     time.Time
	err      string
}

// New checks cfg.
func New(cfg Config) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cat, err := i18n.Embedded()
	if err != nil {
		return nil, fmt.Errorf("outbox: message catalogs: %w", err)
	}
	o := &Outbox{cfg: cfg, log: cfg.Logger.With("component", "outbox"), cat: cat}
	for i, c := range cfg.Connectors {
		o.conns = append(o.conns, &conn{c: c, wake: make(chan struct{}, 1), cursor: ledger.Vector{},
			done: map[ledger.EventID]bool{}, fails: map[ledger.EventID]*failure{}, refs: map[string]ledger.EventID{},
			lag: map[ledger.TillID]time.Time{}, rng: newRand(cfg.Seed ^ uint64(i)<<32),
			status: Status{Connector: c.Name(), Noun: c.Noun()}})
	}
	return o, nil
}

// Kick tells every connector that the ledger grew or a setting changed.
func (o *Outbox) Kick() {
	for _, k := range o.conns {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
}

// LineBack tells the outbox the internet line works again (the node
// saw HQ answer after it did not): each connector backing off from a
// service it found unreachable tries now rather than at the end of its
// backoff, which after a long outage is up to MaxBackoff. A service still
// away sets the backoff again, one step longer, as any failed try does.
func (o *Outbox) LineBack() {
	for _, k := range o.conns {
		k.mu.Lock()
		k.downUntil = time.Time{}
		k.mu.Unlock()
	}
	o.Kick()
}

// Run runs one loop per connector until ctx ends.
func (o *Outbox) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, k := range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.loop(ctx, k)
		}()
	}
	wg.Wait()
	return nil
}

func (o *Outbox) loop(ctx context.Context, k *conn) {
	t := time.NewTimer(0)
	defer t.Stop()
	var lastCount time.Time
	countEvery := o.cfg.Poll
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.wake:
		}
		wait := o.cfg.Poll
		k.round.Lock()
		configured, err := k.c.Prepare(ctx)
		if err != nil {
			o.log.Warn("read connector settings", "connector", k.c.Name(), "err", err)
		}
		active := o.active(k.c.Name())
		k.mu.Lock()
		k.status.Configured = configured
		k.status.Elsewhere = ""
		if !active {
			k.status.Elsewhere = o.cfg.Elsewhere
		}
		k.mu.Unlock()
		lead := configured && active && o.cfg.Leader()
		if lead && !k.leading.Load() {
			if err := o.catchup(ctx, k); err != nil {
				lead = false
				if ctx.Err() == nil {
					o.log.Info("not sending until this till has its peers' outbox state", "connector", k.c.Name(), "err", err)
				}
			} else {
				k.leading.Store(true)
			}
		}
		if !lead {
			k.leading.Store(false)
		}
		if lead {
			more, err := o.round(ctx, k)
			if err != nil && ctx.Err() == nil {
				o.log.Warn("outbox round", "connector", k.c.Name(), "err", err)
			}
			if more {
				wait = 0
			}
		}
		k.round.Unlock()
		if now := o.cfg.Now(); now.Sub(lastCount) >= countEvery {
			o.count(ctx, k, configured)
			lastCount = o.cfg.Now()
			// A long backlog costs a read per item to count: count it
			// less often, so that counting takes at most 5% of the time.
			countEvery = min(max(o.cfg.Poll, 20*lastCount.Sub(now)), 30*time.Second)
		}
		k.mu.Lock()
		if d := k.downUntil.Sub(o.cfg.Now()); d > wait {
			wait = d
		}
		k.mu.Unlock()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6f7574626f78)) }

// backoff returns the delay before try number n+1 after n failures:
// MinBackoff doubling, capped at MaxBackoff, drawn from its upper half.
func (o *Outbox) backoff(k *conn, n int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < n && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	half := d / 2
	return half + time.Duration(k.rng.Int64N(int64(half)+1))
}

// pending is one item a round considers.
type pending struct {
	ev     *ledger.Event
	number uint32
	retry  *Record // a dead letter a manager asked to send again
}

// scanned is one till's events above the cursor, as a round saw them.
type scanned struct {
	seqs []uint64
	want map[uint64]ledger.EventID
}

// round sends what is due and records the results. It reports whether
// there may be more to send at once.
func (o *Outbox) round(ctx context.Context, k *conn) (bool, error) {
	name := k.c.Name()
	if err := o.loadCursor(ctx, k); err != nil {
		return false, err
	}
	now := o.cfg.Now()
	k.mu.Lock()
	if now.Before(k.downUntil) {
		k.mu.Unlock()
		return false, nil
	}
	cursor := k.cursor.Clone()
	k.mu.Unlock()

	var items []pending
	retries, err := o.retries(ctx, k)
	if err != nil {
		return false, err
	}
	items = append(items, retries...)
	queued := map[ledger.EventID]bool{}
	for _, p := range retries {
		queued[p.ev.ID()] = true
	}

	tills := map[ledger.TillID]*scanned{}
	full := false
	var cands []pending
	var cut *ledger.HLC
	heads := o.cfg.Ledger.Vector()
	for till, head := range heads {
		from := cursor[till] + 1
		if from > head {
			continue
		}
		sc := &scanned{want: map[uint64]ledger.EventID{}}
		tills[till] = sc
		n := 0
		err := o.cfg.Ledger.Range(till, from, func(ev *ledger.Event) bool {
			sc.seqs = append(sc.seqs, ev.Seq)
			if k.c.Wants(ev) {
				sc.want[ev.Seq] = ev.ID()
				cands = append(cands, pending{ev: ev, number: o.cfg.Number(till)})
				n++
			}
			if n >= o.cfg.Batch {
				full = true
				if cut == nil || ev.Time.Before(*cut) {
					t := ev.Time
					cut = &t // this till's later items are not in this round
				}
				return false
			}
			return true
		})
		if err != nil {
			return false, fmt.Errorf("read the ledger of till %s: %w", till.Short(), err)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].ev, cands[j].ev
		if a.Time != b.Time {
			return a.Time.Before(b.Time)
		}
		if cands[i].number != cands[j].number {
			return cands[i].number < cands[j].number
		}
		return a.Seq < b.Seq
	})
	ordered := perTill(k.c)
	held := map[ledger.TillID]bool{} // per till: a till whose item waits holds back its later ones
	// Store-wide order (not per till): an item goes only once no till
	// this one hears from can still bring an earlier one (watermark.go).
	var marks map[ledger.TillID]ledger.HLC
	if !ordered {
		marks = o.marks(heads)
	}
	holding := false
	var waiting ledger.TillID
	for _, c := range cands {
		if len(items) >= o.cfg.Batch {
			full = true
			break
		}
		if held[c.ev.Till] {
			continue
		}
		id := c.ev.ID()
		k.mu.Lock()
		done := k.done[id]
		f := k.fails[id]
		k.mu.Unlock()
		if done || queued[id] {
			continue
		}
		rec, err := o.record(ctx, name, kindItem, id.String())
		if err != nil {
			return false, err
		}
		if rec.final() {
			k.mu.Lock()
			k.done[id] = true
			k.mu.Unlock()
			continue
		}
		if !ordered && cut != nil && c.ev.Time.After(*cut) {
			break // a till's items above its batch may come before it: next round
		}
		if w, wait := o.waitFor(k, marks, c.ev.Time, now); wait {
			holding, waiting = true, w
			break // every later candidate is later still
		}
		if f != nil && now.Before(f.next) {
			if k.c.Window() == 1 {
				break // in order: nothing after it goes first
			}
			held[c.ev.Till] = ordered
			continue
		}
		items = append(items, c)
	}

	var first ledger.HLC
	if len(cands) > 0 {
		first = cands[0].ev.Time
	}
	o.settleLag(k, marks, first, holding, waiting)

	sent, err := o.send(ctx, k, items)
	if err != nil {
		return false, err
	}
	if err := o.advance(ctx, k, tills); err != nil {
		return false, err
	}
	k.mu.Lock()
	down := now.Before(k.downUntil)
	k.mu.Unlock()
	return (full || sent > 0) && !down, nil
}

// send sends items, Window at a time (in order when Window is 1), and
// records each result in the store before the round moves the cursor.
// It returns how many items reached a final state.
func (o *Outbox) send(ctx context.Context, k *conn, items []pending) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	type outcome struct {
		p   pending
		res Result
		err error
		n   int
	}
	// Requests in flight when the till stops (ctx ends) get stopGrace to
	// come back, so their answers are recorded: an answer lost is a
	// message sent again after the restart. Nothing new goes out.
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	// halt stops taking items (the service is away, or an ordered item
	// failed) but lets the requests in flight answer: the service may
	// have taken them, and an answer not recorded is an item sent again
	// (by the next round, another till or HQ after a hand-over).
	var halted atomic.Bool
	haltCh := make(chan struct{})
	halt := func() {
		if halted.CompareAndSwap(false, true) {
			close(haltCh)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(stopGrace):
				stop()
			case <-sctx.Done():
			}
		case <-sctx.Done():
		}
	}()
	// Per till (PerTiller): each job is one till's items, in order, sent
	// one after the other by one sender; different tills' go in parallel.
	var lanes [][]pending
	if perTill(k.c) {
		at := map[ledger.TillID]int{}
		for _, p := range items {
			i, ok := at[p.ev.Till]
			if !ok {
				i = len(lanes)
				at[p.ev.Till] = i
				lanes = append(lanes, nil)
			}
			lanes[i] = append(lanes[i], p)
		}
	} else {
		for _, p := range items {
			lanes = append(lanes, []pending{p})
		}
	}
	jobs := make(chan []pending)
	out := make(chan outcome, len(items))
	// In order (Window 1), the sender waits for each verdict before it
	// takes the next item, so nothing goes out ahead of a failure.
	ordered := k.c.Window() == 1
	gate := make(chan bool)
	var wg sync.WaitGroup
	for range min(k.c.Window(), len(lanes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lane := range jobs {
			laneItems:
				for i, p := range lane {
					if i > 0 && (halted.Load() || !o.active(k.c.Name()) || !o.cfg.Leader() || ctx.Err() != nil || sctx.Err() != nil) {
						break
					}
					attempt := 1
					k.mu.Lock()
					if f := k.fails[p.ev.ID()]; f != nil {
						attempt = f.attempts + 1
					}
					k.mu.Unlock()
					it := Item{Event: p.ev, Number: p.number, Receipt: o.receipt(p.number, p.ev), Attempt: attempt}
					it.Original = o.original(sctx, k, p.ev)
					cctx, c := context.WithTimeout(sctx, o.cfg.Timeout)
					res, err := k.c.Send(cctx, it)
					c()
					out <- outcome{p: p, res: res, err: err, n: attempt}
					if ordered && !<-gate {
						return
					}
					var rej *Rejection
					if err != nil && !errors.As(err, &rej) {
						break laneItems // the till's next items wait for this one
					}
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, p := range lanes {
			if halted.Load() || !o.active(k.c.Name()) || !o.cfg.Leader() || ctx.Err() != nil || sctx.Err() != nil {
				return // halted, stopping, handed over, or another till leads now: what is not out yet goes later, or from there
			}
			select {
			case jobs <- p:
			case <-haltCh:
				return
			case <-sctx.Done():
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(out)
	}()

	var batch []crdt.OutboxEntry
	finals := 0
	var werr error
	flush := func() {
		if len(batch) == 0 || werr != nil {
			return
		}
		// Record what the services answered even when the till is
		// stopping: an answer not recorded is sent again after the
		// restart, and a message has no idempotency key.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.Timeout)
		err := o.put(wctx, batch)
		cancel()
		if err != nil {
			werr = err
			stop()
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(o.cfg.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			flush()
			continue
		case r, ok := <-out:
			if !ok {
				flush()
				return finals, werr
			}
			entries, final := o.settle(ctx, k, r.p, r.res, r.err, r.n)
			batch = append(batch, entries...)
			if final {
				finals++
			} else if ordered || errors.Is(r.err, ErrUnreachable) {
				halt() // keep the order; or the service is away: send nothing more, record what is in flight
			}
			if ordered {
				gate <- final
			}
			if len(batch) >= o.cfg.Flush {
				flush()
			}
		}
	}
}

// settle turns one answer into the records to write and this till's
// memory of the item. It reports whether the item is final.
func (o *Outbox) settle(ctx context.Context, k *conn, p pending, res Result, err error, attempt int) ([]crdt.OutboxEntry, bool) {
	name, id := k.c.Name(), p.ev.ID()
	now := o.cfg.Now()
	rec := Record{Till: hex.EncodeToString(p.ev.Till[:]), Seq: p.ev.Seq, Receipt: o.receipt(p.number, p.ev),
		Kind: string(p.ev.Kind()), Attempts: attempt, At: now.UnixMilli(), By: o.cfg.Self}
	if errors.Is(err, context.Canceled) {
		// The round was cut short (a result it could not record, or the
		// till stopping past stopGrace): no attempt. The service may
		// have taken it; it goes again under the same key.
		return nil, false
	}
	if err == nil && res.Ref != "" {
		if other, dup := o.refOwner(ctx, k, res.Ref); dup && other != id {
			err = Reject("duplicate_ref", "the service answered %s %q, which it already gave event %s", refWord(k), res.Ref, other.String()[:12])
		}
	}
	var rej *Rejection
	switch {
	case err == nil:
		rec.State, rec.Result = Sent, res
	case errors.As(err, &rej):
		rec.State, rec.Code, rec.Reason = Rejected, rej.Code, rej.Reason
	case errors.Is(err, ErrUnreachable):
		k.mu.Lock()
		k.status.Reachable = false
		k.status.LastError = err.Error()
		if !now.Before(k.downUntil) {
			// Once per round: the window's other requests fail alike.
			k.down++
			d := o.backoff(k, k.down)
			k.downUntil = now.Add(d)
			o.log.Info("service unreachable; retrying later", "connector", name, "in", d.Round(time.Millisecond), "err", err)
		}
		k.mu.Unlock()
		return nil, false
	default:
		k.mu.Lock()
		f := k.fails[id]
		if f == nil {
			f = &failure{}
			k.fails[id] = f
		}
		f.attempts = attempt
		f.err = err.Error()
		k.status.Reachable = true
		k.status.LastError = err.Error()
		give := f.attempts >= o.cfg.MaxAttempts
		if !give {
			f.next = now.Add(o.backoff(k, f.attempts))
		}
		k.mu.Unlock()
		if !give {
			o.log.Warn("bad answer; retrying", "connector", name, "receipt", rec.Receipt, "attempt", attempt, "err", err)
			return nil, false
		}
		rec.State, rec.Code, rec.Reason = Rejected, "gave_up", fmt.Sprintf("%d bad answers, the last: %v", attempt, err)
	}
	k.mu.Lock()
	k.done[id] = true
	delete(k.fails, id)
	k.down = 0
	k.downUntil = time.Time{}
	k.status.Reachable = true
	if rec.State == Sent {
		k.status.Sent++
		k.status.LastError = ""
		if res.Ref != "" {
			if len(k.refs) >= maxRefs {
				clear(k.refs) // a cache: the CRDT's ref index is the truth
			}
			k.refs[res.Ref] = id
		}
	} else {
		k.status.LastError = rec.Reason
	}
	k.mu.Unlock()
	b, _ := json.Marshal(rec)
	entries := []crdt.OutboxEntry{{Connector: name, Kind: kindItem, ID: id.String(), Value: b}}
	if rec.State == Sent && res.Ref != "" {
		entries = append(entries, crdt.OutboxEntry{Connector: name, Kind: kindRef, ID: refKey(res.Ref), Value: []byte(id.String())})
	}
	if rec.State == Rejected || p.retry != nil {
		entries = append(entries, crdt.OutboxEntry{Connector: name, Kind: kindDead, ID: id.String(), Value: b})
	}
	if rec.State == Rejected {
		o.log.Error("dead letter: a manager must look at it", "connector", name, "receipt", rec.Receipt, "code", rec.Code, "reason", rec.Reason)
	}
	return entries, true
}

func refWord(k *conn) string {
	if k.c.Name() == "fiscal" {
		return "fiscal number"
	}
	return "reference"
}

// refOwner returns the event a result's Ref was recorded for, if any.
func (o *Outbox) refOwner(ctx context.Context, k *conn, ref string) (ledger.EventID, bool) {
	k.mu.Lock()
	id, ok := k.refs[ref]
	k.mu.Unlock()
	if ok {
		return id, true
	}
	b, err := o.cfg.Store.OutboxGet(ctx, k.c.Name(), kindRef, refKey(ref))
	if err != nil {
		return ledger.EventID{}, false
	}
	id, err = ledger.ParseEventID(string(b))
	return id, err == nil
}

func refKey(ref string) string {
	h := sha256.Sum256([]byte(ref))
	return hex.EncodeToString(h[:16])
}

// original returns the recorded result of the sale a refund or void
// names, if this connector has one.
func (o *Outbox) original(ctx context.Context, k *conn, ev *ledger.Event) *Record {
	var sale ledger.EventID
	switch b := ev.Body.(type) {
	case *ledger.Refund:
		sale = b.Sale
	case *ledger.Void:
		sale = b.Sale
	default:
		return nil
	}
	rec, err := o.record(ctx, k.c.Name(), kindItem, sale.String())
	if err != nil || rec == nil {
		return nil
	}
	return rec
}

// put writes entries in batches crdt takes.
func (o *Outbox) put(ctx context.Context, entries []crdt.OutboxEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), maxEntries)
		if err := o.cfg.Store.PutOutbox(ctx, entries[:n]); err != nil {
			return fmt.Errorf("record outbox results: %w", err)
		}
		entries = entries[n:]
	}
	return nil
}

// record reads an item's record; nil if there is none.
func (o *Outbox) record(ctx context.Context, name, kind, id string) (*Record, error) {
	b, err := o.cfg.Store.OutboxGet(ctx, name, kind, id)
	if errors.Is(err, crdt.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox %s %s: %w", name, kind, err)
	}
	r, err := decodeRecord(b)
	if err != nil {
		// A record a peer wrote that this till cannot read (damaged, or a
		// newer version's): treat the item as unsent. Sending it again is
		// safe (the idempotency key); holding the connector up is not.
		o.log.Warn("unreadable outbox record; the item is sent again", "connector", name, "kind", kind, "id", id, "err", err)
		return nil, nil
	}
	return r, nil
}

// decodeRecord reads a Record a till of the store wrote.
func decodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("outbox record: %w", err)
	}
	switch r.State {
	case Sent, Rejected, Retry:
	default:
		return nil, fmt.Errorf("outbox record: unknown state %q", r.State)
	}
	return &r, nil
}

// loadCursor merges the store's cursor into this till's.
func (o *Outbox) loadCursor(ctx context.Context, k *conn) error {
	v, err := o.storedCursor(ctx, k.c.Name())
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for t, s := range v {
		if s > k.cursor[t] {
			k.cursor[t] = s
		}
	}
	return nil
}

func (o *Outbox) storedCursor(ctx context.Context, name string) (ledger.Vector, error) {
	b, err := o.cfg.Store.OutboxGet(ctx, name, kindCursor, cursorID)
	if errors.Is(err, crdt.ErrNotFound) {
		return ledger.Vector{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read outbox cursor %s: %w", name, err)
	}
	v, err := decodeCursor(b)
	if err != nil {
		// Start from the ledger's beginning: every item already sent has
		// its record, so this costs reads, not repeated requests.
		o.log.Warn("unreadable outbox cursor; counting from the start", "connector", name, "err", err)
		return ledger.Vector{}, nil
	}
	return v, nil
}

// decodeCursor reads a cursor a till of the store wrote.
func decodeCursor(b []byte) (ledger.Vector, error) {
	var m map[string]uint64
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("outbox cursor: %w", err)
	}
	v := ledger.Vector{}
	for t, s := range m {
		id, err := ledger.ParseTillID(t)
		if err != nil {
			return nil, fmt.Errorf("outbox cursor: %w", err)
		}
		v[id] = s
	}
	return v, nil
}

// encodeCursor writes a cursor as the store keeps it: till ID (hex) ->
// seq, JSON.
func encodeCursor(v ledger.Vector) []byte {
	m := make(map[string]uint64, len(v))
	for t, s := range v {
		m[hex.EncodeToString(t[:])] = s
	}
	b, _ := json.Marshal(m)
	return b
}

// advance moves the cursor of each till over the events a round saw that
// need nothing more, and records it after the results it covers.
func (o *Outbox) advance(ctx context.Context, k *conn, tills map[ledger.TillID]*scanned) error {
	k.mu.Lock()
	moved := false
	for till, sc := range tills {
		for _, seq := range sc.seqs {
			if seq != k.cursor[till]+1 {
				break
			}
			if id, want := sc.want[seq]; want {
				if !k.done[id] {
					break
				}
				delete(k.done, id)
			}
			k.cursor[till] = seq
			moved = true
		}
	}
	b := encodeCursor(k.cursor)
	k.mu.Unlock()
	if !moved {
		return nil
	}
	return o.put(ctx, []crdt.OutboxEntry{{Connector: k.c.Name(), Kind: kindCursor, ID: cursorID, Value: b}})
}

// retries returns the dead letters a manager asked to send again.
func (o *Outbox) retries(ctx context.Context, k *conn) ([]pending, error) {
	dead, err := o.cfg.Store.OutboxList(ctx, k.c.Name(), kindDead)
	if err != nil {
		return nil, err
	}
	var out []pending
	for _, b := range dead {
		var r Record
		if json.Unmarshal(b, &r) != nil || r.State != Retry {
			continue
		}
		till, err := ledger.ParseTillID(r.Till)
		if err != nil {
			continue
		}
		var ev *ledger.Event
		if err := o.cfg.Ledger.Range(till, r.Seq, func(e *ledger.Event) bool { ev = e; return false }); err != nil || ev == nil {
			continue // not here yet
		}
		rc := r
		out = append(out, pending{ev: ev, number: o.cfg.Number(till), retry: &rc})
	}
	return out, nil
}

func (o *Outbox) receipt(number uint32, ev *ledger.Event) string {
	switch {
	case o.cfg.ReceiptNo != nil:
		return o.cfg.ReceiptNo(ev)
	case number == 0:
		return fmt.Sprintf("%s-%d", ev.Till.Short(), ev.Seq)
	}
	return fmt.Sprintf("%d-%d", number, ev.Seq)
}
