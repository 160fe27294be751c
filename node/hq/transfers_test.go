package hq_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/hq"
	"github.com/tillmesh/tillmesh/node/hq/hqapi"
	"github.com/tillmesh/tillmesh/node/hq/hqtest"
)

func sl(sku string, qty int64) ledger.StockLine { return ledger.StockLine{SKU: sku, Qty: qty} }

// chainStore is a store of a test chain with its reference ledger state.
type chainStore struct {
	*hqtest.Store
	state *ledger.State
	evs   []*ledger.Event
}

func newChainStore(seed byte) *chainStore {
	s := hqtest.NewStore(seed, 1)
	return &chainStore{Store: s, state: ledger.NewState(s.ID)}
}

func (c *chainStore) record(t *testing.T, body ledger.Body, at int64) *ledger.Event {
	t.Helper()
	ev, err := c.Tills[0].Next(body, at, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.state.Apply(ev); err != nil {
		t.Fatal(err)
	}
	c.evs = append(c.evs, ev)
	return ev
}

func (c *chainStore) upload(t *testing.T, h *hq.HQ) {
	t.Helper()
	res, err := h.Ingest(t.Context(), c.ID, c.Tills[0].ID, &hqapi.Upload{Fence: 1, Certs: c.EncodedCerts(), Events: raws(c.evs)})
	if err != nil || len(res.Rejected) > 0 {
		t.Fatalf("upload of %s: %+v %v", c.Name, res.Rejected, err)
	}
}

func statuses(h *hq.HQ) map[string]hq.TransferStatus {
	m := map[string]hq.TransferStatus{}
	for _, tr := range h.Transfers("") {
		m[tr.Number] = tr.Status
	}
	return m
}

func TestTransfersMatchedAcrossStores(t *testing.T) {
	a, b, c := newChainStore(10), newChainStore(20), newChainStore(30)
	place := backends[0].place(t)
	st := backends[0].open(t, place)
	h := newHQ(t, st, a.Store, b.Store, c.Store)
	at := day0
	next := func() int64 { at += 60_000; return at }
	a.record(t, &ledger.StockReceive{Lines: []ledger.StockLine{sl("X", 20), sl("Y", 20)}, Staff: "1"}, next())
	t1 := &ledger.TransferOut{Number: "a-1-2", To: b.ID, Lines: []ledger.StockLine{sl("X", 5), sl("Y", 2)}, Staff: "1"}
	t2 := &ledger.TransferOut{Number: "a-1-3", To: b.ID, Lines: []ledger.StockLine{sl("X", 1)}, Staff: "1"}
	t3 := &ledger.TransferOut{Number: "a-1-4", To: c.ID, Lines: []ledger.StockLine{sl("Y", 1)}, Note: "urgent", Staff: "1"}
	for _, body := range []ledger.Body{t1, t2, t3} {
		a.record(t, body, next())
	}
	a.upload(t, h)

	want := map[string]hq.TransferStatus{"a-1-2": hq.TransferInTransit, "a-1-3": hq.TransferInTransit, "a-1-4": hq.TransferInTransit}
	if got := statuses(h); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the sender's upload: %v, want %v", got, want)
	}
	if got, want := h.InTransit(), map[string]int64{"X": 6, "Y": 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("in transit %v, want %v", got, want)
	}
	down, err := h.Chain(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := down.Check(); err != nil {
		t.Fatalf("HQ's own chain message does not pass its check: %v", err)
	}
	if len(down.Incoming) != 2 || down.Incoming[0].Number != "a-1-2" || down.Incoming[1].Number != "a-1-3" ||
		!reflect.DeepEqual(down.Incoming[0].Lines, t1.Lines) || down.Incoming[0].FromName != a.Name {
		t.Fatalf("B's incoming list: %+v", down.Incoming)
	}
	if len(down.Stores) != 3 {
		t.Fatalf("chain lists %d stores, want 3", len(down.Stores))
	}

	// B receives the first whole and the second short; C receives its
	// own; B also receives C's (wrong store); C receives one HQ has not
	// seen sent.
	b.record(t, &ledger.TransferIn{Number: "a-1-2", From: a.ID, Sent: t1.Lines, Lines: t1.Lines, Staff: "1"}, next())
	b.record(t, &ledger.TransferIn{Number: "a-1-3", From: a.ID, Sent: t2.Lines, Lines: []ledger.StockLine{sl("X", 0)}, Note: "box missing", Staff: "1"}, next())
	b.record(t, &ledger.TransferIn{Number: "a-1-4", From: a.ID, Lines: []ledger.StockLine{sl("Y", 1)}, Staff: "1"}, next())
	c.record(t, &ledger.TransferIn{Number: "a-1-4", From: a.ID, Sent: t3.Lines, Lines: t3.Lines, Staff: "1"}, next())
	c.record(t, &ledger.TransferIn{Number: "a-1-9", From: a.ID, Lines: []ledger.StockLine{sl("X", 1)}, Staff: "1"}, next())
	b.upload(t, h)
	c.upload(t, h)

	want = map[string]hq.TransferStatus{"a-1-2": hq.TransferReceived, "a-1-3": hq.TransferDisputed,
		"a-1-4": hq.TransferDisputed, "a-1-9": hq.TransferUnmatched}
	check := func(h *hq.HQ, when string) {
		t.Helper()
		if got := statuses(h); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v, want %v", when, got, want)
		}
		for _, tr := range h.Transfers(hq.TransferDisputed) {
			switch tr.Number {
			case "a-1-3":
				if tr.Difference["X"] != -1 || len(tr.Problems) != 1 {
					t.Errorf("%s: a-1-3 difference %v problems %q, want X: -1", when, tr.Difference, tr.Problems)
				}
			case "a-1-4":
				if len(tr.Receipts) != 2 || len(tr.Problems) < 2 {
					t.Errorf("%s: a-1-4 receipts %d problems %q, want 2 receipts, wrong store and twice", when, len(tr.Receipts), tr.Problems)
				}
			}
		}
		if got := h.InTransit(); len(got) != 0 {
			t.Errorf("%s: in transit %v, want nothing", when, got)
		}
		down, err := h.Chain(b.ID)
		if err != nil || len(down.Incoming) != 0 {
			t.Errorf("%s: B's incoming list %+v %v, want empty", when, down.Incoming, err)
		}
		// Each store's stock at HQ is the fold of its own ledger: what
		// left A and what reached B and C.
		for _, s := range []*chainStore{a, b, c} {
			checkFold(t, h, s.ID, s.state)
		}
	}
	check(h, "after the receipts")

	st.Close()
	check(newHQ(t, backends[0].open(t, place)), "after a restart")
}

func TestChainDownlinkOverHTTP(t *testing.T) {
	a, b := newChainStore(10), newChainStore(20)
	h, srv := httpHQ(t, a.Store, b.Store)
	a.record(t, &ledger.TransferOut{Number: "n-1", To: b.ID, Lines: []ledger.StockLine{sl("X", 2)}, Staff: "1"}, day0)
	a.upload(t, h)
	cl := client(t, srv.URL, b.Store, 0, time.Now)
	down, err := cl.Chain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(down.Incoming) != 1 || down.Incoming[0].Number != "n-1" || down.Version != hqapi.ChainVersion {
		t.Fatalf("incoming %+v, version %d", down.Incoming, down.Version)
	}
	// A store HQ does not know gets 404 unknown_store, not "no downlink".
	stranger := hqtest.NewStore(40, 1)
	_, err = client(t, srv.URL, stranger, 0, time.Now).Chain(t.Context())
	if err == nil || hqapi.NoChainDownlink(err) {
		t.Fatalf("unknown store: %v, want an unknown store error", err)
	}
}
