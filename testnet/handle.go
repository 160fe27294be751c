package testnet

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tillmesh/tillmesh/ledger"
	"github.com/tillmesh/tillmesh/node"
	"github.com/tillmesh/tillmesh/node/p2p"
	"github.com/tillmesh/tillmesh/ui"
)

// tillHandle is one running till as the harness drives it: the
// cashier's operations, what the checks read, and the faults. inproc
// calls the node directly; process and netns go over the till's HTTP API
// and its control stdin.
type tillHandle interface {
	sell(ctx context.Context, req ui.SaleRequest) (ackInfo, error)
	refund(ctx context.Context, key string, sale ledger.EventID, picks []ledger.Pick) (ackInfo, error)
	shift(ctx context.Context, key string, open bool) (ackInfo, error)
	receive(ctx context.Context, key string, lines []ledger.StockLine) (ackInfo, error)
	// future records an event of a kind the previous release does not
	// know (rolling-upgrade; process mode, new release only).
	future(ctx context.Context, key string) (ackInfo, error)
	// card issues a gift card paid by sale, or redeems from it
	// (doublespend.go).
	card(ctx context.Context, key string, op ledger.CardOp, card string, amount ledger.Money, sale ledger.EventID) (ackInfo, error)

	// ready reports whether the till holds the catalog and staff and
	// its sessions are logged in.
	ready(ctx context.Context) (bool, error)
	vector(ctx context.Context) (ledger.Vector, error)
	// crdtHeads lists the inventory CRDT's heads, sorted: replicas that
	// have merged the same DAG have the same heads.
	crdtHeads(ctx context.Context) ([]string, error)
	stock(ctx context.Context) (map[string]int64, error)
	// stockLevel is one SKU's stock with each till's counter slot.
	stockLevel(ctx context.Context, sku string) (ui.StockLevel, error)
	isRelay(ctx context.Context) (bool, error)

	block(ctx context.Context, peers []peer.ID, on bool) error
	setSkew(ctx context.Context) error // re-read the slot's skew
	// shape sets a link fault in the till's p2p.Shaper: target "all"
	// for its own link, else the address of another till's.
	shape(ctx context.Context, target string, f p2p.Fault) error

	// stop ends the till: kill is SIGKILL for a process, an abrupt stop
	// in process (the operation in progress finishes first).
	stop(kill bool) error
	peakRSS() int64 // kB; 0 when unknown
	node() *node.Till
}

// ackInfo is what a till answered for an acknowledged event.
type ackInfo struct {
	ID       ledger.EventID // zero when the answer does not carry it
	Seq      uint64
	Receipt  string
	Replayed bool // an earlier event with the same idempotency key
	Moves    map[string]int64
	Lines    []ledger.Line // sales: what was sold
	// LegacyReceipt is set when a till of the previous release answered:
	// its receipt numbers were "<till>-<seq>" (before ledger.ReceiptNo).
	LegacyReceipt bool
}

// errRefused marks a definite answer that the till did not record the
// event (a 4xx): the request must not be retried as it is.
var errRefused = errors.New("refused")

// errBadAnswer marks an answer the harness cannot read: asking again
// would not help.
var errBadAnswer = errors.New("unreadable answer")

// errDown marks a till that is not running: nothing was sent.
var errDown = errors.New("till is down")

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRefused, fmt.Sprintf(format, args...))
}
