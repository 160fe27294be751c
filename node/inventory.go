package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	badger4 "github.com/ipfs/go-ds-badger4"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/ui"
)

// How the inventory store came up.
type invOpen int

const (
	invOpened   invOpen = iota // as it was (perhaps after badgeropen's repairs)
	invSalvaged                // the store did not open; what could be read was copied into a new one
	invRebuilt                 // nothing could be read; a new, empty store
)

// openAttempts is how often a plain open is tried before salvaging.
const openAttempts = 3

// inventoryOpen is what openInventory did, for the log and the status.
type inventoryOpen struct {
	how      invOpen
	err      error  // why the store did not open (invSalvaged, invRebuilt)
	aside    string // where the store that did not open was moved
	salvaged int    // datastore entries copied from it
}

// openInventory opens the till's CRDT datastore in dir. It never throws
// away a store that can be read: it tries a plain open (through
// badgeropen, which repairs what a power cut during an earlier open leaves,
// dgraph-io/badger issue 2207) a few times; if the store still does not
// open it is moved aside, kept, and everything that can be read from it is
// copied into a new store; only if nothing can be read does the till start
// with an empty one. The till then restores catalog, staff, settings and
// certificates from peers or the snapshot in the ledger (planRestore,
// restoreInventory). The till already holds its ledger's lock, so no
// other process has dir open.
func openInventory(ctx context.Context, dir string, now time.Time, log *slog.Logger) (*badger4.Datastore, inventoryOpen, error) {
	var err error
	for attempt := 1; attempt <= openAttempts; attempt++ {
		var d *badger4.Datastore
		if d, err = openDatastore(dir, false, log); err == nil {
			if attempt > 1 {
				log.Warn("inventory store opened on a later attempt", "attempt", attempt)
			}
			return d, inventoryOpen{how: invOpened}, nil
		}
		log.Warn("inventory store did not open", "dir", dir, "attempt", attempt, "err", err)
	}
	res := inventoryOpen{err: err, aside: fmt.Sprintf("%s.broken-%s", dir, now.UTC().Format("20060102T150405.000"))}
	if rerr := os.Rename(dir, res.aside); rerr != nil {
		return nil, res, fmt.Errorf("open inventory store %s: %w (and moving it aside: %v)", dir, err, rerr)
	}
	d, err := openDatastore(dir, false, log)
	if err != nil {
		return nil, res, fmt.Errorf("open new inventory store %s: %w", dir, err)
	}
	n, serr := salvageInventory(ctx, res.aside, d, log)
	switch {
	case serr == nil:
		res.how, res.salvaged = invSalvaged, n
		log.Error("inventory store did not open: salvaged what it held into a new one", "err", res.err, "entries", n, "kept_at", res.aside)
	default:
		res.how = invRebuilt
		log.Error("inventory store did not open and could not be read: starting a new one", "err", res.err, "salvage", serr, "kept_at", res.aside)
	}
	return d, res, nil
}

