package node

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/crdt"
	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node/custkey"
	"github.com/tillmesh/tillmesh/ui"
)

// Customer keys (crypto-shredding; docs/SECURITY.md). Every personal
// field a till writes into the CRDT is sealed under a key of the customer
// (crdt/customer_seal.go) once every till of the store announces
// ledger.FeatureSealedCustomers. The keys are kept in the ledger database
// (ledgerdb/custkeys.go), never in the CRDT, and travel between admitted
// tills of the store over /tillmesh/customer-keys/1 (node/custkey):
//
//   - a till that makes a customer's key pushes it to every connected
//     till at once;
//   - a till that merges a sealed slot it cannot open pulls the key from
//     its connected tills, at once, when a till connects, and again while
//     any slot waits, after customerKeyRetry, doubling to at most
//     customerKeyRetryMax (a till connecting or a new sealed slot starts
//     again at customerKeyRetry); meanwhile the customer shows its number
//     only;
//   - a till that merges a customer's erasure deletes the customer's keys
//     (crdt.Store calls Forget), and neither gives nor keeps a key of an
//     erased customer afterwards.

const (
	customerKeyTimeout  = 5 * time.Second
	customerKeyRetry    = 5 * time.Second
	customerKeyRetryMax = 5 * time.Minute
)

// customerKeys implements crdt.CustomerKeys on the till's ledger
// database, and queues the protocol's work for runCustomerKeys.
type customerKeys struct {
	t    *Till
	mu   sync.Mutex // serialises making a customer's key
	push chan custkey.Key
	kick chan struct{}
}

var _ crdt.CustomerKeys = (*customerKeys)(nil)

func newCustomerKeys(t *Till) *customerKeys {
	return &customerKeys{t: t, push: make(chan custkey.Key, 256), kick: make(chan struct{}, 1)}
}

// SealingKey returns the customer's key with the lowest ID this till
// holds, or makes, stores and pushes one; ok is false while a till of the
// store does not read sealed slots.
func (k *customerKeys) SealingKey(ctx context.Context, number string) (crdt.CustomerKeyID, []byte, bool, error) {
	t := k.t
	if err := t.kindAllowed(ctx, ledger.FeatureSealedCustomers); err != nil {
		if errors.Is(err, ui.ErrConflict) {
			return crdt.CustomerKeyID{}, nil, false, nil // an older till: plain, as before
		}
		return crdt.CustomerKeyID{}, nil, false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	held, err := t.db.CustomerKeys(number)
	if err != nil {
		return crdt.CustomerKeyID{}, nil, false, err
	}
	if len(held) > 0 {
		ids := make([][8]byte, 0, len(held))
		for id := range held {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b [8]byte) int { return bytes.Compare(a[:], b[:]) })
		return crdt.CustomerKeyID(ids[0]), held[ids[0]], true, nil
	}
	id, key, err := crdt.NewCustomerKey()
	if err != nil {
		return crdt.CustomerKeyID{}, nil, false, err
	}
	if err := t.db.PutCustomerKey(number, id, key); err != nil {
		return crdt.CustomerKeyID{}, nil, false, err
	}
	select {
	case k.push <- custkey.Key{Customer: number, ID: id, Key: key}:
	default: // a burst: the others pull it when they meet the sealed slot
	}
	return id, key, true, nil
}

// Key returns a held key.
func (k *customerKeys) Key(number string, id crdt.CustomerKeyID) ([]byte, bool) {
	key, ok, err := k.t.db.CustomerKey(number, id)
	if err != nil {
		k.t.log.Warn("read customer key", "customer", number, "err", err)
	}
	return key, ok
}

// Forget deletes the customer's keys: its erasure merged here.
func (k *customerKeys) Forget(number string) {
	n, err := k.t.db.DeleteCustomerKeys(number)
	if err != nil {
		k.t.log.Error("delete the keys of an erased customer; deleted at the next start", "customer", number, "err", err)
		return
	}
	if n > 0 {
		k.t.log.Info("deleted the keys of an erased customer", "customer", number, "keys", n)
	}
}

// Missing asks runCustomerKeys to pull keys.
func (k *customerKeys) Missing(string, crdt.CustomerKeyID) { k.kickPull() }

func (k *customerKeys) kickPull() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// openCustomerKeys serves the key protocol.
func (t *Till) openCustomerKeys() {
	custkey.Serve(t.host.Host(), t.admittedTill, t.serveCustomerKeys, customerKeyTimeout)
}

// erasedHere reports whether this till merged the customer's erasure.
func (t *Till) erasedHere(number string) bool {
	c, err := t.inv.Customer(number)
	return err == nil && c.Erased
}

