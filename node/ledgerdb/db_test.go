package ledgerdb_test

import (
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
	"github.com/tillmesh/tillmesh/node/ledgerdb"
	"github.com/tillmesh/tillmesh/testnet/testkit"
)

var store = ledger.StoreID{7}

const now = int64(1_790_000_000_000)

func quiet() *slog.Logger { return testkit.Quiet() }

func open(t testing.TB, dir string) *ledgerdb.DB {
	t.Helper()
	cfg := ledgerdb.DefaultConfig(dir, store)
	cfg.Logger, cfg.Ballast = quiet(), 0
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestAppendSurvivesReopenAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	key := ledgertest.Key(1)
	var ids []ledger.EventID
	for i := range 20 {
		ev, existing, err := db.Append(t.Context(), key, ledgertest.Sale3(), "k"+string(rune('a'+i)), now+int64(i))
		if err != nil || existing {
			t.Fatalf("append %d: %v existing=%v", i, err, existing)
		}
		ids = append(ids, ev.ID())
	}
	again, existing, err := db.Append(t.Context(), key, ledgertest.Sale3(), "kc", now+99)
	if err != nil || !existing || again.ID() != ids[2] {
		t.Fatalf("retry with key kc: existing=%v id %s, want the third sale %s (%v)", existing, again.ID(), ids[2], err)
	}
	if _, _, err := db.Append(t.Context(), key, &ledger.NoSale{Staff: "1"}, "kc", now); !errors.Is(err, ledgerdb.ErrIdempotencyReuse) {
		t.Fatalf("key reused for another kind: got %v", err)
	}
	db.Close()

	db = open(t, dir)
	defer db.Close()
	till := ledger.TillOf(key)
	if v := db.Vector(); v[till] != 20 {
		t.Fatalf("after reopen vector %v, want 20", v)
	}
	var got []ledger.EventID
	if err := db.Range(till, 5, func(ev *ledger.Event) bool { got = append(got, ev.ID()); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 16 || got[0] != ids[4] || got[15] != ids[19] {
		t.Fatalf("Range from 5: %d events", len(got))
	}
	// RangeRaw gives the same events undecoded: their signed bytes.
	var raw []ledger.EventID
	if err := db.RangeRaw(till, 5, func(seq uint64, b []byte) bool {
		ev, err := ledger.Decode(b)
		if err != nil || ev.Seq != seq {
			t.Errorf("RangeRaw seq %d: decoded seq %v, %v", seq, ev, err)
			return false
		}
		raw = append(raw, ev.ID())
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(raw, got) {
		t.Fatalf("RangeRaw from 5 gave %d events, not Range's %d", len(raw), len(got))
	}
	ev, _, err := db.Append(t.Context(), key, ledgertest.Sale3(), "new", now+100)
	if err != nil || ev.Seq != 21 || ev.Prev != ids[19] {
		t.Fatalf("append after reopen: seq %d prev ok=%v err %v", ev.Seq, ev.Prev == ids[19], err)
	}
	if again, existing, _ := db.Append(t.Context(), key, ledgertest.Sale3(), "ka", now); !existing || again.ID() != ids[0] {
		t.Fatal("idempotency key forgotten after reopen")
	}
}

func TestInsertFromPeersInAnyOrder(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	peer := ledgertest.NewTill(store, 2, 2)
	var evs []*ledger.Event
	for i := range 30 {
		evs = append(evs, peer.MustNext(ledgertest.Sale3(), now+int64(i)))
	}
	res, err := db.Insert(t.Context(), evs[10:])
	if err != nil || res.Held != 20 || len(res.Applied) != 0 {
		t.Fatalf("events above a gap: %+v %v, want 20 held", res, err)
	}
	var seen int
	db.Range(peer.ID, 1, func(*ledger.Event) bool { seen++; return true })
	if seen != 0 {
		t.Fatalf("Range shows %d held events, want none", seen)
	}
	res, err = db.Insert(t.Context(), append(evs[:10], evs[3]))
	if err != nil || len(res.Applied) != 30 {
		t.Fatalf("gap filled: applied %d, %v; want 30", len(res.Applied), err)
	}
	res, _ = db.Insert(t.Context(), evs[5:8])
	if res.Duplicate != 3 || len(res.Applied) != 0 {
		t.Fatalf("duplicates: %+v", res)
	}
	if v := db.Vector(); v[peer.ID] != 30 {
		t.Fatalf("vector %v", v)
	}
}

func TestInsertRejectsForgeriesAndKeepsEvidence(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	peer := ledgertest.NewTill(store, 2, 2)
	twin := *peer
	e1 := peer.MustNext(ledgertest.Sale3(), now)
	if _, err := db.Insert(t.Context(), []*ledger.Event{e1}); err != nil {
		t.Fatal(err)
	}
	// A forged signature is rejected and not stored.
	e2 := peer.MustNext(ledgertest.Sale3(), now+1)
	forged := *e2
	forged.Sig = make([]byte, 64)
	res, _ := db.Insert(t.Context(), []*ledger.Event{&forged})
	if len(res.Rejected) != 1 || !errors.Is(res.Rejected[0].Err, ledger.ErrBadSignature) {
		t.Fatalf("forged: %+v", res)
	}
	if v := db.Vector(); v[peer.ID] != 1 {
		t.Fatalf("forged event changed the vector: %v", v)
	}
	// The same seq signed twice is kept as evidence.
	other := ledgertest.Sale3()
	other.Staff = "2"
	e1x := twin.MustNext(other, now)
	res, _ = db.Insert(t.Context(), []*ledger.Event{e1x})
	if len(res.Rejected) != 1 || !errors.Is(res.Rejected[0].Err, ledger.ErrEquivocation) {
		t.Fatalf("equivocation: %+v", res)
	}
	evid, err := db.Evidence()
	if err != nil || len(evid) != 1 || evid[0].ID() != e1x.ID() {
		t.Fatalf("evidence %v %v", evid, err)
	}
	// An unsigned event from another store is rejected.
	foreign := ledgertest.NewTill(ledger.StoreID{9}, 3, 3).MustNext(ledgertest.Sale3(), now)
	res, _ = db.Insert(t.Context(), []*ledger.Event{foreign})
	if len(res.Rejected) != 1 || !errors.Is(res.Rejected[0].Err, ledger.ErrWrongStore) {
		t.Fatalf("foreign store: %+v", res)
	}
}

func TestDiskWatermarkRefusesBeforeWriting(t *testing.T) {
	cfg := ledgerdb.DefaultConfig(t.TempDir(), store)
	cfg.Logger, cfg.Ballast, cfg.MinFree = quiet(), 0, 1<<62
	db, err := ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, _, err = db.Append(t.Context(), ledgertest.Key(1), ledgertest.Sale3(), "x", now)
	if !errors.Is(err, ledgerdb.ErrDiskFull) {
		t.Fatalf("got %v, want ErrDiskFull", err)
	}
	if v := db.Vector(); len(v) != 0 {
		t.Fatalf("refused append changed the ledger: %v", v)
	}
}

// corrupt flips one byte of the stored event at (till, seq), as a bad disk
// sector or a stray write would.
func corrupt(t *testing.T, dir string, till ledger.TillID, seq uint64, at int) {
	t.Helper()
	bdb, err := badger.Open(ledgerdb.BadgerOptions(dir, quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(txn *badger.Txn) error {
		k := append([]byte{'e'}, till[:]...)
		k = append(k, 0, 0, 0, 0, 0, 0, 0, byte(seq))
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, _ := item.ValueCopy(nil)
		v[at%len(v)] ^= 0x04
		return txn.Set(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFindsAFlippedByteAndOpenQuarantinesIt(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	key := ledgertest.Key(1)
	for i := range 10 {
		if _, _, err := db.Append(t.Context(), key, ledgertest.Sale3(), "", now+int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	rep, err := ledgerdb.Verify(dir, quiet())
	if err != nil || !rep.OK() || rep.Chains[0].Head != 10 {
		t.Fatalf("clean ledger: %+v %v", rep, err)
	}
	till := ledger.TillOf(key)
	corrupt(t, dir, till, 4, 150)
	rep, err = ledgerdb.Verify(dir, quiet())
	if err != nil || rep.OK() {
		t.Fatalf("flipped byte not found: %+v %v", rep, err)
	}
	if p := rep.Chains[0].Problems[0]; p.Seq != 4 {
		t.Fatalf("problem at seq %d, want 4: %s", p.Seq, p.Reason)
	}
	// Seq 4 is below the checkpoint Close stored: a normal open does
	// not read it (Verify finds it); a full check does.
	db = open(t, dir)
	if ps, n := db.Problems(), db.Replayed(); len(ps) != 0 || n != 0 {
		t.Fatalf("open from the checkpoint found %v and applied %d events, want none", ps, n)
	}
	db.Close()
	cfg := ledgerdb.DefaultConfig(dir, store)
	cfg.Logger, cfg.Ballast, cfg.FullCheck = quiet(), 0, true
	db, err = ledgerdb.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ps := db.Problems(); len(ps) != 1 || ps[0].Seq != 4 {
		t.Fatalf("open found %v, want seq 4 quarantined", ps)
	}
	if v := db.Vector(); v[till] != 3 {
		t.Fatalf("vector %v, want 3: the chain stops below the damage", v)
	}
	if _, _, err := db.Append(t.Context(), key, ledgertest.Sale3(), "", now+50); !errors.Is(err, ledgerdb.ErrOwnChainDamaged) {
		t.Fatalf("selling on a damaged own chain: got %v, want ErrOwnChainDamaged", err)
	}
}

// Two different events for one seq in one batch: the first is stored,
// the second kept as evidence, and a reopen agrees with memory.
func TestEquivocationInOneBatchIsEvidenceNotOverwrite(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	peer := ledgertest.NewTill(store, 2, 2)
	twin := *peer
	a := peer.MustNext(ledgertest.Sale3(), now)
	other := ledgertest.Sale3()
	other.Staff = "2"
	b := twin.MustNext(other, now)
	res, err := db.Insert(t.Context(), []*ledger.Event{a, b})
	if err != nil || len(res.Applied) != 1 || len(res.Rejected) != 1 {
		t.Fatalf("insert: %+v %v", res, err)
	}
	var head ledger.EventID
	db.View(func(s *ledger.State) { _, head, _ = s.Head(peer.ID) })
	db.Close()
	db = open(t, dir)
	defer db.Close()
	var after ledger.EventID
	db.View(func(s *ledger.State) { _, after, _ = s.Head(peer.ID) })
	if after != head {
		t.Fatalf("after reopen the chain holds %s, before it held %s", after, head)
	}
	if ev, _ := db.Evidence(); len(ev) != 1 {
		t.Fatalf("%d evidence events, want 1", len(ev))
	}
}
