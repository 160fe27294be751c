package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	badger4 "github.com/ipfs/go-ds-badger4"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
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
// with an empty one. The caller then re-seeds catalog, staff, settings and
// certificates from the snapshot in the ledger (reseedInventory), and
// peers fill in the rest. The till already holds its ledger's lock, so no
// other process has dir open.
func openInventory(ctx context.Context, dir string, now time.Time, log *slog.Logger) (*badger4.Datastore, inventoryOpen, error) {
	var err error
	for attempt := 1; attempt <= openAttempts; attempt++ {
		var d *badger4.Datastore
		if d, err = openDatastore(dir, log); err == nil {
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
	d, err := openDatastore(dir, log)
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

func openDatastore(dir string, log *slog.Logger) (*badger4.Datastore, error) {
	rep, err := badgeropen.Prepare(dir, dir, false)
	for _, r := range rep {
		log.Warn("inventory: repaired a log file a power cut left empty", "file", r.String())
	}
	if err != nil {
		return nil, err
	}
	d, err := badger4.NewDatastore(dir, crdt.BadgerOptions(dir))
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
// aside, which did not open, into d. It sets the memtable logs aside
// first (into aside/unreplayed, kept): they hold only the last, unsynced
// interval of merged state, which peers and go-ds-crdt's repair restore.
func salvageInventory(ctx context.Context, aside string, d *badger4.Datastore, log *slog.Logger) (int, error) {
	keep := filepath.Join(aside, "unreplayed")
	entries, err := os.ReadDir(aside)
	if err != nil {
		return 0, fmt.Errorf("salvage inventory %s: %w", aside, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mem") {
			if err := os.MkdirAll(keep, 0o700); err != nil {
				return 0, fmt.Errorf("salvage inventory %s: %w", aside, err)
			}
			if err := os.Rename(filepath.Join(aside, e.Name()), filepath.Join(keep, e.Name())); err != nil {
				return 0, fmt.Errorf("salvage inventory %s: %w", aside, err)
			}
		}
	}
	old, err := openDatastore(aside, log)
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

// snapshotName is the inventory snapshot's name in the ledger database.
const snapshotName = "inventory"

// inventorySnapshot is what a till keeps of its inventory beside the
// ledger, whose every write is fsynced: everything but stock, which is
// the fold of the ledger anyway.
type inventorySnapshot struct {
	V            int               `json:"v"`
	Taken        int64             `json:"taken"` // Unix ms
	Products     []crdt.Product    `json:"products"`
	Staff        []crdt.Staff      `json:"staff"`
	Settings     map[string][]byte `json:"settings"`
	Certificates map[string][]byte `json:"certificates"`
	Revocations  []crdt.Revocation `json:"revocations"`
}

const snapshotVersion = 1

// readInventory reads what a snapshot holds from the live inventory.
// Entries that do not decode are left out (the crdt package reports them
// with ErrCorrupt); any other error fails.
func (t *Till) readInventory(ctx context.Context) (*inventorySnapshot, error) {
	s := &inventorySnapshot{V: snapshotVersion}
	var err error
	tolerate := func(e error) error {
		if e != nil && !errors.Is(e, crdt.ErrCorrupt) {
			return e
		}
		return nil
	}
	if s.Products, err = t.inv.Products(ctx); tolerate(err) != nil {
		return nil, err
	}
	if s.Staff, err = t.inv.StaffList(ctx); tolerate(err) != nil {
		return nil, err
	}
	if s.Settings, err = t.inv.Settings(ctx); err != nil {
		return nil, err
	}
	if s.Certificates, err = t.inv.Certificates(ctx); err != nil {
		return nil, err
	}
	rev, err := t.inv.Revocations(ctx)
	if tolerate(err) != nil {
		return nil, err
	}
	for _, r := range rev {
		s.Revocations = append(s.Revocations, r)
	}
	return s, nil
}

// saveSnapshot writes the inventory's snapshot into the ledger database
// if it changed. It never replaces a snapshot holding products or staff
// with one holding neither: that is an inventory still being refilled,
// not a store that sold its whole catalog and let everyone go.
func (t *Till) saveSnapshot(ctx context.Context) error {
	s, err := t.readInventory(ctx)
	if err != nil {
		return fmt.Errorf("inventory snapshot: %w", err)
	}
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("inventory snapshot: %w", err)
	}
	t.mu.Lock()
	same := string(body) == string(t.snapBody)
	t.mu.Unlock()
	if same {
		return nil
	}
	if len(s.Products) == 0 && len(s.Staff) == 0 {
		if old, err := t.loadSnapshot(); err == nil && (len(old.Products) > 0 || len(old.Staff) > 0) {
			return nil
		}
	}
	s.Taken = t.cfg.Now().UnixMilli()
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("inventory snapshot: %w", err)
	}
	if err := t.db.PutSnapshot(snapshotName, b); err != nil {
		return err
	}
	t.mu.Lock()
	t.snapBody = body
	t.mu.Unlock()
	return nil
}

func (t *Till) loadSnapshot() (*inventorySnapshot, error) {
	b, err := t.db.Snapshot(snapshotName)
	if err != nil {
		return nil, err
	}
	var s inventorySnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("inventory snapshot in the ledger: %w", err)
	}
	if s.V != snapshotVersion {
		return nil, fmt.Errorf("inventory snapshot in the ledger: version %d, want %d", s.V, snapshotVersion)
	}
	return &s, nil
}

// reseedInventory writes into the inventory every record of the snapshot
// that the inventory lacks, as new local writes. Records it holds are
// left alone, and a peer's newer edit of a record wins over the seeded
// one by go-ds-crdt's rules (it sits higher in the DAG). It reports how
// many products and staff it wrote.
//
// A record deleted elsewhere after this till's last snapshot comes back
// (go-ds-crdt's set is add-wins); deleting it again removes it.
func (t *Till) reseedInventory(ctx context.Context, s *inventorySnapshot) (products, staff int, err error) {
	for _, p := range s.Products {
		if _, err := t.inv.Product(ctx, p.SKU); !errors.Is(err, crdt.ErrNotFound) {
			continue
		}
		if err := t.inv.PutProduct(ctx, p); err != nil {
			return products, staff, fmt.Errorf("reseed product %s: %w", p.SKU, err)
		}
		products++
	}
	for _, st := range s.Staff {
		if _, err := t.inv.Staff(ctx, st.ID); !errors.Is(err, crdt.ErrNotFound) {
			continue
		}
		if err := t.inv.PutStaff(ctx, st); err != nil {
			return products, staff, fmt.Errorf("reseed staff %s: %w", st.ID, err)
		}
		staff++
	}
	for name, v := range s.Settings {
		if _, err := t.inv.Setting(ctx, name); !errors.Is(err, crdt.ErrNotFound) {
			continue
		}
		if err := t.inv.PutSetting(ctx, name, v); err != nil {
			return products, staff, fmt.Errorf("reseed setting %s: %w", name, err)
		}
	}
	certs, err := t.inv.Certificates(ctx)
	if err != nil {
		return products, staff, fmt.Errorf("reseed certificates: %w", err)
	}
	for id, c := range s.Certificates {
		if _, ok := certs[id]; ok {
			continue
		}
		if err := t.inv.PutCertificate(ctx, id, c); err != nil {
			return products, staff, fmt.Errorf("reseed certificate %s: %w", id, err)
		}
	}
	for _, r := range s.Revocations {
		if ok, err := t.inv.IsRevoked(ctx, r.ID); err == nil && ok {
			continue
		}
		if err := t.inv.Revoke(ctx, r); err != nil {
			return products, staff, fmt.Errorf("reseed revocation %s: %w", r.ID, err)
		}
	}
	return products, staff, nil
}

// recoverInventory runs after the inventory store opened in New: when it
// was salvaged or rebuilt, it re-seeds it from the snapshot in the ledger
// and records what happened for the status page.
//
// A store that opened but holds neither products nor staff (its directory
// was lost or emptied) is re-seeded too, when the snapshot holds some.
func (t *Till) recoverInventory(ctx context.Context, res inventoryOpen) {
	var note string
	switch res.how {
	case invOpened:
		if !t.inventoryEmpty(ctx) {
			return
		}
		s, err := t.loadSnapshot()
		if err != nil || len(s.Products)+len(s.Staff) == 0 {
			return // a new till, or nothing worth restoring
		}
		note = "inventory store was empty (its directory lost or emptied)"
	case invSalvaged:
		note = fmt.Sprintf("inventory store did not open (%v); salvaged what could be read into a new store; the damaged store is kept at %s", res.err, res.aside)
	case invRebuilt:
		note = fmt.Sprintf("inventory store did not open (%v); nothing could be read from it: started a new store; the damaged store is kept at %s", res.err, res.aside)
	}
	s, err := t.loadSnapshot()
	switch {
	case errors.Is(err, ledgerdb.ErrNoSnapshot):
		note += "; no local snapshot to restore from: catalog and staff come from peers or HQ"
	case err != nil:
		note += fmt.Sprintf("; the local snapshot is unreadable (%v): catalog and staff come from peers or HQ", err)
	default:
		p, st, err := t.reseedInventory(ctx, s)
		note = fmt.Sprintf("inventory restored from the local snapshot of %s (%d products, %d staff written back): ",
			time.UnixMilli(s.Taken).UTC().Format(time.RFC3339), p, st) + note
		if err != nil {
			note += fmt.Sprintf("; restoring stopped: %v", err)
		}
	}
	t.log.Error(note)
	t.mu.Lock()
	t.startNotes = append(t.startNotes, note)
	t.mu.Unlock()
}

// inventoryEmpty reports whether the inventory holds no product and no
// staff member.
func (t *Till) inventoryEmpty(ctx context.Context) bool {
	p, _ := t.inv.Products(ctx)
	st, _ := t.inv.StaffList(ctx)
	return len(p) == 0 && len(st) == 0
}

// keepSnapshot rewrites the inventory snapshot in the ledger a moment
// after catalog, staff, settings, certificates or revocations change, by
// a local edit or from a peer.
func (t *Till) keepSnapshot(ctx context.Context) error {
	const quiet = 500 * time.Millisecond
	changes, stop := t.inv.Subscribe(256)
	defer stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			if pending { // a change still unsaved: save it on the way out
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
