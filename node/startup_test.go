package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/hw/sim"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/badgeropen"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/node/pki"
)

// preparedTill is a lone till (no peer, no HQ) that has a catalog of 5
// products, two staff and one sale, stopped.
func preparedTill(t *testing.T) (*testStore, string) {
	t.Helper()
	s := newStore(t, 1)
	dir := s.tills[0]
	r := s.start(t, dir)
	seed(t, r, 5)
	seedStaff(t, r)
	sell(t, r, "before", "10001", 1)
	r.stop()
	return s, dir
}

func (s *testStore) newTill(t *testing.T, dir string) (*node.Till, error) {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = dir, s.store, quiet()
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{"/ip4/127.0.0.1/tcp/0"}, false
	return node.New(t.Context(), cfg)
}

// waitRestored waits until the till has restored its inventory from the
// snapshot in its ledger, which a lone till does once no peer answered.
func waitRestored(t *testing.T, r *runningTill) {
	t.Helper()
	waitFor(t, "the inventory restored from the snapshot", func() bool {
		return strings.Contains(strings.Join(r.Status(t.Context()).Problems, "\n"), "inventory restored from the local snapshot")
	})
}

// sellsAsBefore checks that a restarted lone till kept its sale, catalog
// and staff, lets a cashier log in and sells.
func sellsAsBefore(t *testing.T, r *runningTill) {
	t.Helper()
	if v := r.DB().Vector()[r.ID()]; v < 2 {
		t.Errorf("ledger after restart: %d events, want the opening stock and the sale", v)
	}
	ps, err := r.Inventory().Products(t.Context())
	if err != nil || len(ps) != 5 {
		t.Errorf("catalog after restart: %d products (%v), want 5", len(ps), err)
	}
	if _, err := r.Authenticate(t.Context(), "2", "0000"); err != nil {
		t.Errorf("cashier login after restart: %v", err)
	}
	sell(t, r, "after", "10002", 2)
	st, err := r.Stock(t.Context(), "10002")
	if err != nil || st.Total != 98 {
		t.Errorf("stock of 10002 after restart and a sale: %d (%v), want 98", st.Total, err)
	}
}

// TestStartWithAFileMissingOrDamaged starts a till with each of its files
// missing or damaged in turn (issue 21, finding 2). Where the till cannot
// run (its key, its certificate, its ledger) New returns an error naming
// the file and nothing panics; where the data allows it, the till runs
// with its sales, catalog and staff.
func TestStartWithAFileMissingOrDamaged(t *testing.T) {
	garbage := []byte("\x00not what belongs here\xff")
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantErr string // empty: the till must run
		note    string // in the status problems, when set
		devices bool   // run with simulated devices (a printer, so a print queue)
	}{
		{"key missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, pki.TillKeyFileName)) }, "till.key is missing", "", false},
		{"key damaged", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, pki.TillKeyFileName), garbage, 0o600) }, "till.key", "", false},
		{"certificate missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, pki.TillCertFileName)) }, "till certificate", "", false},
		{"certificate damaged", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, pki.TillCertFileName), garbage, 0o600)
		}, "till.cert", "", false},
		{"ledger cut during start-up", func(t *testing.T, dir string) {
			if _, err := badgeropen.LeaveCutAtOpen(filepath.Join(dir, "ledger")); err != nil {
				t.Fatal(err)
			}
		}, "", "", false},
		{"ledger manifest damaged", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "ledger", "MANIFEST"), garbage, 0o600)
		}, "ledger", "", false},
		{"inventory cut during start-up", func(t *testing.T, dir string) {
			if _, err := badgeropen.LeaveCutAtOpen(filepath.Join(dir, "crdt")); err != nil {
				t.Fatal(err)
			}
		}, "", "", false},
		{"inventory manifest damaged", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "crdt", "MANIFEST"), garbage, 0o600)
		}, "", "inventory restored from the local snapshot", false},
		{"inventory directory lost", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "crdt")) }, "",
			"inventory restored from the local snapshot", false},
		{"print queue is a file", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "printq"))
			os.WriteFile(filepath.Join(dir, "printq"), garbage, 0o600)
		}, "", "", true},
		{"print queue job damaged", func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "printq", "pending"), 0o700)
			os.WriteFile(filepath.Join(dir, "printq", "pending", "000000000001.json"), garbage, 0o600)
		}, "", "", true},
		{"peer cache damaged", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "peers.json"), garbage, 0o600) }, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := preparedTill(t)
			tc.damage(t, dir)
			if tc.wantErr != "" {
				till, err := s.newTill(t, dir)
				if err == nil {
					till.Close()
					t.Fatalf("New started a till with its %s", tc.name)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("New with its %s: got %q, want an error naming %q", tc.name, err, tc.wantErr)
				}
				return
			}
			var set *sim.Set
			if tc.devices {
				set = sim.NewSet()
			}
			r := s.startWith(t, dir, set)
			if tc.note != "" {
				waitRestored(t, r)
			}
			sellsAsBefore(t, r)
			st := r.Status(t.Context())
			if tc.note != "" && !strings.Contains(strings.Join(st.Problems, "\n"), tc.note) {
				t.Errorf("status problems %q do not say %q", st.Problems, tc.note)
			}
			checkStatusNotes(t, st)
		})
	}
}

