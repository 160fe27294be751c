package hq

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// The dashboard's chain-wide reports are materialized (docs/
// ARCHITECTURE.md, "The dashboard's chain report: materialized"): the
// last report computed for each query shape (days and products listed)
// is kept encoded (JSON, and gzip: encodedReport) and served at once
// with the time it is known current at (as_of). Each query asks for a refresh in the background: at most one
// computation runs at a time, for every shape together; it first takes
// what other HQ processes wrote to shared storage (syncChain), then
// recomputes only when what the report reads moved since its answer
// (HQ.views and the change cursor), else only moves as_of. A query
// waits only when its shape has no answer yet (the first query, or the
// first after the shape was evicted); queries that come during a
// computation share it. So after uploads stop, the report asked for is
// exact once one computation that started after them ends.
//
// A chain report costs 60-90 ms of CPU at 300 stores (merging every
// store's day and till reports, encoding ~1 MB of JSON); while relays
// upload, HQ gets a fraction of a core, so computing it per query took
// seconds at p99. Served from here, a query costs writing the bytes.

// maxChainShapes is how many query shapes keep an answer (the report and
// its ~1 MB of JSON at 300 stores); the one asked for least lately goes
// first.
const maxChainShapes = 8

// chainRefreshTimeout bounds one refresh's storage reads.
const chainRefreshTimeout = 2 * time.Minute

// chainViews is the materialized chain-wide reports. mu guards shapes,
// every answer's fields, live and stopped; slot admits one computation
// at a time; idle (on mu) is signalled when a refresh ends.
type chainViews struct {
	mu      sync.Mutex
	shapes  map[chainShape]*chainAnswer
	clock   uint64 // ask counter, for eviction
	slot    chan struct{}
	changes uint64 // newest change cursor seen in shared storage
	live    int    // refresh goroutines running
	stopped bool   // StopRefreshes: none starts
	idle    sync.Cond

	computed atomic.Uint64 // reports computed
	checked  atomic.Uint64 // refreshes that found nothing moved
}

// chainShape is a chain-wide query: its days and products listed.
type chainShape struct {
	from, to string
	top      int
}

func (k chainShape) query() Query { return Query{From: k.from, To: k.to, TopN: k.top} }

// chainAnswer is one shape's materialized report.
type chainAnswer struct {
	rep   *Report
	enc   *encodedReport // rep as JSON, without as_of and age_ms
	asOf  time.Time      // every committed event before it is in rep
	ver   chainVersion
	used  uint64
	ready chan struct{} // closed when the first refresh ends
	first bool          // ready closed
	// running: a refresh of this shape is under way; again: a query
	// asked during it, so it runs once more.
	running, again bool
}

// chainVersion is what a chain report reads, as counters that only grow:
// the folds published, stores, certificates and names (HQ.views) and
// the catalog (its newest change cursor: cost prices).
type chainVersion struct {
	views, changes uint64
}

// ServedReport is a chain-wide report as the dashboard is served it:
// Report holds every event committed before AsOf (at this process, or
// in the rollups of storage shared with other HQ processes). Report is
// shared: do not change it.
type ServedReport struct {
	Report *Report
	AsOf   time.Time
	enc    *encodedReport
}

// ChainStats counts the chain report's work: reports computed,
// refreshes that found nothing moved since the answer they had, the
// shapes kept and those with a refresh under way now.
type ChainStats struct {
	Computed, Unchanged uint64
	Shapes, Refreshing  int
}

// ChainStats returns the chain report's counters.
func (h *HQ) ChainStats() ChainStats {
	c := &h.chain
	s := ChainStats{Computed: c.computed.Load(), Unchanged: c.checked.Load()}
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Shapes = len(c.shapes)
	for _, a := range c.shapes {
		if a.running {
			s.Refreshing++
		}
	}
	return s
}

