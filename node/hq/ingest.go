package hq

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
)

// item is one uploaded event with its position in the upload.
type item struct {
	idx int
	ev  *ledger.Event
}

// Ingest verifies and stores an upload from a store's relay (till). It
// refuses the whole upload with ErrStaleFence if its token is below the
// highest HQ has seen for the store. Otherwise every event is either
// stored (once: EventIDs are unique), counted as a duplicate, or rejected
// with a reason; nothing that fails verification is stored. An event that
// conflicts with a chain HQ holds, and carries its till's valid signature,
// is kept as equivocation evidence and the till is flagged.
//
// Verification: each event's till must hold a certificate of the store
// that verifies under the store CA (sent in the upload or earlier); the
// events that extend a till's chain at HQ are authenticated as a run by
// the newest one's signature and the hash chain down to HQ's head
// (ledger.VerifyRun), or one by one with Config.VerifyEverySignature.
func (h *HQ) Ingest(ctx context.Context, store ledger.StoreID, relay ledger.TillID, u *hqapi.Upload) (hqapi.UploadResult, error) {
	s := h.store(store)
	if s == nil {
		return hqapi.UploadResult{}, fmt.Errorf("%w %s", ErrUnknownStore, store)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := h.cfg.Now().UnixMilli()
	var res hqapi.UploadResult
	high, err := h.st.RaiseFence(ctx, store, u.Fence)
	if errors.Is(err, ErrStaleFence) {
		s.fence.Token = high
		res.Fence, res.Vector = s.fence, s.vector()
		return res, fmt.Errorf("%w: token %d, HQ has seen %d from till %s", ErrStaleFence, u.Fence, high, s.fence.Holder.Short())
	}
	if err != nil {
		return res, fmt.Errorf("fence: %w", err)
	}
	s.fence = hqapi.Fence{Token: high, Holder: relay, At: now}
	s.noteVersions(u.Versions)
	// Another HQ process may have revoked a till (revoke.go), moved the
	// heads and written the rollup (rollup.go). Revocations first: the
	// folds they leave are of every stored event, as current as the
	// rollup.
	if err := h.syncRevocations(ctx, s); err != nil {
		res.Fence, res.Vector = s.fence, s.vector()
		return res, err
	}
	h.syncFolds(ctx, s)

	// Decoding and verifying take a CPU slot (busy); storage does not.
	done, err := h.busy(ctx)
	if err != nil {
		return res, err
	}
	accepted, updates, err := h.sortOut(ctx, s, u, &res)
	done()
	if err != nil {
		return res, err
	}
	if len(accepted) > 0 {
		roll, err := h.commit(ctx, s, accepted, updates)
		if err != nil {
			if errors.Is(err, ErrHeadMoved) {
				// Another HQ process wrote: take its heads and let the
				// relay retry against them.
				if heads, herr := h.st.Heads(ctx, store); herr == nil {
					s.heads = heads
				}
			}
			return res, fmt.Errorf("store %d events: %w", len(accepted), err)
		}
		for _, u := range updates {
			hd := s.heads[u.Till]
			hd.Seq, hd.ID = u.To, u.ID
			if s.heads == nil {
				s.heads = map[ledger.TillID]Head{}
			}
			s.heads[u.Till] = hd
		}
		h.publish(s) // before rolledUp clears the days it copies
		s.rolledUp(roll)
	}
	res.Accepted = len(accepted)
	res.Vector = s.vector()
	res.Fence = s.fence
	sort.Slice(res.Rejected, func(i, j int) bool { return res.Rejected[i].Index < res.Rejected[j].Index })
	h.contact(ctx, s, relay, u.Fence, u.Vector, res.Vector, now)
	if n := len(res.Rejected); n > 0 {
		r := res.Rejected[0]
		h.log.Warn("rejected uploaded events", "store", store, "relay", relay.Short(), "rejected", n,
			"first_till", r.Till.Short(), "first_seq", r.Seq, "reason", r.Reason)
	}
	return res, nil
}

// sortOut learns an upload's certificates and returns its events that
// extend their tills' chains, verified, with the heads they move; the
// others go into res. The caller holds s.mu.
func (h *HQ) sortOut(ctx context.Context, s *storeState, u *hqapi.Upload, res *hqapi.UploadResult) ([]*ledger.Event, []HeadUpdate, error) {
	h.learnCerts(ctx, s, u.Certs, res)
	byTill := groupUploaded(s, s.rec.ID, u.Events, res)
	tills := make([]ledger.TillID, 0, len(byTill))
	for t := range byTill {
		tills = append(tills, t)
	}
	sort.Slice(tills, func(i, j int) bool { return string(tills[i][:]) < string(tills[j][:]) })
	var accepted []*ledger.Event
	var updates []HeadUpdate
	for _, t := range tills {
		evs, err := h.checkTill(ctx, s, t, byTill[t], res)
		if err != nil {
			return nil, nil, err
		}
		if len(evs) > 0 {
			head := s.heads[t]
			last := evs[len(evs)-1]
			updates = append(updates, HeadUpdate{Till: t, From: head.Seq, To: last.Seq, ID: last.ID()})
			accepted = append(accepted, evs...)
		}
	}
	return accepted, updates, nil
}

// commitTries is how many times an upload folds and appends when
// another HQ process writes the store's rollup in between.
const commitTries = 3

// commit folds an upload's accepted events and stores them with the
// store's rollup and heads. The fold comes first, so that the rollup is
// stored with the events (rollup.go): a start after a crash has no
// events to fold. The views read the published copy (snapshot.go): the
// fold takes no lock they wait for. When the append fails the folds are
// restored from storage; when it failed because another HQ process
// wrote the store's rollup meanwhile, the upload is folded again over
// the restored folds and appended again. The caller holds s.mu.
func (h *HQ) commit(ctx context.Context, s *storeState, accepted []*ledger.Event, updates []HeadUpdate) (*Rollup, error) {
	for try := 1; ; try++ {
		done, err := h.busy(ctx) // the fold takes a CPU slot; the append does not
		if err != nil {
			return nil, err
		}
		h.foldAccepted(ctx, s, accepted)
		roll, err := h.rollupOf(s)
		done()
		if err != nil {
			h.log.Warn("rollup not written with the upload; the next start folds its events", "store", s.rec.ID, "err", err)
		}
		err = h.st.Append(ctx, s.rec.ID, accepted, updates, roll)
		if err == nil {
			return roll, nil
		}
		h.unfold(ctx, s)
		if !errors.Is(err, ErrRollupMoved) || try == commitTries {
			return nil, err
		}
	}
}

// learnCerts learns the certificates of an upload; each that does not
// verify goes into res.CertErrors.
func (h *HQ) learnCerts(ctx context.Context, s *storeState, certs [][]byte, res *hqapi.UploadResult) {
	for i, raw := range certs {
		c, err := ledger.DecodeCertificate(raw)
		if err == nil {
			err = h.learnCert(ctx, s, c)
		}
		if err != nil {
			r := hqapi.Rejection{Index: i, Code: hqapi.CodeBadCert, Reason: err.Error()}
			if c != nil {
				r.Till = c.Till
			}
			res.CertErrors = append(res.CertErrors, r)
		}
	}
}

// groupUploaded decodes an upload's events and groups them by till; an
// event that is malformed, of another store, of a till HQ holds no
// certificate of, or above its till's revocation goes into res.Rejected.
func groupUploaded(s *storeState, store ledger.StoreID, events [][]byte, res *hqapi.UploadResult) map[ledger.TillID][]item {
	byTill := map[ledger.TillID][]item{}
	for i, raw := range events {
		ev, err := ledger.Decode(raw)
		switch {
		case err != nil:
			res.Rejected = append(res.Rejected, reject(i, nil, hqapi.CodeMalformed, err))
		case ev.Store != store:
			res.Rejected = append(res.Rejected, reject(i, ev, hqapi.CodeWrongStore,
				fmt.Errorf("%w: event of store %s uploaded to %s", ledger.ErrWrongStore, ev.Store, store)))
		case s.certs[ev.Till] == nil:
			res.Rejected = append(res.Rejected, reject(i, ev, hqapi.CodeUnenrolled,
				fmt.Errorf("%w: till %s has no certificate of store %s at HQ", ErrUnenrolled, ev.Till.Short(), store)))
		case revokedAbove(s, ev):
			res.Rejected = append(res.Rejected, reject(i, ev, hqapi.CodeUnenrolled,
				fmt.Errorf("%w: till %s was revoked after seq %d", ErrUnenrolled, ev.Till.Short(), s.revoked[ev.Till])))
		default:
			byTill[ev.Till] = append(byTill[ev.Till], item{i, ev})
		}
	}
	return byTill
}

func reject(idx int, ev *ledger.Event, code string, err error) hqapi.Rejection {
	r := hqapi.Rejection{Index: idx, Code: code, Reason: err.Error()}
	if ev != nil {
		r.Till, r.Seq, r.ID = ev.Till, ev.Seq, ev.ID()
	}
	return r
}

// codeOf names a verification error.
func codeOf(err error) string {
	switch {
	case errors.Is(err, ledger.ErrBadSignature):
		return hqapi.CodeBadSignature
	case errors.Is(err, ledger.ErrNotCanonical), errors.Is(err, ledger.ErrMalformed):
		return hqapi.CodeMalformed
	case errors.Is(err, ledger.ErrWrongPrev):
		return hqapi.CodeWrongPrev
	case errors.Is(err, ledger.ErrSeqGap):
		return hqapi.CodeSeqGap
	default:
		return hqapi.CodeInvalid
	}
}

// checkTill sorts out one till's uploaded events and returns those that
// extend its chain at HQ, verified, in seq order. Called with s.mu held.
func (h *HQ) checkTill(ctx context.Context, s *storeState, till ledger.TillID, items []item, res *hqapi.UploadResult) ([]*ledger.Event, error) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].ev.Seq < items[j].ev.Seq })
	head := s.heads[till]
	// Events at or below HQ's head: duplicates, or conflicts.
	var old []item
	n := 0
	for n < len(items) && items[n].ev.Seq <= head.Seq {
		old = append(old, items[n])
		n++
	}
	if len(old) > 0 {
		ids, err := h.st.IDs(ctx, s.rec.ID, till, old[0].ev.Seq, head.Seq)
		if err != nil {
			return nil, fmt.Errorf("read stored ids: %w", err)
		}
		for _, it := range old {
			k := int(it.ev.Seq - old[0].ev.Seq)
			if k < len(ids) && ids[k] == it.ev.ID() {
				res.Duplicates++
				continue
			}
			var have ledger.EventID
			if k < len(ids) {
				have = ids[k]
			}
			if err := h.conflict(ctx, s, it, have, "equivocation: another event holds this seq", res); err != nil {
				return nil, err
			}
		}
	}
	// The run that extends the chain: seq head+1, head+2, ...; a second
	// event at one seq is a conflict; anything above a gap waits.
	var run []item
	var dups []item
	next := head.Seq + 1
	for _, it := range items[n:] {
		switch {
		case it.ev.Seq == next:
			run = append(run, it)
			next++
		case it.ev.Seq == next-1 && len(run) > 0:
			dups = append(dups, it)
		default:
			res.Rejected = append(res.Rejected, reject(it.idx, it.ev, hqapi.CodeSeqGap,
				fmt.Errorf("%w: HQ holds till %s up to seq %d; send seq %d first", ledger.ErrSeqGap, till.Short(), next-1, next)))
		}
	}
	good := h.verifyRun(ctx, s, head.ID, run, res)
	for _, it := range dups {
		k := int(it.ev.Seq - head.Seq - 1)
		prev := run[k]
		if prev.ev.ID() == it.ev.ID() {
			res.Duplicates++
			continue
		}
		if k >= len(good) {
			res.Rejected = append(res.Rejected, reject(it.idx, it.ev, hqapi.CodeAfterRejected,
				fmt.Errorf("another event for seq %d in the upload was rejected; send one event per seq", it.ev.Seq)))
			continue
		}
		if err := h.conflict(ctx, s, it, prev.ev.ID(), "equivocation: two events for one seq in the upload", res); err != nil {
			return nil, err
		}
	}
	return good, nil
}