// keepCustomerKeys stores keys a peer gave, except those of customers
// erased here, and opens the customers' slots that waited for them.
func (t *Till) keepCustomerKeys(ctx context.Context, keys []custkey.Key) error {
	got := map[string]bool{}
	for _, k := range keys {
		if t.erasedHere(k.Customer) {
			continue
		}
		if _, ok, err := t.db.CustomerKey(k.Customer, k.ID); err != nil {
			return err
		} else if ok {
			continue
		}
		if err := t.db.PutCustomerKey(k.Customer, k.ID, k.Key); err != nil {
			return err
		}
		if t.erasedHere(k.Customer) { // the erasure merged meanwhile
			t.custKeys.Forget(k.Customer)
			continue
		}
		got[k.Customer] = true
	}
	for n := range got {
		if err := t.inv.RetryCustomer(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// serveCustomerKeys keeps the keys pushed and answers the keys pulled.
func (t *Till) serveCustomerKeys(ctx context.Context, from ledger.TillID, req custkey.Request) custkey.Response {
	if err := t.keepCustomerKeys(ctx, req.Push); err != nil {
		t.log.Warn("keep customer keys a till pushed", "till", t.tillName(from.String()), "err", err)
		return custkey.Response{Error: "keys not stored"}
	}
	var res custkey.Response
	for _, n := range req.Pull {
		if t.erasedHere(n) {
			continue
		}
		held, err := t.db.CustomerKeys(n)
		if err != nil {
			return custkey.Response{Error: "keys not readable"}
		}
		for id, key := range held {
			if len(res.Keys) == custkey.MaxKeys {
				return res
			}
			res.Keys = append(res.Keys, custkey.Key{Customer: n, ID: id, Key: key})
		}
	}
	return res
}

// keyPeers returns the connected, admitted peers.
func (t *Till) keyPeers() []peer.ID {
	var out []peer.ID
	for _, p := range t.host.Peers() {
		if _, ok := t.admittedTill(p.ID); ok && p.Connected {
			out = append(out, p.ID)
		}
	}
	return out
}

// runCustomerKeys pushes new keys and pulls missing ones until ctx ends.
func (t *Till) runCustomerKeys(ctx context.Context) error {
	return keyLoop{
		push:  t.custKeys.push,
		kick:  t.custKeys.kick,
		after: time.After,
		send:  func(ctx context.Context, keys []custkey.Key) { t.exchangeKeys(ctx, custkey.Request{Push: keys}) },
		pull:  t.pullCustomerKeys,
	}.run(ctx)
}

// keyLoop schedules the key protocol's work: it sends pushed keys in
// batches, pulls at every kick, and pulls again while keys are missing
// after a wait that doubles from customerKeyRetry to customerKeyRetryMax
// and starts again at every kick. It is apart from the till so that a
// test drives its clock.
type keyLoop struct {
	push  <-chan custkey.Key
	kick  <-chan struct{}
	after func(time.Duration) <-chan time.Time // time.After, or a test's
	send  func(context.Context, []custkey.Key)
	pull  func(context.Context) (missing bool) // whether keys are still missing
}

func (l keyLoop) run(ctx context.Context) error {
	var retry <-chan time.Time // nil while no key is missing
	wait := customerKeyRetry
	pull := func() {
		if !l.pull(ctx) {
			retry = nil
			return
		}
		retry = l.after(wait)
		wait = min(2*wait, customerKeyRetryMax)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case k := <-l.push:
			batch := []custkey.Key{k}
		more:
			for len(batch) < custkey.MaxRequest {
				select {
				case k := <-l.push:
					batch = append(batch, k)
				default:
					break more
				}
			}
			l.send(ctx, batch)
		case <-l.kick:
			wait = customerKeyRetry
			pull()
		case <-retry:
			pull()
		}
	}
}

// pullCustomerKeys asks the connected tills for the keys sealed slots
// held here wait for, and reports whether any still waits.
func (t *Till) pullCustomerKeys(ctx context.Context) bool {
	pend := t.inv.PendingCustomerKeys()
	if len(pend) == 0 {
		return false
	}
	numbers := make([]string, 0, len(pend))
	for n := range pend {
		numbers = append(numbers, n)
	}
	sort.Strings(numbers)
	for len(numbers) > 0 {
		n := min(len(numbers), custkey.MaxRequest)
		t.exchangeKeys(ctx, custkey.Request{Pull: numbers[:n]})
		numbers = numbers[n:]
	}
	return len(t.inv.PendingCustomerKeys()) > 0
}

// exchangeKeys sends req to every connected till at once and keeps the
// keys they answer with.
func (t *Till) exchangeKeys(ctx context.Context, req custkey.Request) {
	var wg sync.WaitGroup
	for _, p := range t.keyPeers() {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, customerKeyTimeout)
			defer cancel()
			res, err := custkey.Exchange(cctx, t.host.Host(), p, req)
			if err != nil {
				if ctx.Err() == nil {
					t.log.Debug("customer key exchange", "peer", p, "err", err)
				}
				return
			}
			if err := t.keepCustomerKeys(ctx, res.Keys); err != nil && ctx.Err() == nil {
				t.log.Warn("keep customer keys a till gave", "peer", p, "err", err)
			}
		})
	}
	wg.Wait()
}