// ChainReport returns the materialized report of every store for q's
// days and products (q.Store must be nil: one store's report is cheap
// and computed per query by Report). It returns at once with the last
// answer and starts a refresh, or waits for the first answer of the
// shape until ctx ends.
func (h *HQ) ChainReport(ctx context.Context, q Query) (ServedReport, error) {
	if q.Store != nil {
		return ServedReport{}, fmt.Errorf("%w: a chain report covers every store", ErrInvalid)
	}
	if q.TopN <= 0 {
		q.TopN = 20
	}
	k := chainShape{from: q.From, to: q.To, top: q.TopN}
	c := &h.chain
	c.mu.Lock()
	a := c.shapes[k]
	if a == nil {
		if len(c.shapes) >= maxChainShapes {
			c.evict()
		}
		a = &chainAnswer{ready: make(chan struct{})}
		c.shapes[k] = a
	}
	c.clock++
	a.used = c.clock
	switch {
	case c.stopped:
	case a.running:
		a.again = true
	default:
		a.running = true
		c.live++
		go h.refreshChain(k, a)
	}
	if a.enc != nil {
		out := ServedReport{Report: a.rep, AsOf: a.asOf, enc: a.enc}
		if h.exclusive() && h.views.Load() == a.ver.views {
			// Nothing moved since it was computed, and no other
			// process writes: it is current now.
			out.AsOf = h.cfg.Now()
		}
		c.mu.Unlock()
		return out, nil
	}
	if c.stopped && !a.running {
		c.mu.Unlock()
		return ServedReport{}, errors.New("hq: stopping: chain report not computed")
	}
	c.mu.Unlock()
	select {
	case <-a.ready:
	case <-ctx.Done():
		return ServedReport{}, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.enc == nil {
		return ServedReport{}, errors.New("hq: chain report not computed (see the log)")
	}
	return ServedReport{Report: a.rep, AsOf: a.asOf, enc: a.enc}, nil
}

// StopRefreshes stops the chain report's background refreshes: none
// starts after it, and it returns once those under way have ended, so
// that storage can be closed under none (Run calls it when it stops).
// Queries after it are served the answers kept.
func (h *HQ) StopRefreshes() {
	c := &h.chain
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for c.live > 0 {
		c.idle.Wait()
	}
}

// evict drops the shape asked for least lately. The caller holds c.mu.
func (c *chainViews) evict() {
	var old chainShape
	var oldest *chainAnswer
	for k, a := range c.shapes {
		if oldest == nil || a.used < oldest.used {
			old, oldest = k, a
		}
	}
	delete(c.shapes, old)
}

// refreshChain refreshes a shape's answer, and once more after each
// refresh during which it was asked for again, one computation at a
// time over every shape.
func (h *HQ) refreshChain(k chainShape, a *chainAnswer) {
	ctx, cancel := context.WithTimeout(context.Background(), chainRefreshTimeout)
	defer cancel()
	c := &h.chain
	for {
		c.slot <- struct{}{}
		h.refreshAnswer(ctx, k, a)
		<-c.slot
		c.mu.Lock()
		if !a.first {
			a.first = true
			close(a.ready)
		}
		if a.again {
			a.again = false
			c.mu.Unlock()
			continue
		}
		a.running = false
		c.live--
		c.idle.Broadcast()
		c.mu.Unlock()
		return
	}
}

// refreshAnswer recomputes a shape's report when what it reads moved
// since its answer, else marks the answer current now. The caller holds
// the slot.
func (h *HQ) refreshAnswer(ctx context.Context, k chainShape, a *chainAnswer) {
	c := &h.chain
	start := h.cfg.Now()
	if !h.exclusive() {
		h.syncChain(ctx)
	}
	ver := h.chainVersion(ctx)
	c.mu.Lock()
	if a.enc != nil && a.ver == ver {
		a.asOf = start
		c.mu.Unlock()
		c.checked.Add(1)
		return
	}
	c.mu.Unlock()
	rep := h.Report(k.query())
	enc, err := encodeReport(rep, true)
	if err != nil {
		h.log.Error("encode the chain report", "err", err)
		return
	}
	c.computed.Add(1)
	c.mu.Lock()
	a.rep, a.enc, a.asOf, a.ver = &rep, enc, start, ver
	c.mu.Unlock()
}

// chainVersion reads what a chain report depends on.
func (h *HQ) chainVersion(ctx context.Context) chainVersion {
	v := chainVersion{views: h.views.Load()}
	if h.exclusive() {
		return v // this process made every change (addChange moves views)
	}
	c := &h.chain
	c.mu.Lock()
	after := c.changes
	c.mu.Unlock()
	for {
		chs, err := h.st.AllChanges(ctx, after, 1000)
		if err != nil {
			h.log.Warn("read catalog changes for the chain report", "err", err)
			break
		}
		if len(chs) == 0 {
			break
		}
		after = chs[len(chs)-1].Cursor
	}
	c.mu.Lock()
	c.changes = max(c.changes, after)
	v.changes = c.changes
	c.mu.Unlock()
	return v
}

// RollupGenLister is storage that lists every store with its rollup's
// generation in one read (0: none written), so that an HQ process can
// tell which stores other processes wrote (PostgreSQL).
type RollupGenLister interface {
	RollupGens(ctx context.Context) (map[ledger.StoreID]uint64, error)
}

// Exclusive is storage that one process alone opens (Badger holds a lock
// on its directory): no other HQ process writes to it, so what this
// process holds in memory is what is stored. Storage that does not say
// so is taken as shared.
type Exclusive interface {
	Exclusive() bool
}

// exclusive reports whether no other HQ process writes to the storage.
func (h *HQ) exclusive() bool {
	e, ok := h.st.(Exclusive)
	return ok && e.Exclusive()
}

// syncChain takes what other HQ processes wrote to shared storage: a
// till revoked there is revoked here (its refused events leave the
// folds), a store registered there is loaded, and a store whose rollup another
// process wrote has its folds restored from it (and published). A store
// an upload of this process holds is skipped: the upload takes the
// other process's rollup itself before it folds, or when its write is
// refused, and publishes.
func (h *HQ) syncChain(ctx context.Context) {
	h.syncChainRevocations(ctx)
	var gens map[ledger.StoreID]uint64
	if l, ok := h.st.(RollupGenLister); ok {
		var err error
		if gens, err = l.RollupGens(ctx); err != nil {
			h.log.Warn("read rollup generations for the chain report", "err", err)
			return
		}
	} else { // a read per store
		recs, err := h.st.Stores(ctx)
		if err != nil {
			h.log.Warn("read stores for the chain report", "err", err)
			return
		}
		gens = map[ledger.StoreID]uint64{}
		for _, rec := range recs {
			gen, err := h.st.RollupGen(ctx, rec.ID)
			if err != nil {
				h.log.Warn("read rollup generation for the chain report", "store", rec.ID, "err", err)
				return
			}
			gens[rec.ID] = gen
		}
	}
	for id, gen := range gens {
		s := h.store(id)
		if s == nil {
			h.adoptStore(ctx, id) // scaleout.go
			continue
		}
		if !s.mu.TryLock() {
			continue
		}
		if len(s.revoked) > 0 {
			if err := h.foldStored(ctx, s); err != nil { // revoke.go: no rollup is written
				h.log.Warn("fold events another HQ process stored", "store", id, "err", err)
			}
		} else if gen != s.gen {
			h.unfold(ctx, s) // rollup.go: restores, publishes
		}
		s.mu.Unlock()
	}
}

// encodedReport is a report as JSON without its closing brace, so that
// as_of and age_ms can be added when it is served; with gz, also that
// part compressed once (gzip, an ~1 MB answer is ~10 times smaller):
// a gzip header and deflate blocks ending at a byte boundary (a sync
// flush, not final), its CRC-32 and length. Serving it adds a final
// stored block with the tail and the gzip trailer, so the answer is one
// ordinary gzip member and the compression is not redone per query.
type encodedReport struct {
	json []byte
	gz   []byte
	crc  uint32
}

func encodeReport(rep Report, gz bool) (*encodedReport, error) {
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	e := &encodedReport{json: body[:len(body)-1]} // an object: ends in '}'
	if !gz {
		return e, nil
	}
	var buf bytes.Buffer
	buf.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}) // gzip, deflate, no name or time, OS unknown
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(e.json); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil { // not Close: the final block comes when served
		return nil, err
	}
	e.gz, e.crc = buf.Bytes(), crc32.ChecksumIEEE(e.json)
	return e, nil
}

