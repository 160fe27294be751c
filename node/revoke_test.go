package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/pki"
	"github.com/tillmesh/tillmesh/ui"
)

func connected(r *runningTill, number uint32) bool {
	for _, p := range r.Status(context.Background()).Peers {
		if p.Number == number {
			return p.Connected
		}
	}
	return false
}

// TestRevocationOnlyByTheStoreCA: a revocation entry in the CRDT that the
// store CA did not sign (written by any member of the mesh, or signed by
// another store's CA) revokes no one; one the CA signed, uploaded at one
// till, reaches the others and cuts the till off.
func TestRevocationOnlyByTheStoreCA(t *testing.T) {
	s := newStore(t, 3)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	c := s.start(t, s.tills[2], a.addr())
	waitFor(t, "a connected to b and c", func() bool { return connected(a, 2) && connected(a, 3) })

	// Unsigned, and signed by another store's CA, straight into the CRDT.
	if err := a.Inventory().Revoke(t.Context(), crdt.Revocation{ID: c.ID().String(), Reason: "forged"}); err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	if _, err := pki.InitStore(otherDir, "Other"); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateKey(otherDir + "/" + pki.CAKeyFileName)
	if err != nil {
		t.Fatal(err)
	}
	forged := &ledger.Revocation{Store: s.store.ID, Till: b.ID(), Number: 2, Issued: 1}
	if err := forged.Sign(ca); err != nil {
		t.Fatal(err)
	}
	enc, _ := forged.Encode()
	if err := a.Inventory().Revoke(t.Context(), crdt.Revocation{ID: b.ID().String(), Signed: enc}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := a.Revocations(t.Context()); len(rs) != 0 {
		t.Fatalf("unsigned or foreign revocations took effect: %+v", rs)
	}
	// The same forged file uploaded is refused with a reason.
	file, _ := os.ReadFile(writeRevocation(t, forged))
	if _, err := a.UploadRevocation(t.Context(), file); !errors.Is(err, ui.ErrBadRequest) || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("foreign revocation uploaded: %v", err)
	}

	// The store CA's revocation of till 2, uploaded at a.
	_, path, err := node.RevokeTill(s.dir, 2, 0, "stolen", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	file, _ = os.ReadFile(path)
	if _, err := a.UploadRevocation(t.Context(), file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c to learn the revocation through the mesh", func() bool {
		rs, _ := c.Revocations(t.Context())
		return len(rs) == 1 && rs[0].Number == 2
	})
	waitFor(t, "a to drop b", func() bool { return !connected(a, 2) })
	if !connected(a, 3) {
		t.Error("a dropped c, whose revocation was forged")
	}
	if _, _, err := node.RevokeTill(s.dir, 7, 0, "", time.Now()); !errors.Is(err, node.ErrUnknownTill) {
		t.Errorf("revoke of a number never enrolled: %v", err)
	}
}