// openDatastore opens the inventory's datastore in dir through badgeropen;
// salvage opens a store moved aside (see badgeropen.PrepareSalvage).
func openDatastore(dir string, salvage bool, log *slog.Logger) (*badger4.Datastore, error) {
	opts := crdt.BadgerOptions(dir)
	prepare := badgeropen.Prepare
	if salvage {
		prepare = badgeropen.PrepareSalvage
	}
	rep, err := prepare(opts.Options)
	for _, r := range rep {
		log.Warn("inventory: repaired a file a power cut left", "file", r.String())
	}
	if err != nil {
		return nil, err
	}
	d, err := badger4.NewDatastore(dir, opts)
	if err != nil {
		return nil, err
	}
	if err := badgeropen.Sync(dir, dir); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// salvageInventory copies every entry that can be read from the store in
// aside, which did not open, into d. If it still does not open, its
// memtable logs are set aside one at a time, newest first, into
// aside/unreplayed (kept) until it does: they hold the newest writes, the
// local ones synced (the ledger and the snapshot restore what matters of
// them) and merged remote state perhaps not (peers and go-ds-crdt's
// repair restore it).
func salvageInventory(ctx context.Context, aside string, d *badger4.Datastore, log *slog.Logger) (int, error) {
	entries, err := os.ReadDir(aside)
	if err != nil {
		return 0, fmt.Errorf("salvage inventory %s: %w", aside, err)
	}
	var logs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mem") {
			logs = append(logs, e.Name())
		}
	}
	slices.Sort(logs) // fixed-width numbers: newest last
	keep := filepath.Join(aside, "unreplayed")
	old, err := openDatastore(aside, true, log)
	for err != nil && len(logs) > 0 {
		newest := logs[len(logs)-1]
		logs = logs[:len(logs)-1]
		if merr := os.MkdirAll(keep, 0o700); merr != nil {
			return 0, fmt.Errorf("salvage inventory %s: %w", aside, merr)
		}
		if merr := os.Rename(filepath.Join(aside, newest), filepath.Join(keep, newest)); merr != nil {
			return 0, fmt.Errorf("salvage inventory %s: %w", aside, merr)
		}
		log.Warn("inventory salvage: set a memtable log aside", "file", newest, "err", err)
		old, err = openDatastore(aside, true, log)
	}
	if err != nil {
		return 0, fmt.Errorf("salvage inventory %s: %w", aside, err)
	}
	defer old.Close()
	res, err := old.Query(ctx, query.Query{})
	if err != nil {
		return 0, fmt.Errorf("salvage inventory %s: %w", aside, err)
	}
	defer res.Close()
	b, err := d.Batch(ctx)
	if err != nil {
		return 0, fmt.Errorf("salvage inventory: %w", err)
	}
	n, skipped := 0, 0
	for r := range res.Next() {
		if r.Error != nil {
			skipped++ // a value that cannot be read: leave it to peers
			continue
		}
		if err := b.Put(ctx, ds.RawKey(r.Key), r.Value); err != nil {
			return n, fmt.Errorf("salvage inventory: %w", err)
		}
		if n++; n%1000 == 0 {
			if err := b.Commit(ctx); err != nil {
				return n, fmt.Errorf("salvage inventory: %w", err)
			}
			if b, err = d.Batch(ctx); err != nil {
				return n, fmt.Errorf("salvage inventory: %w", err)
			}
		}
	}
	if err := b.Commit(ctx); err != nil {
		return n, fmt.Errorf("salvage inventory: %w", err)
	}
	if err := d.Sync(ctx, ds.NewKey("/")); err != nil {
		return n, fmt.Errorf("salvage inventory: %w", err)
	}
	if skipped > 0 {
		log.Warn("inventory salvage skipped unreadable entries", "skipped", skipped, "copied", n)
	}
	return n, nil
}

// snapshotSet is the inventory snapshot's set in the ledger database.
const snapshotSet = "inventory"

// Record IDs in the snapshot: <kind>/<id>. Products, staff and
// revocations are JSON; settings and certificates their stored bytes.
const (
	snapProduct = "product/"
	snapStaff   = "staff/"
	snapSetting = "setting/"
	snapCert    = "cert/"
	snapRevoked = "revoked/"
	snapMeta    = "meta" // JSON snapshotMeta
)

// snapshotMeta says when the snapshot last changed.
type snapshotMeta struct {
	Taken int64 `json:"taken"` // Unix ms
}