// TestStoreFileMissingOrDamaged: the store file is read before New; its
// errors name it.
func TestStoreFileMissingOrDamaged(t *testing.T) {
	s := newStore(t, 1)
	path := filepath.Join(s.tills[0], pki.StoreFileName)
	os.WriteFile(path, []byte(`{"id":`), 0o600)
	if _, err := pki.LoadStoreFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged store file: got %v, want an error naming %s", err, path)
	}
	os.Remove(path)
	if _, err := pki.LoadStoreFile(path); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("missing store file: got %v, want an error naming %s", err, path)
	}
}

// TestLoneTillKeepsCatalogAndStaffWhenItsInventoryIsDestroyed (issue 21,
// finding 3): a till with no peer and no HQ whose inventory store is
// destroyed comes back with its catalog, staff and settings from the
// snapshot in its ledger, lets a cashier log in and sells; its status
// says what happened, and stock is still the fold of the ledger.
func TestLoneTillKeepsCatalogAndStaffWhenItsInventoryIsDestroyed(t *testing.T) {
	s := newStore(t, 1)
	dir := s.tills[0]
	r := s.start(t, dir)
	seed(t, r, 5)
	seedStaff(t, r)
	if err := r.PutSetting(t.Context(), "receipt_footer", "Thank you"); err != nil {
		t.Fatal(err)
	}
	sell(t, r, "before", "10003", 4)
	// A price change after the first snapshot must be in the restored one.
	p, err := r.Inventory().Product(t.Context(), "10004")
	if err != nil {
		t.Fatal(err)
	}
	p.Price = 1234
	if err := r.Inventory().PutProduct(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the price change in the snapshot", func() bool {
		recs, err := r.DB().Snapshot("inventory")
		return err == nil && strings.Contains(string(recs["product/10004"]), `"price":1234`)
	})
	r.stop()

	// Destroy the inventory: every file of its Badger overwritten.
	inv := filepath.Join(dir, "crdt")
	entries, err := os.ReadDir(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		os.WriteFile(filepath.Join(inv, e.Name()), []byte("destroyed"), 0o600)
	}

	start := time.Now()
	r = s.start(t, dir)
	waitRestored(t, r)
	t.Logf("restarted and restored in %v", time.Since(start).Round(time.Millisecond))
	sellsAsBefore(t, r)
	if got, err := r.Inventory().Product(t.Context(), "10004"); err != nil || got.Price != 1234 {
		t.Errorf("product 10004 after restore: price %d (%v), want the edited 1234", got.Price, err)
	}
	if v, ok, err := r.Setting(t.Context(), "receipt_footer"); err != nil || !ok || v != "Thank you" {
		t.Errorf("setting after restore: %q %v %v", v, ok, err)
	}
	if _, err := r.Authenticate(t.Context(), "1", "1234"); err != nil {
		t.Errorf("manager login after restore: %v", err)
	}
	st, err := r.Stock(t.Context(), "10003")
	if err != nil || st.Total != 96 {
		t.Errorf("stock of 10003: %d (%v), want 96 from the ledger", st.Total, err)
	}
	probs := strings.Join(r.Status(t.Context()).Problems, "\n")
	if !strings.Contains(probs, "inventory restored from the local snapshot") || !strings.Contains(probs, "did not open") {
		t.Errorf("status does not say the inventory was restored: %q", probs)
	}
	kept, _ := filepath.Glob(inv + ".broken-*")
	if len(kept) != 1 {
		t.Errorf("the damaged inventory store was not kept: %v", kept)
	}
	// Certificates come back too: the till's own is there, and it is not
	// revoked.
	certs, err := r.Inventory().Certificates(t.Context())
	if err != nil || len(certs) == 0 {
		t.Errorf("certificates after restore: %d (%v)", len(certs), err)
	}
}