// verifyRun authenticates a run that follows prev and returns its good
// prefix; the rest is rejected. Called with s.mu held.
func (h *HQ) verifyRun(ctx context.Context, s *storeState, prev ledger.EventID, run []item, res *hqapi.UploadResult) []*ledger.Event {
	if len(run) == 0 {
		return nil
	}
	evs := make([]*ledger.Event, len(run))
	for i, it := range run {
		evs[i] = it.ev
	}
	var sigErrs []error
	if h.cfg.VerifyEverySignature {
		sigErrs = verifyAll(evs)
	} else if bad, _ := ledger.VerifyRun(prev, evs); bad < 0 {
		return evs
	}
	verify := func(i int) error {
		if sigErrs != nil {
			return sigErrs[i]
		}
		return evs[i].Verify()
	}
	// Something is wrong (or every signature is wanted): check one by one
	// to find the good prefix and say exactly what is wrong.
	for i, it := range run {
		ev := it.ev
		if ev.Prev != prev {
			err := fmt.Errorf("%w: prev %s is not HQ's head %s: the till forked its chain", ledger.ErrWrongPrev, short(ev.Prev), short(prev))
			if verr := verify(i); verr == nil {
				s.flag(ev.Till)
				h.evidence(ctx, s, ev, prev, err.Error())
				res.Rejected = append(res.Rejected, reject(it.idx, ev, hqapi.CodeWrongPrev, fmt.Errorf("%v; kept as evidence", err)))
			} else {
				res.Rejected = append(res.Rejected, reject(it.idx, ev, codeOf(verr), verr))
			}
			h.rejectRest(run[i+1:], ev, res)
			return evs[:i]
		}
		if err := verify(i); err != nil {
			res.Rejected = append(res.Rejected, reject(it.idx, ev, codeOf(err), err))
			h.rejectRest(run[i+1:], ev, res)
			return evs[:i]
		}
		prev = ev.ID()
	}
	return evs
}

