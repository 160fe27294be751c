package hq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// Revoke takes a revocation file (as `tillmesh store revoke` writes it),
// checks it against the store's CA and the till's certificate, and keeps
// it: HQ then refuses the till's requests and its events after AfterSeq.
// It is also a downlink change, so the store's relay brings it to the
// tills. A revocation of another store, one the store CA did not sign, or
// one of a till HQ holds no certificate of is refused and changes nothing.
func (h *HQ) Revoke(ctx context.Context, store ledger.StoreID, file []byte, by string) (*ledger.Revocation, error) {
	s := h.store(store)
	if s == nil {
		return nil, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	var r ledger.Revocation
	if len(file) > 16<<10 {
		return nil, fmt.Errorf("%w: a revocation file of %d bytes", ErrInvalid, len(file))
	}
	if err := json.Unmarshal(file, &r); err != nil {
		return nil, fmt.Errorf("%w: not a revocation file: %v", ErrInvalid, err)
	}
	s.mu.Lock()
	ca := s.rec.CA
	if s.certs[r.Till] == nil && !h.exclusive() {
		h.adoptCerts(ctx, s) // scaleout.go: verified by another HQ process?
	}
	cert := s.certs[r.Till]
	s.mu.Unlock()
	if err := r.Verify(ca, store); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if cert == nil {
		return nil, fmt.Errorf("%w: till number %d (%s) has no certificate at HQ", ErrInvalid, r.Number, r.Till.Short())
	}
	if cert.Number != r.Number {
		return nil, fmt.Errorf("%w: the revocation names till number %d, but till %s is number %d", ErrInvalid, r.Number, r.Till.Short(), cert.Number)
	}
	enc, err := r.Encode()
	if err != nil {
		return nil, err
	}
	c, err := h.addChange(ctx, hqapi.Change{Store: &store, Kind: hqapi.KindRevocation, Revocation: enc, By: by})
	if err != nil {
		return nil, err
	}
	h.learnRevocation(ctx, c)
	h.log.Warn("till revoked", "store", store, "till", r.Till.Short(), "number", r.Number, "after_seq", r.AfterSeq, "by", by)
	return &r, nil
}

// learnRevocation applies a revocation change (at start, and when added).
// Changes were verified when they were added; they are verified again.
// Events of the till above AfterSeq that HQ already stored stay stored, as
// evidence, but leave the store's reports and stock: the folds are
// rebuilt without them (refold).
func (h *HQ) learnRevocation(ctx context.Context, c hqapi.Change) {
	if c.Kind != hqapi.KindRevocation || c.Store == nil {
		return
	}
	s := h.store(*c.Store)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h.takeRevocations(ctx, s, []hqapi.Change{c})
	s.revTaken.Add(1)
}

// takeRevocations applies the store's revocation changes cs (in cursor
// order: a later one of a till replaces an earlier) that s does not hold
// yet, and refolds once when a revoked till has events above its
// revocation counted. A change that does not decode or verify is logged
// and left out. It is cheap when s holds them all. The caller holds s.mu.
func (h *HQ) takeRevocations(ctx context.Context, s *storeState, cs []hqapi.Change) {
	want := map[ledger.TillID]*ledger.Revocation{}
	for _, c := range cs {
		if c.Kind != hqapi.KindRevocation || c.Store == nil || *c.Store != s.rec.ID {
			continue
		}
		r, err := ledger.DecodeRevocation(c.Revocation)
		if err != nil {
			h.log.Warn("stored revocation does not decode", "store", c.Store, "err", err)
			continue
		}
		if err := r.Verify(s.rec.CA, s.rec.ID); err != nil {
			h.log.Warn("stored revocation does not verify", "store", c.Store, "err", err)
			continue
		}
		want[r.Till] = r
	}
	var took []*ledger.Revocation
	for t, r := range want {
		if after, ok := s.revoked[t]; ok && after == r.AfterSeq {
			continue
		}
		if s.revoked == nil {
			s.revoked = map[ledger.TillID]uint64{}
		}
		s.revoked[t] = r.AfterSeq
		took = append(took, r)
	}
	if len(took) == 0 {
		return
	}
	if !h.exclusive() {
		h.refreshHeads(ctx, s) // another HQ process may have stored the till's events above it
	}
	above := false
	for _, r := range took {
		above = above || s.heads[r.Till].Seq > r.AfterSeq
	}
	if !above {
		return // nothing above them is counted
	}
	if err := h.refold(ctx, s); err != nil {
		h.log.Error("take a revoked till's refused events out of the reports", "store", s.rec.ID, "err", err)
		return
	}
	for _, r := range took {
		h.log.Warn("events of a revoked till refused", "store", s.rec.ID, "till", r.Number, "after_seq", r.AfterSeq, "events", s.refused[r.Till])
	}
}

// RevocationReader is storage that reads revocation changes in one
// indexed read: of one store, or of every store when store is nil, in
// cursor order (PostgreSQL). Shared storage without it has them read
// from the change log.
type RevocationReader interface {
	Revocations(ctx context.Context, store *ledger.StoreID) ([]hqapi.Change, error)
}

// storedRevocations reads the revocation changes of a store (nil: of
// every store) from storage.
func (h *HQ) storedRevocations(ctx context.Context, store *ledger.StoreID) ([]hqapi.Change, error) {
	if r, ok := h.st.(RevocationReader); ok {
		return r.Revocations(ctx, store)
	}
	var out []hqapi.Change
	var after uint64
	for {
		var cs []hqapi.Change
		var err error
		if store == nil {
			cs, err = h.st.AllChanges(ctx, after, 1000)
		} else {
			cs, err = h.st.Changes(ctx, *store, after, 1000)
		}
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			return out, nil
		}
		for _, c := range cs {
			if c.Kind == hqapi.KindRevocation && c.Store != nil {
				out = append(out, c)
			}
		}
		after = cs[len(cs)-1].Cursor
	}
}