// inventoryRecords reads from the live inventory every record the
// snapshot keeps: everything but stock, which is the fold of the ledger
// anyway. Entries that do not decode are left out (the crdt package
// reports them with ErrCorrupt); any other error fails.
func (t *Till) inventoryRecords(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	tolerate := func(err error) error {
		if err != nil && !errors.Is(err, crdt.ErrCorrupt) {
			return err
		}
		return nil
	}
	add := func(id string, v any) error {
		b, err := json.Marshal(v)
		out[id] = b
		return err
	}
	ps, err := t.inv.Products(ctx)
	if tolerate(err) != nil {
		return nil, err
	}
	for _, p := range ps {
		if err := add(snapProduct+p.SKU, p); err != nil {
			return nil, err
		}
	}
	staff, err := t.inv.StaffList(ctx)
	if tolerate(err) != nil {
		return nil, err
	}
	for _, st := range staff {
		if err := add(snapStaff+st.ID, st); err != nil {
			return nil, err
		}
	}
	settings, err := t.inv.Settings(ctx)
	if err != nil {
		return nil, err
	}
	for name, v := range settings {
		out[snapSetting+name] = v
	}
	certs, err := t.inv.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	for id, c := range certs {
		out[snapCert+id] = c
	}
	rev, err := t.inv.Revocations(ctx)
	if tolerate(err) != nil {
		return nil, err
	}
	for id, r := range rev {
		if err := add(snapRevoked+id, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// countPeople counts products and staff among snapshot records.
func countPeople(recs map[string][]byte) (products, staff int) {
	for id := range recs {
		switch {
		case strings.HasPrefix(id, snapProduct):
			products++
		case strings.HasPrefix(id, snapStaff):
			staff++
		}
	}
	return products, staff
}

// saveSnapshot brings the inventory snapshot in the ledger database in
// step with the inventory, writing only the records that changed. It does
// nothing while start-up still decides whether to restore from the
// snapshot, and it never empties a snapshot holding products or staff
// into one holding neither: that is an inventory being refilled, not a
// store that dropped its whole catalog and let everyone go.
func (t *Till) saveSnapshot(ctx context.Context) error {
	t.snapMu.Lock()
	defer t.snapMu.Unlock()
	if t.snapHold {
		return nil
	}
	cur, err := t.inventoryRecords(ctx)
	if err != nil {
		return fmt.Errorf("inventory snapshot: %w", err)
	}
	if t.snapLast == nil {
		if t.snapLast, err = t.db.Snapshot(snapshotSet); err != nil {
			return err
		}
		delete(t.snapLast, snapMeta)
	}
	if p, st := countPeople(cur); p+st == 0 {
		if p, st := countPeople(t.snapLast); p+st > 0 {
			return nil
		}
	}
	put := map[string][]byte{}
	var del []string
	for id, b := range cur {
		if old, ok := t.snapLast[id]; !ok || string(old) != string(b) {
			put[id] = b
		}
	}
	for id := range t.snapLast {
		if _, ok := cur[id]; !ok {
			del = append(del, id)
		}
	}
	if len(put) == 0 && len(del) == 0 {
		return nil
	}
	meta, _ := json.Marshal(snapshotMeta{Taken: t.cfg.Now().UnixMilli()})
	put[snapMeta] = meta
	if err := t.db.UpdateSnapshot(snapshotSet, put, del); err != nil {
		return err
	}
	delete(put, snapMeta)
	for id, b := range put {
		t.snapLast[id] = b
	}
	for _, id := range del {
		delete(t.snapLast, id)
	}
	return nil
}

// snapshot is the inventory snapshot as read back from the ledger.
type snapshot struct {
	taken        time.Time
	products     []crdt.Product
	staff        []crdt.Staff
	settings     map[string][]byte
	certificates map[string][]byte
	revocations  []crdt.Revocation
	bad          int // records that did not decode, left out
}

func (t *Till) loadSnapshot() (*snapshot, error) {
	recs, err := t.db.Snapshot(snapshotSet)
	if err != nil {
		return nil, err
	}
	s := &snapshot{settings: map[string][]byte{}, certificates: map[string][]byte{}}
	for id, b := range recs {
		var err error
		switch {
		case id == snapMeta:
			var m snapshotMeta
			if err = json.Unmarshal(b, &m); err == nil {
				s.taken = time.UnixMilli(m.Taken)
			}
		case strings.HasPrefix(id, snapProduct):
			var p crdt.Product
			if err = json.Unmarshal(b, &p); err == nil {
				s.products = append(s.products, p)
			}
		case strings.HasPrefix(id, snapStaff):
			var st crdt.Staff
			if err = json.Unmarshal(b, &st); err == nil {
				s.staff = append(s.staff, st)
			}
		case strings.HasPrefix(id, snapSetting):
			s.settings[strings.TrimPrefix(id, snapSetting)] = b
		case strings.HasPrefix(id, snapCert):
			s.certificates[strings.TrimPrefix(id, snapCert)] = b
		case strings.HasPrefix(id, snapRevoked):
			var r crdt.Revocation
			if err = json.Unmarshal(b, &r); err == nil {
				s.revocations = append(s.revocations, r)
			}
		}
		if err != nil {
			s.bad++
			t.log.Warn("inventory snapshot: a record does not decode", "record", id, "err", err)
		}
	}
	return s, nil
}

// reseedInventory writes into the inventory every record of the snapshot
// that the inventory lacks, as new local writes, and reports how many
// products and staff it wrote. Records the inventory holds are left
// alone. The PutX calls validate every record, so a damaged one is
// refused, not spread.
func (t *Till) reseedInventory(ctx context.Context, s *snapshot) (products, staff int, err error) {
	for _, p := range s.products {
		if _, err := t.inv.Product(ctx, p.SKU); !errors.Is(err, crdt.ErrNotFound) {
			continue
		}
		if err := t.inv.PutProduct(ctx, p); err != nil {
			return products, staff, fmt.Errorf("restore product %s: %w", p.SKU, err)
		}
		products++
	}
	for _, st := range s.staff {
		if _, err := t.inv.Staff(ctx, st.ID); !errors.Is(err, crdt.ErrNotFound) {
			continue
		}
		if err := t.inv.PutStaff(ctx, st); err != nil {
			return products, staff, fmt.Errorf("restore staff %s: %w", st.ID, err)
		}
		staff++
	}
	for name, v := range s.settings {
		if _, err := t.inv.Setting(ctx, name); !errors.Is(err, crdt.ErrNotFound) {
			continue
		}
		if err := t.inv.PutSetting(ctx, name, v); err != nil {
			return products, staff, fmt.Errorf("restore setting %s: %w", name, err)
		}
	}
	certs, err := t.inv.Certificates(ctx)
	if err != nil {
		return products, staff, fmt.Errorf("restore certificates: %w", err)
	}
	for id, c := range s.certificates {
		if _, ok := certs[id]; ok {
			continue
		}
		if err := t.inv.PutCertificate(ctx, id, c); err != nil {
			return products, staff, fmt.Errorf("restore certificate %s: %w", id, err)
		}
	}
	for _, r := range s.revocations {
		if ok, err := t.inv.IsRevoked(ctx, r.ID); err == nil && ok {
			continue
		}
		if err := t.inv.Revoke(ctx, r); err != nil {
			return products, staff, fmt.Errorf("restore revocation %s: %w", r.ID, err)
		}
	}
	return products, staff, nil
}

// inventoryEmpty reports whether the inventory holds no product and no
// staff member.
func (t *Till) inventoryEmpty(ctx context.Context) bool {
	p, _ := t.inv.Products(ctx)
	st, _ := t.inv.StaffList(ctx)
	return len(p) == 0 && len(st) == 0
}

// How long a till whose inventory needs restoring waits for peers: for
// one to be admitted at all (the whole store restarts together after a
// power cut), and then for its inventory to arrive.
const (
	restorePeerWait  = 2 * time.Second
	restoreMergeWait = 3 * time.Second
)

// planRestore runs in New, after the inventory store opened: it decides
// whether the inventory may need records back from the snapshot (it was
// salvaged, rebuilt, or opened empty while the snapshot holds products or
// staff) and, if so, holds snapshot writes until restoreInventory has
// run, so the snapshot is not trimmed to a half-empty inventory first.
func (t *Till) planRestore(ctx context.Context, res inventoryOpen) {
	switch res.how {
	case invOpened:
		if !t.inventoryEmpty(ctx) {
			return
		}
		s, err := t.loadSnapshot()
		if err != nil || len(s.products)+len(s.staff) == 0 {
			return // a new till, or nothing worth restoring
		}
		t.restoreWhy = "the inventory store was empty (its directory lost or emptied)"
	case invSalvaged:
		t.restoreWhy = fmt.Sprintf("the inventory store did not open (%v): %d entries that could be read were salvaged into a new store, the damaged one is kept at %s",
			res.err, res.salvaged, res.aside)
	case invRebuilt:
		t.restoreWhy = fmt.Sprintf("the inventory store did not open (%v) and nothing could be read from it: a new store was started, the damaged one is kept at %s", res.err, res.aside)
	}
	t.snapMu.Lock()
	t.snapHold = true
	t.snapMu.Unlock()
	t.note(ui.Note{Key: ui.NoteRestoring, Args: map[string]any{"why": t.restoreWhy}, Text: "restoring the inventory: " + t.restoreWhy})
}

// restoreInventory finishes what planRestore started, in Run. Peers hold
// the store's inventory, deletions included, so they win: a till with no
// peer within restorePeerWait writes back every record of the snapshot
// it lacks; a till whose peers still leave its inventory empty after
// restoreMergeWait (every till of the store lost its inventory) writes
// back the whole snapshot; otherwise the peers fill it in. Records
// written back are new local writes; a record deleted elsewhere after
// this till's last snapshot comes back (go-ds-crdt's set is add-wins) and
// must be deleted again.
func (t *Till) restoreInventory(ctx context.Context) {
	if t.restoreWhy == "" {
		return
	}
	events := t.host.Subscribe()
	defer t.host.Unsubscribe(events)
	peered := false
	wait := time.NewTimer(restorePeerWait)
	defer wait.Stop()
	for !peered {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			peered = ev.Kind == p2p.PeerAdmitted
		case <-wait.C:
			t.restoreFromSnapshot(ctx, "no peer answered")
			return
		}
	}
	deadline := time.NewTimer(restoreMergeWait)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if !t.inventoryEmpty(ctx) {
				t.endRestore(ui.Note{Key: ui.NoteRestoreRefilled, Args: map[string]any{"why": t.restoreWhy},
					Text: "inventory refilled from peers after " + t.restoreWhy})
				return
			}
		case <-deadline.C:
			t.restoreFromSnapshot(ctx, "peers had no inventory either")
			return
		}
	}
}