// verifyAll checks every event's own signature (in batches:
// ledger.VerifyAll), on every core. It returns one error per event.
func verifyAll(evs []*ledger.Event) []error {
	errs := make([]error, len(evs))
	n := runtime.GOMAXPROCS(0)
	chunk := (len(evs) + n - 1) / n
	var wg sync.WaitGroup
	for lo := 0; lo < len(evs); lo += chunk {
		hi := min(lo+chunk, len(evs))
		wg.Go(func() {
			if bad := ledger.VerifyAll(evs[lo:hi]); bad != nil {
				copy(errs[lo:hi], bad)
			}
		})
	}
	wg.Wait()
	return errs
}

func (h *HQ) rejectRest(rest []item, after *ledger.Event, res *hqapi.UploadResult) {
	for _, it := range rest {
		res.Rejected = append(res.Rejected, reject(it.idx, it.ev, hqapi.CodeAfterRejected,
			fmt.Errorf("follows rejected seq %d of till %s", after.Seq, after.Till.Short())))
	}
}

// conflict handles a signed event that disagrees with one HQ holds: if
// its own signature verifies the till signed two events for one seq;
// keep it as evidence and flag the till. Called with s.mu held.
func (h *HQ) conflict(ctx context.Context, s *storeState, it item, have ledger.EventID, why string, res *hqapi.UploadResult) error {
	if err := it.ev.Verify(); err != nil {
		res.Rejected = append(res.Rejected, reject(it.idx, it.ev, codeOf(err), err))
		return nil
	}
	err := fmt.Errorf("%w: seq %d signed twice (%s held, %s sent): %s; kept as evidence, till flagged",
		ledger.ErrEquivocation, it.ev.Seq, short(have), short(it.ev.ID()), why)
	s.flag(it.ev.Till)
	h.evidence(ctx, s, it.ev, have, err.Error())
	res.Rejected = append(res.Rejected, reject(it.idx, it.ev, hqapi.CodeEquivocation, err))
	return nil
}

func (s *storeState) flag(t ledger.TillID) {
	hd := s.heads[t]
	hd.Flagged = true
	if s.heads == nil {
		s.heads = map[ledger.TillID]Head{}
	}
	s.heads[t] = hd
}

func (h *HQ) evidence(ctx context.Context, s *storeState, ev *ledger.Event, have ledger.EventID, reason string) {
	e := Evidence{Store: s.rec.ID, Till: ev.Till, Seq: ev.Seq, Have: have, Got: ev.ID(), Reason: reason,
		At: h.cfg.Now().UnixMilli(), Raw: ev.Bytes()}
	if err := h.st.PutEvidence(ctx, e); err != nil {
		h.log.Error("keep equivocation evidence", "store", s.rec.ID, "till", ev.Till.Short(), "seq", ev.Seq, "err", err)
		return
	}
	h.log.Error("till equivocated: evidence kept, till flagged", "store", s.rec.ID, "till", ev.Till.Short(), "seq", ev.Seq)
}

func short(id ledger.EventID) string { return id.String()[:8] }
