// Package hqtest makes stores, tills and realistic event streams for the
// tests and benchmarks of HQ and the relay. Like ledgertest it is pure:
// randomness comes in as a Rand, keys from seeds, time as an argument.
package hqtest

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/ledger/ledgertest"
)

// Store is a store for tests: an ID, a CA key and enrolled tills.
type Store struct {
	ID    ledger.StoreID
	Name  string
	CA    ed25519.PrivateKey
	Tills []*ledgertest.Till
	Certs []*ledger.Certificate // Certs[i] is Tills[i]'s, numbered i+1
}

// NewStore returns a store whose CA key comes from seed and whose n tills'
// keys come from seed+1 ... seed+n (keep seeds of stores in one test n+1
// apart).
func NewStore(seed byte, n int) *Store {
	s := &Store{Name: fmt.Sprintf("Store %d", seed), CA: ledgertest.Key(seed)}
	s.ID[0], s.ID[1] = 0x5e, seed
	for i := range n {
		t := ledgertest.NewTill(s.ID, seed+1+byte(i), uint32(i+1))
		s.Tills = append(s.Tills, t)
		s.Certs = append(s.Certs, t.Certificate(s.CA, fmt.Sprintf("Till %d", i+1), 1_700_000_000_000))
	}
	return s
}

// ChainStore returns store i of a chain (0..65535), whose CA, tills and
// certificates have keys derived from i: `tillmesh bench chain` and the
// chain benchmarks make hundreds (NewStore's byte seed makes at most
// 64 stores of 3 tills).
func ChainStore(i, tills int) *Store {
	key := func(role byte, n int) ed25519.PrivateKey {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = 0xc4, role
		binary.BigEndian.PutUint32(seed[2:], uint32(i))
		binary.BigEndian.PutUint32(seed[6:], uint32(n))
		return ed25519.NewKeyFromSeed(seed)
	}
	s := &Store{Name: fmt.Sprintf("Store %03d", i+1), CA: key(0, 0)}
	s.ID[0], s.ID[1] = 0xc4, 0x15
	binary.BigEndian.PutUint32(s.ID[2:], uint32(i))
	for n := range tills {
		k := key(1, n)
		t := &ledgertest.Till{Key: k, ID: ledger.TillOf(k), Store: s.ID, Number: uint32(n + 1)}
		s.Tills = append(s.Tills, t)
		s.Certs = append(s.Certs, t.Certificate(s.CA, fmt.Sprintf("Till %d", n+1), 1_700_000_000_000))
	}
	return s
}

// CAPublic is the store CA's public key, which HQ registers.
func (s *Store) CAPublic() ed25519.PublicKey { return s.CA.Public().(ed25519.PublicKey) }

// EncodedCerts returns every till's encoded certificate.
func (s *Store) EncodedCerts() [][]byte {
	var out [][]byte
	for _, c := range s.Certs {
		b, err := c.Encode()
		if err != nil {
			panic(err) // a certificate we made always encodes
		}
		out = append(out, b)
	}
	return out
}

// Workload makes a valid mix of events across a store's tills: mostly
// sales, with refunds and voids of earlier sales (at any till), cash in
// and out, no-sales, stock receipts and adjustments, and a shift per till.
// State holds every event made, so its fold is the reference any node's
// figures must equal.
type Workload struct {
	Store  *Store
	State  *ledger.State
	rng    ledgertest.Rand
	sales  []ledger.EventID
	opened map[int]bool
}

// NewWorkload returns a workload over s drawing from rng.
func NewWorkload(s *Store, rng ledgertest.Rand) *Workload {
	return &Workload{Store: s, State: ledger.NewState(s.ID), rng: rng, opened: map[int]bool{}}
}

// Next makes till i's next event at wall time now (Unix ms).
func (w *Workload) Next(i int, now int64) *ledger.Event {
	t := w.Store.Tills[i]
	body := w.body(i)
	ev, err := t.Next(body, now, fmt.Sprintf("k-%d-%d", i, t.Seq+1))
	if err != nil {
		panic(fmt.Sprintf("hqtest: %s: %v", body.Kind(), err)) // a bug in the generator
	}
	if _, err := w.State.Apply(ev); err != nil {
		panic(fmt.Sprintf("hqtest: apply: %v", err))
	}
	if ev.Kind() == ledger.KindSale {
		w.sales = append(w.sales, ev.ID())
	}
	return ev
}