func (t *Till) restoreFromSnapshot(ctx context.Context, why string) {
	s, err := t.loadSnapshot()
	if err != nil {
		t.endRestore(ui.Note{Key: ui.NoteRestoreUnreadable, Args: map[string]any{"why": t.restoreWhy, "err": err.Error()},
			Text: fmt.Sprintf("%s; the local snapshot is unreadable (%v): catalog and staff must come from peers or HQ", t.restoreWhy, err)})
		return
	}
	if len(s.products)+len(s.staff)+len(s.settings)+len(s.certificates) == 0 {
		t.endRestore(ui.Note{Key: ui.NoteRestoreNoSnapshot, Args: map[string]any{"why": t.restoreWhy},
			Text: t.restoreWhy + "; no local snapshot to restore from: catalog and staff must come from peers or HQ"})
		return
	}
	p, st, err := t.reseedInventory(ctx, s)
	when := s.taken.UTC().Format(time.RFC3339)
	note := ui.Note{Key: ui.NoteRestored, Args: map[string]any{"when": when, "detail": why, "products": p, "staff": st, "why": t.restoreWhy},
		Text: fmt.Sprintf("inventory restored from the local snapshot of %s (%s; %d products, %d staff written back): %s",
			when, why, p, st, t.restoreWhy)}
	if err != nil {
		note.Key, note.Args["err"] = ui.NoteRestoredStopped, err.Error()
		note.Text += fmt.Sprintf("; restoring stopped: %v", err)
	}
	t.endRestore(note)
}