// syncRevocations takes the store's revocations that another HQ process
// on shared storage (PostgreSQL) added: before an upload is sorted out
// and a till's request authenticated, so that no process accepts a
// revoked till's events another revoked, and the folds leave out what
// it refused. Exclusive storage holds only this process's. The caller
// holds s.mu.
func (h *HQ) syncRevocations(ctx context.Context, s *storeState) error {
	if h.exclusive() {
		return nil
	}
	cs, err := h.storedRevocations(ctx, &s.rec.ID)
	if err != nil {
		return fmt.Errorf("%w: %v", errRevocationsUnread, err)
	}
	h.takeRevocations(ctx, s, cs)
	s.revTaken.Store(int64(len(cs)))
	return nil
}

// refold rebuilds a store's report folds from its stored events, leaving
// out those above a revocation, and counts what it left out per till.
// The caller holds s.mu.
func (h *HQ) refold(ctx context.Context, s *storeState) error {
	var gen uint64
	if !h.exclusive() {
		// Read before the events: a rollup another process writes
		// after them has another generation, and the next upload
		// (syncFolds) or chain refresh (syncChain) refolds again.
		var err error
		if gen, err = h.st.RollupGen(ctx, s.rec.ID); err != nil {
			return fmt.Errorf("read rollup generation: %w", err)
		}
	}
	a := h.newAggFor(s.rec)
	refused := map[ledger.TillID]int{}
	look := h.saleLookup(ctx)
	err := h.st.Range(ctx, s.rec.ID, func(raw []byte) error {
		ev, err := ledger.Decode(raw)
		if err != nil {
			return fmt.Errorf("stored event: %w", err)
		}
		if revokedAbove(s, ev) {
			refused[ev.Till]++
			return nil
		}
		a.fold(ev, look) // chain order: each till's events come in seq order
		return nil
	})
	if err != nil {
		return err
	}
	s.agg, s.refused = a, refused
	if !h.exclusive() {
		// These folds are of every stored event, so as current as the
		// stored rollup (not written while a till is revoked, rollupOf).
		s.gen = gen
	}
	h.publish(s) // a new agg: copied whole
	return nil
}

// errRevocationsUnread is storage failing to read the revocations: the
// request is refused for now (503), not as a revoked till's (403).
var errRevocationsUnread = errors.New("hq: read revocations")

// errRevokedAbove stops reading a revoked till's events at its
// revocation.
var errRevokedAbove = errors.New("above the revocation")

// foldStored folds the events another HQ process on shared storage
// stored in a store with a revoked till, up to each revocation, and
// publishes them. Such a store's rollup is not written (rollupOf), so
// its generation does not tell that events were stored: the heads do.
// The caller holds s.mu.
func (h *HQ) foldStored(ctx context.Context, s *storeState) error {
	heads, err := h.st.Heads(ctx, s.rec.ID)
	if err != nil {
		return fmt.Errorf("read heads: %w", err)
	}
	s.heads = heads
	look := h.saleLookup(ctx)
	before := s.agg.events
	for till, hd := range heads {
		to := hd.Seq
		if after, ok := s.revoked[till]; ok && to > after {
			to = after
			if s.refused == nil {
				s.refused = map[ledger.TillID]int{}
			}
			s.refused[till] = int(hd.Seq - after)
		}
		if s.agg.applied[till] >= to {
			continue
		}
		err := h.st.RangeTill(ctx, s.rec.ID, till, s.agg.applied[till], func(raw []byte) error {
			ev, err := ledger.Decode(raw)
			if err != nil {
				return fmt.Errorf("stored event: %w", err)
			}
			if revokedAbove(s, ev) {
				return errRevokedAbove
			}
			s.agg.fold(ev, look)
			return nil
		})
		if err != nil && !errors.Is(err, errRevokedAbove) {
			return err
		}
	}
	if s.agg.events != before {
		h.publish(s)
	}
	return nil
}

// revokedAfter reports whether till is revoked in s, and up to which seq
// its events stay valid. The caller holds s.mu.
func (s *storeState) revokedAfter(till ledger.TillID) (uint64, bool) {
	after, ok := s.revoked[till]
	return after, ok
}

// revokedAbove reports whether ev is above its till's revocation. The
// caller holds s.mu.
func revokedAbove(s *storeState, ev *ledger.Event) bool {
	after, revoked := s.revokedAfter(ev.Till)
	return revoked && ev.Seq > after
}

// apiRevoke is the dashboard's upload: POST /hq/api/stores/{store}/revocations
// with the revocation file as the body.
func (h *HQ) apiRevoke(w http.ResponseWriter, r *http.Request, s *session) {
	store, err := ledger.ParseStoreID(r.PathValue("store"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, err.Error())
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		writeErr(w, http.StatusBadRequest, hqapi.CodeBadRequest, "read the revocation file: "+err.Error())
		return
	}
	rev, err := h.Revoke(r.Context(), store, b, s.user)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rev)
}