// TestInventorySalvagedWhenItWillNotOpen: an inventory store that Badger
// refuses (here a memtable log with a header no key matches) is moved
// aside and kept, and what it holds is copied into a new store, so the
// catalog and staff survive even without a snapshot to fall back on.
func TestInventorySalvagedWhenItWillNotOpen(t *testing.T) {
	s := newStore(t, 1)
	dir := s.tills[0]
	r := s.start(t, dir)
	seed(t, r, 5)
	seedStaff(t, r)
	sell(t, r, "before", "10001", 1)
	r.stop()
	// No snapshot to fall back on: salvage alone must keep the catalog.
	{
		till, err := s.newTill(t, dir)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := till.DB().Snapshot("inventory")
		if err != nil || len(recs) == 0 {
			t.Fatalf("no snapshot to remove: %v", err)
		}
		var ids []string
		for id := range recs {
			ids = append(ids, id)
		}
		if err := till.DB().UpdateSnapshot("inventory", nil, ids); err != nil {
			t.Fatal(err)
		}
		till.Close() // never run, so no later snapshot replaces ours
	}
	bad := bytes.Repeat([]byte{0xff}, 64)
	if err := os.WriteFile(filepath.Join(dir, "crdt", "00099.mem"), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.start(t, dir)
	sellsAsBefore(t, r)
	probs := strings.Join(r.Status(t.Context()).Problems, "\n")
	if !strings.Contains(probs, "salvaged") {
		t.Errorf("status does not say the inventory was salvaged: %q", probs)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "crdt.broken-*", "unreplayed", "00099.mem"))
	if len(kept) != 1 {
		t.Errorf("the memtable log that stopped the open was not kept: %v", kept)
	}
}

// TestRestoredTillDefersToPeers: a till whose inventory is destroyed while
// a peer runs takes the store's inventory from the peer, edits and
// deletions made meanwhile included, instead of writing its older
// snapshot back over them.
func TestRestoredTillDefersToPeers(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	seedStaff(t, a)
	waitFor(t, "staff in B's snapshot", func() bool {
		recs, err := b.DB().Snapshot("inventory")
		return err == nil && recs["staff/2"] != nil && recs["product/10005"] != nil
	})
	b.stop()
	// Meanwhile at A: a price change and a cashier leaves.
	p, err := a.Inventory().Product(t.Context(), "10004")
	if err != nil {
		t.Fatal(err)
	}
	p.Price = 777
	if err := a.Inventory().PutProduct(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if err := a.Inventory().DeleteStaff(t.Context(), "2"); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(s.tills[1], "crdt"))

	b = s.start(t, s.tills[1], a.addr())
	waitFor(t, "B's inventory refilled from A", func() bool {
		return strings.Contains(strings.Join(b.Status(t.Context()).Problems, "\n"), "inventory refilled from peers")
	})
	waitFor(t, "A's price on B", func() bool {
		got, err := b.Inventory().Product(t.Context(), "10004")
		return err == nil && got.Price == 777
	})
	waitFor(t, "A and B at the same inventory heads", func() bool {
		ha, _ := a.Inventory().Heads()
		hb, _ := b.Inventory().Heads()
		return fmt.Sprint(ha) == fmt.Sprint(hb)
	})
	for name, r := range map[string]*runningTill{"A": a, "B": b} {
		if _, err := r.Inventory().Staff(t.Context(), "2"); !errors.Is(err, crdt.ErrNotFound) {
			t.Errorf("the deleted cashier is back on %s: %v", name, err)
		}
	}
}

// TestWholeStoreLosesItsInventory: every till of the store lost its
// inventory and they restart together with no HQ; the peers have nothing
// to give, so each till restores from its own snapshot and all sell.
func TestWholeStoreLosesItsInventory(t *testing.T) {
	s := newStore(t, 2)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	seed(t, a, 5)
	seedStaff(t, a)
	for _, r := range []*runningTill{a, b} {
		waitFor(t, "catalog and staff in every snapshot", func() bool {
			recs, err := r.DB().Snapshot("inventory")
			return err == nil && recs["staff/2"] != nil && recs["product/10005"] != nil
		})
	}
	a.stop()
	b.stop()
	for _, d := range s.tills {
		os.RemoveAll(filepath.Join(d, "crdt"))
	}
	start := time.Now()
	a = s.start(t, s.tills[0])
	b = s.start(t, s.tills[1], a.addr())
	for _, r := range []*runningTill{a, b} {
		waitFor(t, "catalog and staff back", func() bool {
			ps, _ := r.Inventory().Products(t.Context())
			st, _ := r.Inventory().StaffList(t.Context())
			return len(ps) == 5 && len(st) == 2
		})
		if _, err := r.Authenticate(t.Context(), "2", "0000"); err != nil {
			t.Errorf("till %d: cashier login: %v", r.Number(), err)
		}
		sell(t, r, fmt.Sprintf("after-%d", r.Number()), "10002", 1)
	}
	t.Logf("both tills sell %v after the restart", time.Since(start).Round(time.Millisecond))
	waitFor(t, "the tills agree", func() bool { return agree(a, b) == nil })
}