// Sales makes n events spread over the tills in turn, from wall time
// start, step ms apart.
func (w *Workload) Sales(n int, start, step int64) []*ledger.Event {
	out := make([]*ledger.Event, 0, n)
	for k := range n {
		out = append(out, w.Next(k%len(w.Store.Tills), start+int64(k)*step))
	}
	return out
}

func (w *Workload) body(i int) ledger.Body {
	if !w.opened[i] {
		w.opened[i] = true
		return &ledger.ShiftOpen{Currency: "EUR", Float: 10_000, Staff: "1"}
	}
	f := w.State.Fold()
	switch r := w.rng.IntN(100); {
	case r < 6 && len(w.sales) > 0:
		sale := w.recentSale()
		rem, err := f.Refundable(sale)
		if err != nil {
			break
		}
		for _, l := range rem {
			if l.Qty <= 0 {
				continue
			}
			lines, err := f.RefundLines(sale, []ledger.Pick{{Line: l.Line, Qty: 1 + int64(w.rng.IntN(int(l.Qty)))}})
			if err != nil {
				break
			}
			var total ledger.Money
			for _, rl := range lines {
				total += rl.Amount
			}
			ref := &ledger.Refund{Sale: sale, Currency: "EUR", Lines: lines, Staff: "1", Reason: "returned"}
			if total > 0 {
				ref.Tenders = []ledger.Tender{{Kind: ledger.Cash, Amount: total}}
			}
			return ref
		}
	case r < 9 && len(w.sales) > 0:
		if v, err := f.VoidOf(w.recentSale()); err == nil {
			v.Manager, v.Reason = "9", "customer changed their mind"
			return v
		}
	case r < 11:
		return &ledger.CashIn{Currency: "EUR", Amount: ledger.Money(500 + w.rng.IntN(5000)), Reason: "change", Staff: "1"}
	case r < 13:
		return &ledger.CashOut{Currency: "EUR", Amount: ledger.Money(500 + w.rng.IntN(5000)), Reason: "safe drop", Staff: "1"}
	case r < 14:
		return &ledger.NoSale{Staff: "1"}
	case r < 16:
		p := ledgertest.SKUs[w.rng.IntN(len(ledgertest.SKUs))]
		return &ledger.StockReceive{Lines: []ledger.StockLine{{SKU: p.SKU, Qty: int64(10 + w.rng.IntN(100))}}, Staff: "1", Ref: "delivery"}
	case r < 17:
		p := ledgertest.SKUs[w.rng.IntN(len(ledgertest.SKUs))]
		return &ledger.StockAdjust{Lines: []ledger.StockLine{{SKU: p.SKU, Qty: -int64(1 + w.rng.IntN(3))}}, Reason: "damaged", Staff: "1"}
	}
	return ledgertest.Sale(w.rng, 4)
}

func (w *Workload) recentSale() ledger.EventID {
	n := len(w.sales)
	k := w.rng.IntN(min(n, 50))
	return w.sales[n-1-k]
}

// wire mirrors ledger's encoding of an event, for Reencode.
type wire struct {
	Store ledger.StoreID  `cbor:"1,keyasint"`
	Till  ledger.TillID   `cbor:"2,keyasint"`
	Seq   uint64          `cbor:"3,keyasint"`
	Prev  ledger.EventID  `cbor:"4,keyasint"`
	Time  ledger.HLC      `cbor:"5,keyasint"`
	Kind  ledger.Kind     `cbor:"6,keyasint"`
	Body  cbor.RawMessage `cbor:"7,keyasint"`
	Key   string          `cbor:"8,keyasint,omitempty"`
	Sig   []byte          `cbor:"9,keyasint,omitempty"`
}

// Reencode encodes an event's fields as they are now, canonically, with
// its Sig as it is: after changing a field of a signed event it yields the
// bytes an attacker would send (canonical, but not what the till signed).
func Reencode(e *ledger.Event) ([]byte, error) {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	body, err := em.Marshal(e.Body)
	if err != nil {
		return nil, err
	}
	return em.Marshal(wire{Store: e.Store, Till: e.Till, Seq: e.Seq, Prev: e.Prev, Time: e.Time,
		Kind: e.Kind(), Body: body, Key: e.Key, Sig: e.Sig})
}

// EachStore calls f for every store index 0..n-1, on every core, and
// returns the first error; after one, no further index is started.
func EachStore(n int, f func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && !failed.Load(); i = int(next.Add(1) - 1) {
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
