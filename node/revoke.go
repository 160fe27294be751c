package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
)

// RevocationFileName is the file RevokeTill writes into the store
// directory for till number n: fmt.Sprintf(RevocationFileName, n).
const RevocationFileName = "revoke-till-%d.json"

// ErrUnknownTill: a revocation names a till number the store never
// enrolled, or a till this till has no certificate of.
var ErrUnknownTill = errors.New("node: unknown till")

// RevokeTill withdraws the certificate of till number in the store in
// dir: it signs a revocation with the store CA and writes it to
// revoke-till-<number>.json in dir, for a manager to upload on any till
// (it then spreads through the mesh) and at HQ. Events the till signed up
// to afterSeq stay valid; later ones are refused. A number the store never
// enrolled is an error and nothing is written.
func RevokeTill(dir string, number uint32, afterSeq uint64, reason string, now time.Time) (*ledger.Revocation, string, error) {
	store, err := pki.LoadStoreFile(filepath.Join(dir, pki.StoreFileName))
	if err != nil {
		return nil, "", err
	}
	var reg []pki.Enrolled
	b, err := os.ReadFile(filepath.Join(dir, pki.EnrolledFileName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("store revoke: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(b, &reg); err != nil {
			return nil, "", fmt.Errorf("store revoke: %s: %w", pki.EnrolledFileName, err)
		}
	}
	var till *pki.Enrolled
	for i := range reg {
		if reg[i].Number == number {
			till = &reg[i]
		}
	}
	if till == nil {
		known := make([]uint32, 0, len(reg))
		for _, e := range reg {
			known = append(known, e.Number)
		}
		return nil, "", fmt.Errorf("store revoke: %w: number %d was never enrolled in store %q (enrolled: %v)", ErrUnknownTill, number, store.Name, known)
	}
	ca, err := pki.LoadKey(filepath.Join(dir, pki.CAKeyFileName))
	if err != nil {
		return nil, "", fmt.Errorf("store revoke: the store CA key: %w", err)
	}
	r := &ledger.Revocation{Store: store.ID, Till: till.Till, Number: number, AfterSeq: afterSeq, Reason: reason, Issued: now.UnixMilli()}
	if err := r.Sign(ca); err != nil {
		return nil, "", err
	}
	if err := r.Verify(store.CA, store.ID); err != nil {
		return nil, "", fmt.Errorf("store revoke: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf(RevocationFileName, number))
	if err := pki.WriteJSON(path, r); err != nil {
		return nil, "", fmt.Errorf("store revoke: %w", err)
	}
	return r, path, nil
}

// ParseRevocationFile reads a revocation as RevokeTill writes it (JSON);
// it does not verify it.
func ParseRevocationFile(b []byte) (*ledger.Revocation, error) {
	if len(b) > 16<<10 {
		return nil, fmt.Errorf("%w: a revocation file of %d bytes", ledger.ErrBadRevocation, len(b))
	}
	var r ledger.Revocation
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: not a revocation file: %v", ledger.ErrBadRevocation, err)
	}
	return &r, nil
}

// revocations is a till's verified view of the store's revocation list,
// kept current from the CRDT. Entries whose CA signature does not verify
// are ignored: only the store CA may revoke a till.
//
// Each verified revocation of another till is put into effect in the
// ledger (ledgerdb.DB.Refuse): the till's events above AfterSeq leave the
// folds, and its stock counters are read from the ledger instead of the
// CRDT (storeStock). See docs/ARCHITECTURE.md, "Revoking a till".
type revocations struct {
	once    sync.Once
	mu      sync.Mutex
	after   map[ledger.TillID]*ledger.Revocation
	refused map[ledger.TillID]int // events held aside as refused, per till
	ignored map[string]bool       // unverifiable entries, logged once
}

// watchRevocations loads the list and follows the CRDT from then on. New
// calls it once the inventory is open, before the till syncs with anyone.
// The goroutine ends when the inventory closes its subscriptions.
func (t *Till) watchRevocations() {
	t.revs.once.Do(func() {
		changes, _ := t.inv.Subscribe(64)
		t.reloadRevocations()
		go func() {
			for c := range changes {
				if c.Kind == crdt.ChangeRevocation || c.Kind == crdt.ChangeOverflow {
					t.reloadRevocations()
				}
			}
		}()
	})
}

func (t *Till) reloadRevocations() {
	list, err := t.inv.Revocations(context.Background())
	if err != nil && !errors.Is(err, crdt.ErrCorrupt) {
		t.log.Warn("read revocations", "err", err)
		return
	}
	next := map[ledger.TillID]*ledger.Revocation{}
	var bad []string
	for id, entry := range list {
		r, err := t.verifyEntry(id, entry)
		if err != nil {
			bad = append(bad, id)
			t.revs.mu.Lock()
			logged := t.revs.ignored[id]
			if t.revs.ignored == nil {
				t.revs.ignored = map[string]bool{}
			}
			t.revs.ignored[id] = true
			t.revs.mu.Unlock()
			if !logged {
				t.log.Warn("ignored a revocation that the store CA did not sign", "id", id, "err", err)
			}
			continue
		}
		next[r.Till] = r
	}
	// The list is in effect for sync and the gater before the ledger is
	// purged, so no event above AfterSeq slips in between; the ledger
	// drops any that were already on their way (Insert).
	t.revs.mu.Lock()
	t.revs.after = next
	t.revs.mu.Unlock()
	refused := map[ledger.TillID]int{}
	for id, r := range next {
		if id == t.id {
			continue // our own chain stays whole: a seq freed could be signed twice
		}
		moved, err := t.db.Refuse(id, r.AfterSeq)
		if err != nil {
			t.log.Error("put a revocation into effect in the ledger", "till", r.Number, "err", err)
			continue
		}
		if moved > 0 {
			t.log.Warn("events of a revoked till refused", "till", r.Number, "after_seq", r.AfterSeq, "events", moved)
		}
		if refused[id], err = t.db.Refused(id); err != nil {
			t.log.Warn("count refused events", "till", r.Number, "err", err)
		}
	}
	t.revs.mu.Lock()
	t.revs.refused = refused
	t.revs.mu.Unlock()
}

func (t *Till) verifyEntry(id string, e crdt.Revocation) (*ledger.Revocation, error) {
	if len(e.Signed) == 0 {
		return nil, errors.New("no signature")
	}
	r, err := ledger.DecodeRevocation(e.Signed)
	if err != nil {
		return nil, err
	}
	if err := r.Verify(t.cfg.Store.CA, t.cfg.Store.ID); err != nil {
		return nil, err
	}
	if r.Till.String() != id {
		return nil, fmt.Errorf("signed for till %s, stored under %s", r.Till.Short(), id)
	}
	return r, nil
}

// revocationOf returns the verified revocation of a till, or nil. Before
// New has opened the inventory nothing is loaded and it returns nil.
func (t *Till) revocationOf(id ledger.TillID) *ledger.Revocation {
	t.revs.mu.Lock()
	defer t.revs.mu.Unlock()
	return t.revs.after[id]
}

// revokedAfter tells ledger sync which events of a revoked till to refuse:
// those above the revocation's AfterSeq.
func (t *Till) revokedAfter(id ledger.TillID) (uint64, bool) {
	if r := t.revocationOf(id); r != nil {
		return r.AfterSeq, true
	}
	return 0, false
}

// UploadRevocation checks a revocation file (as `tillmesh store revoke`
// writes it) and adds it to the store's revocation list, from where it
// spreads to every till. A revocation of another store, one the store CA
// did not sign, or one of a till this till knows nothing of is refused
// and changes nothing.
func (t *Till) UploadRevocation(ctx context.Context, file []byte) (ui.Revocation, error) {
	r, err := ParseRevocationFile(file)
	if err != nil {
		return ui.Revocation{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	if err := r.Verify(t.cfg.Store.CA, t.cfg.Store.ID); err != nil {
		return ui.Revocation{}, fmt.Errorf("%w: %v", ui.ErrBadRequest, err)
	}
	if !t.enrolled(r.Till) {
		return ui.Revocation{}, fmt.Errorf("%w: %w: till number %d (%s) has no certificate this till has seen", ui.ErrBadRequest, ErrUnknownTill, r.Number, r.Till.Short())
	}
	if n := t.number(r.Till); n != r.Number {
		return ui.Revocation{}, fmt.Errorf("%w: the revocation names till number %d, but till %s is number %d", ui.ErrBadRequest, r.Number, r.Till.Short(), n)
	}
	if r.Till == t.id {
		t.log.Warn("this till's own certificate is being revoked")
	}
	signed, err := r.Encode()
	if err != nil {
		return ui.Revocation{}, err
	}
	e := crdt.Revocation{ID: r.Till.String(), Reason: r.Reason, At: r.Issued, AfterSeq: r.AfterSeq, Signed: signed}
	if err := t.inv.Revoke(ctx, e); err != nil {
		return ui.Revocation{}, fmt.Errorf("store the revocation: %w", err)
	}
	t.reloadRevocations()
	t.log.Warn("till revoked", "till", r.Till.Short(), "number", r.Number, "after_seq", r.AfterSeq, "reason", r.Reason)
	return t.revocationView(r), nil
}

func (t *Till) revocationView(r *ledger.Revocation) ui.Revocation {
	return ui.Revocation{Till: r.Till.String(), Number: r.Number, Name: t.tillName(r.Till.String()), AfterSeq: r.AfterSeq,
		Reason: r.Reason, Issued: time.UnixMilli(r.Issued).UTC()}
}

// Revocations lists the store's verified revocations, by till number.
func (t *Till) Revocations(context.Context) ([]ui.Revocation, error) {
	t.revs.mu.Lock()
	rs := make([]*ledger.Revocation, 0, len(t.revs.after))
	for _, r := range t.revs.after {
		rs = append(rs, r)
	}
	t.revs.mu.Unlock()
	sort.Slice(rs, func(i, j int) bool { return rs[i].Number < rs[j].Number })
	out := make([]ui.Revocation, 0, len(rs))
	for _, r := range rs {
		out = append(out, t.revocationView(r))
	}
	return out, nil
}

// revocationProblems are the status page's lines about revoked tills,
// with the evidence: how many of the till's events this till held above
// AfterSeq and took out of its reports and stock.
func (t *Till) revocationProblems() []ui.Note {
	rs, _ := t.Revocations(context.Background())
	t.revs.mu.Lock()
	refused := t.revs.refused
	t.revs.mu.Unlock()
	out := make([]ui.Note, 0, len(rs))
	for _, r := range rs {
		who, self := fmt.Sprintf("till %d", r.Number), r.Till == t.id.String()
		n := ui.Note{Key: ui.NoteRevokedTill, Args: map[string]any{"number": r.Number, "seq": r.AfterSeq}}
		if self {
			who, n.Key = "this till", ui.NoteRevokedSelf
		}
		n.Text = fmt.Sprintf("%s is revoked: its events after seq %d are refused", who, r.AfterSeq)
		if id, err := ledger.ParseTillID(r.Till); err == nil && refused[id] > 0 {
			n.Text += fmt.Sprintf(" (till %d: %d events after seq %d refused by revocation)", r.Number, refused[id], r.AfterSeq)
			n.Args["refused"] = refused[id]
			n.Key = ui.NoteRevokedRefused
			if self {
				n.Key = ui.NoteRevokedSelfRef
			}
		}
		out = append(out, n)
	}
	return out
}

// RefusedByRevocation returns how many of a till's events this till held
// above its revocation's AfterSeq and took out of its ledger's folds.
func (t *Till) RefusedByRevocation(id ledger.TillID) int {
	t.revs.mu.Lock()
	defer t.revs.mu.Unlock()
	return t.revs.refused[id]
}

// storeStock is the store's stock of sku as every screen shows it: the
// CRDT counters, except that a revoked till's slots are replaced by the
// fold of its events this till holds, which stop at the revocation's
// AfterSeq. A slot is one till's cumulative total, written only by that
// till, so no other till can take part of it back out; the fold is the
// same on every till that holds the same events, and replacing (rather
// than subtracting) cannot count a correction twice.
func (t *Till) storeStock(ctx context.Context, sku string) (int64, map[string]int64, error) {
	total, slots, err := t.inv.Stock(ctx, sku)
	if errors.Is(err, crdt.ErrNotFound) {
		total, slots, err = 0, map[string]int64{}, nil
	}
	if err != nil {
		return total, slots, err
	}
	t.revs.mu.Lock()
	revoked := make([]ledger.TillID, 0, len(t.revs.after))
	for id := range t.revs.after {
		if id != t.id {
			revoked = append(revoked, id)
		}
	}
	t.revs.mu.Unlock()
	if len(revoked) == 0 {
		return total, slots, nil
	}
	t.db.View(func(s *ledger.State) {
		held := s.Fold().Stock(sku)
		for _, id := range revoked {
			k := id.String()
			q, inFold := held[id]
			_, inSlots := slots[k]
			if !inFold && !inSlots {
				continue
			}
			total += q - slots[k]
			slots[k] = q
		}
	})
	return total, slots, nil
}