// TestNewcomerTakesTheInventoryAsASnapshot: a till newly enrolled with
// an empty data directory and a static peer starts its mesh before its
// inventory opens and takes the store's inventory state from that peer
// as a snapshot (no DAG block fetched): its stock and catalog are the
// peer's as soon as New returns, and it sells and agrees after. A till
// with mDNS and no static peer starts its mesh early too: a peer that
// reaches it while it opens (here A dials it, as after an mDNS answer)
// serves it the snapshot.
func TestNewcomerTakesTheInventoryAsASnapshot(t *testing.T) {
	s := newStore(t, 3)
	a := s.start(t, s.tills[0])
	seed(t, a, 3)
	seedStaff(t, a)
	sell(t, a, "a1", "10001", 2)
	sell(t, a, "a2", "10002", 1)
	// 60 more DAG nodes: price changes.
	p, err := a.Inventory().Product(t.Context(), "10003")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		p.Price = ledger.Money(100 + i)
		if err := a.Inventory().PutProduct(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}

	s.snapshotWait = 10 * time.Second
	b := s.start(t, s.tills[1], a.addr())
	// A few blocks may come after the snapshot (A's writes as B joins);
	// a walk, or a fetch of A's head (which B holds as processed, not
	// as a block), would bring the 60 and more.
	if st := b.Inventory().Stats(); !st.FromSnapshot || st.FetchedBlocks > 20 {
		t.Fatalf("newcomer: from snapshot %v, %d blocks fetched; want a snapshot and few blocks", st.FromSnapshot, st.FetchedBlocks)
	}
	want, err := a.Inventory().AllStock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Inventory().Product(t.Context(), "10003"); err != nil || got.Price != 159 {
		t.Errorf("newcomer: product from the snapshot = %+v, %v; want price 159", got, err)
	}
	if got, err := b.Inventory().AllStock(t.Context()); err != nil || !maps.Equal(got, want) {
		t.Fatalf("newcomer's stock when it opens = %v, %v; want A's %v", got, err, want)
	}
	sell(t, b, "b1", "10001", 1)
	waitFor(t, "A and B agree", func() bool { return agree(a, b) == nil })

	// C: mDNS on, no static peer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	key, err := pki.LoadOrCreateKey(filepath.Join(s.tills[2], pki.TillKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	cPeer, err := p2p.PeerOf(ledger.TillOf(key))
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.DataDir, cfg.Store, cfg.Logger = s.tills[2], s.store, quiet()
	cfg.HTTPAddr, cfg.ListenAddrs, cfg.MDNS = "", []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}, true
	cfg.InventorySnapshotWait = 20 * time.Second
	type opened struct {
		till *node.Till
		err  error
	}
	done := make(chan opened, 1)
	go func() {
		c, err := node.New(t.Context(), cfg)
		done <- opened{c, err}
	}()
	addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
	if err != nil {
		t.Fatal(err)
	}
	// As after an mDNS answer, A dials C until C's mesh accepts; a
	// failed dial would hold further ones back for 5 s otherwise.
	sw, ok := a.Host().Host().Network().(*swarm.Swarm)
	if !ok {
		t.Fatalf("A's network is a %T, not a swarm", a.Host().Host().Network())
	}
	waitFor(t, "A reaches C while C opens", func() bool {
		sw.Backoff().Clear(cPeer)
		return a.Host().Host().Connect(t.Context(), peer.AddrInfo{ID: cPeer, Addrs: []ma.Multiaddr{addr}}) == nil
	})
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	defer o.till.Close()
	if st := o.till.Inventory().Stats(); !st.FromSnapshot {
		t.Fatalf("a till found without a static peer walked the DAG (%d blocks fetched) instead of taking the snapshot", st.FetchedBlocks)
	}
	if got, err := o.till.Inventory().Product(t.Context(), "10003"); err != nil || got.Price != 159 {
		t.Errorf("C: product from the snapshot = %+v, %v; want price 159", got, err)
	}
}