// writeReport answers a report: its JSON with as_of (Unix ms) and age_ms
// (how long before now that was) added, gzip-compressed when it was
// compressed and the client accepts gzip.
func writeReport(w http.ResponseWriter, r *http.Request, e *encodedReport, asOf, now time.Time) {
	tail := make([]byte, 0, 64)
	if len(e.json) > 1 {
		tail = append(tail, ',')
	}
	tail = append(tail, `"as_of":`...)
	tail = strconv.AppendInt(tail, asOf.UnixMilli(), 10)
	tail = append(tail, `,"age_ms":`...)
	tail = strconv.AppendInt(tail, max(0, now.Sub(asOf).Milliseconds()), 10)
	tail = append(tail, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Add("Vary", "Accept-Encoding")
	if e.gz == nil || !acceptsGzip(r) {
		w.WriteHeader(http.StatusOK)
		w.Write(e.json)
		w.Write(tail)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	n := len(tail)
	end := make([]byte, 0, 5+n+8)
	end = append(end, 1, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8)) // final stored block
	end = append(end, tail...)
	end = binary.LittleEndian.AppendUint32(end, crc32.Update(e.crc, crc32.IEEETable, tail))
	end = binary.LittleEndian.AppendUint32(end, uint32(len(e.json)+n))
	w.Write(e.gz)
	w.Write(end)
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (named, with a weight above zero if any).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// syncChainRevocations takes the revocations every other HQ process
// added (one read). A store with one it has not taken is locked, waiting
// for an upload that holds it, so a revocation added before a refresh
// starts is in its report; the others are not.
func (h *HQ) syncChainRevocations(ctx context.Context) {
	cs, err := h.storedRevocations(ctx, nil)
	if err != nil {
		h.log.Warn("read revocations for the chain report", "err", err)
		return
	}
	byStore := map[ledger.StoreID][]hqapi.Change{}
	for _, c := range cs {
		if c.Store != nil {
			byStore[*c.Store] = append(byStore[*c.Store], c)
		}
	}
	for id, cs := range byStore {
		s := h.store(id)
		if s == nil {
			continue // adoptStore takes them
		}
		if s.revTaken.Load() == int64(len(cs)) {
			continue // every one taken (revocations are never removed)
		}
		s.mu.Lock()
		h.takeRevocations(ctx, s, cs)
		s.revTaken.Store(int64(len(cs)))
		s.mu.Unlock()
	}
}