func writeRevocation(t *testing.T, r *ledger.Revocation) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/revoke.json"
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRevocationTakesRefusedEventsOutOfReportsAndStock: till 3 sells, its
// peers hold its events and its stock counters, then a revocation with
// AfterSeq below its head arrives. Every till drops exactly the events
// above AfterSeq from its store report and stock, once (a restart changes
// nothing), and shows how many it refused; a till that has the revocation
// before it ever sees those events never counts them.
func TestRevocationTakesRefusedEventsOutOfReportsAndStock(t *testing.T) {
	s := newStore(t, 4)
	a := s.start(t, s.tills[0])
	b := s.start(t, s.tills[1], a.addr())
	c := s.start(t, s.tills[2], a.addr())
	waitFor(t, "a connected to b and c", func() bool { return connected(a, 2) && connected(a, 3) })
	seed(t, a, 2)
	sku := node.DemoCatalog(2)[0].SKU
	// b and c each sell from the catalog seeded at a: both must hold it.
	waitFor(t, "b and c to hold the catalog", func() bool {
		_, errB := b.Inventory().Product(t.Context(), sku)
		_, errC := c.Inventory().Product(t.Context(), sku)
		return errB == nil && errC == nil
	})
	sell(t, a, "a1", sku, 1)
	sell(t, b, "b1", sku, 1)
	for _, k := range []string{"c1", "c2", "c3"} {
		sell(t, c, k, sku, 1)
	}
	waitFor(t, "the three tills to agree", func() bool { return agree(a, b, c) == nil })
	afterSeq := c.DB().Vector()[c.ID()]
	for _, k := range []string{"c4", "c5", "c6", "c7"} {
		sell(t, c, k, sku, 1)
	}
	head := c.DB().Vector()[c.ID()]
	waitFor(t, "a and b to hold all of c's events and its stock counters", func() bool {
		return agree(a, b, c) == nil && a.DB().Vector()[c.ID()] == head
	})
	if st, _ := b.Stock(t.Context(), sku); st.Total != 100-9 {
		t.Fatalf("before the revocation b counts %d of %s, want %d", st.Total, sku, 100-9)
	}
	c.stop()

	// b is cut off from a, so only a learns the revocation for now.
	a.Host().Block(b.Host().Host().ID())
	b.Host().Block(a.Host().Host().ID())
	waitFor(t, "a and b apart", func() bool { return !connected(a, 2) })
	_, path, err := node.RevokeTill(s.dir, 3, afterSeq, "stolen", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	if _, err := a.UploadRevocation(t.Context(), file); err != nil {
		t.Fatal(err)
	}

	// d has the revocation before it meets anyone: uploaded while alone,
	// then restarted with b, which still holds c's later events.
	// (d has never seen till 3's certificate, so the entry goes straight
	// into its inventory, as the mesh would bring it.)
	d := s.start(t, s.tills[3])
	if err := d.Inventory().Revoke(t.Context(), revocationEntry(t, file)); err != nil {
		t.Fatal(err)
	}
	d.stop()
	d = s.start(t, s.tills[3], b.addr())
	if rs, _ := d.Revocations(t.Context()); len(rs) != 1 {
		t.Fatalf("d restarted without the revocation in effect: %+v", rs)
	}
	waitFor(t, "d to catch up with b", func() bool {
		return d.DB().Vector()[c.ID()] == afterSeq && d.DB().Vector()[b.ID()] == b.DB().Vector()[b.ID()]
	})
	a.Host().Unblock(b.Host().Host().ID())
	b.Host().Unblock(a.Host().Host().ID())

	want := 100 - 5 // a1, b1 and c1-c3: c4-c7 came after the revocation's seq
	settled := func(rs ...*runningTill) error {
		var rep0 ledger.Report
		for i, r := range rs {
			if got := r.DB().Vector()[c.ID()]; got != afterSeq {
				return fmt.Errorf("till %d holds till 3 up to seq %d, want %d", r.Number(), got, afterSeq)
			}
			var rep ledger.Report
			r.DB().View(func(s *ledger.State) { rep = s.Fold().StoreReport() })
			if rep.Sales != 5 {
				return fmt.Errorf("till %d's store report counts %d sales, want 5", r.Number(), rep.Sales)
			}
			if i == 0 {
				rep0 = rep
			} else if !reflect.DeepEqual(rep, rep0) {
				return fmt.Errorf("till %d's store report %+v, till %d's %+v", r.Number(), rep, rs[0].Number(), rep0)
			}
			st, err := r.Stock(t.Context(), sku)
			if err != nil || st.Total != int64(want) || st.Slots["3"] != -3 {
				return fmt.Errorf("till %d: stock of %s %d (till 3's share %d, %v), want %d (-3)", r.Number(), sku, st.Total, st.Slots["3"], err, want)
			}
		}
		return nil
	}
	waitErr(t, func() error { return settled(a, b, d) })
	for _, r := range []struct {
		till *runningTill
		want int
	}{{a, 4}, {b, 4}, {d, 0}} {
		if got := r.till.RefusedByRevocation(c.ID()); got != r.want {
			t.Errorf("till %d refused %d of till 3's events, want %d", r.till.Number(), got, r.want)
		}
	}
	evidence := fmt.Sprintf("till 3: 4 events after seq %d refused by revocation", afterSeq)
	ast := a.Status(t.Context())
	if p := strings.Join(ast.Problems, "\n"); !strings.Contains(p, evidence) {
		t.Errorf("a's status problems %q do not say %q", p, evidence)
	}
	checkStatusNotes(t, ast)

	// Exactly once: a restart finds the events aside, and counts nothing twice.
	b.stop()
	b = s.start(t, s.tills[1], a.addr())
	waitErr(t, func() error { return settled(a, b, d) })
	if got := b.RefusedByRevocation(c.ID()); got != 4 {
		t.Errorf("after a restart b refused %d of till 3's events, want 4", got)
	}
}

// revocationEntry is the CRDT entry UploadRevocation would write for file.
func revocationEntry(t *testing.T, file []byte) crdt.Revocation {
	t.Helper()
	r, err := node.ParseRevocationFile(file)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return crdt.Revocation{ID: r.Till.String(), Reason: r.Reason, At: r.Issued, AfterSeq: r.AfterSeq, Signed: enc}
}

// waitErr polls until f returns nil, and fails with its last error.
func waitErr(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// TestPeerDialsWhileTheTillStarts: a peer that keeps dialing a till while
// New is still opening it meets the gater's revocation check, which used
// to read t.inv while New was still setting it; it now reads only the
// revocation list, under its own lock, filled once the inventory is open.
func TestPeerDialsWhileTheTillStarts(t *testing.T) {
	s := newStore(t, 2)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	startB := func(peers ...string) *runningTill {
		cfg := node.DefaultConfig()
		cfg.DataDir, cfg.Store, cfg.Logger = s.tills[1], s.store, quiet()
		cfg.HTTPAddr, cfg.ListenAddrs, cfg.StaticPeers, cfg.MDNS = "", []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}, peers, false
		cfg.SyncInterval = 300 * time.Millisecond
		till, err := node.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &runningTill{Till: till, cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- till.Run(ctx) }()
		t.Cleanup(r.stop)
		return r
	}
	b := startB()
	bAddr := b.addr()
	bPeer := b.Host().Host().ID()
	a := s.start(t, s.tills[0], bAddr)
	waitFor(t, "a and b connected", func() bool { return connected(a, 2) })
	for range 3 {
		b.stop()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // a redials b at once, again and again, while b starts
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					a.Host().Unblock(bPeer)
					runtime.Gosched()
				}
			}
		}()
		b = startB()
		close(stop)
		<-done
		waitFor(t, "a and b connected again", func() bool { return connected(a, 2) })
	}
}