// endRestore replaces the "restoring" note with the outcome and lets
// snapshot writes resume.
func (t *Till) endRestore(note ui.Note) {
	t.log.Error(note.Text)
	t.mu.Lock()
	t.startNotes = slices.DeleteFunc(t.startNotes, func(n ui.Note) bool { return n.Key == ui.NoteRestoring })
	t.startNotes = append(t.startNotes, note)
	t.mu.Unlock()
	t.snapMu.Lock()
	t.snapHold = false
	t.snapMu.Unlock()
	if err := t.saveSnapshot(context.Background()); err != nil {
		t.log.Warn("inventory snapshot", "err", err)
	}
}

// note adds a line to what the status says start-up recovered.
func (t *Till) note(n ui.Note) {
	t.mu.Lock()
	t.startNotes = append(t.startNotes, n)
	t.mu.Unlock()
}

// keepSnapshot restores the inventory if start-up found it needs it, then
// rewrites the snapshot in the ledger a moment after catalog, staff,
// settings, certificates or revocations change (by a local edit or from a
// peer), and once more on the way out if a change is still unsaved.
func (t *Till) keepSnapshot(ctx context.Context) error {
	const quiet = 500 * time.Millisecond
	changes, stop := t.inv.Subscribe(256)
	defer stop()
	t.restoreInventory(ctx)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			if pending {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := t.saveSnapshot(sctx); err != nil {
					t.log.Warn("inventory snapshot", "err", err)
				}
			}
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			if c.Kind != crdt.ChangeStock {
				timer.Reset(quiet)
				pending = true
			}
		case <-timer.C:
			pending = false
			if err := t.saveSnapshot(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn("inventory snapshot", "err", err)
			}
		}
	}
}
