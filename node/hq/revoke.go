package hq

import (
	"context"
	"encoding/json"
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
	r, err := ledger.DecodeRevocation(c.Revocation)
	if err != nil {
		h.log.Warn("stored revocation does not decode", "store", c.Store, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.Verify(s.rec.CA, s.rec.ID); err != nil {
		h.log.Warn("stored revocation does not verify", "store", c.Store, "err", err)
		return
	}
	if s.revoked == nil {
		s.revoked = map[ledger.TillID]uint64{}
	}
	s.revoked[r.Till] = r.AfterSeq
	if s.heads[r.Till].Seq <= r.AfterSeq {
		return // nothing above it is counted
	}
	if err := h.refold(ctx, s); err != nil {
		h.log.Error("take a revoked till's refused events out of the reports", "store", c.Store, "till", r.Till.Short(), "err", err)
		return
	}
	h.log.Warn("events of a revoked till refused", "store", c.Store, "till", r.Number, "after_seq", r.AfterSeq, "events", s.refused[r.Till])
}

// refold rebuilds a store's report folds from its stored events, leaving
// out those above a revocation, and counts what it left out per till.
// The caller holds s.mu.
func (h *HQ) refold(ctx context.Context, s *storeState) error {
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
	h.publish(s) // a new agg: copied whole
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
