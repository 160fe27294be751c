// Package ledger is the source of truth for money and stock: signed,
// hash-chained events, their validation, version vectors, and the folds
// that turn events into reports and stock.
//
// # Pure core
//
// ledger never reads the clock, the disk, the network or randomness, starts
// no goroutine and logs nothing: time (HLC), keys and idempotency keys come
// in as arguments, so every rule is deterministic and property-testable.
// It imports only the standard library's pure parts, fxamacker/cbor and
// curve25519-voi's ed25519 for batch verification (a test enforces this).
// Storage lives in node/ledgerdb.
//
// # Events
//
// Each till has one append-only chain: Seq 1, 2, 3 ... with no gaps, each
// event's Prev the EventID of the one before. An event is encoded with
// CBOR's core deterministic encoding, signed with the till's ed25519 key
// over the encoding with an empty signature, and identified by the SHA-256
// of the signed encoding (EventID). Decode accepts only that canonical
// encoding, so one event can never travel under two IDs and be counted
// twice. The receipt number is "<till number>-<n>", n counting the till's
// sales, refunds and voids in chain order (receipt.go): unique in the
// store without coordination, gapless per till, the same at every till
// and HQ, and the chain proves no gaps.
//
// A till that signs two different events for one Seq has equivocated:
// State keeps the first in the chain, records both as Evidence, and flags
// the till; it never silently picks one. Because the newest event of a run
// commits to every earlier one through Prev, VerifyRun authenticates a
// whole run with one signature check plus hashing. Where every signature
// must be checked (ledger verify, HQ's --verify-every-signature),
// VerifyAll checks them in batches, about three times cheaper each; its
// doc says how its acceptance rule differs from crypto/ed25519's.
//
// # Versions and forward compatibility
//
// FormatVersion names the envelope and the signing rules. Bodies grow
// without it: Decode keeps an event of a kind this version does not know
// as *Unknown, and skips fields it does not know in a known kind, keeping
// the body's bytes as signed, so the event verifies, chains, and travels
// on byte for byte (its ID and signature are over those bytes). The body
// must still be canonical CBOR within the size limits. Folds leave
// unknown kinds out and count them (Fold.Newer), for a warning such as
// "3 events from a newer version (kind gift_card)". Sign refuses an
// *Unknown: a till writes only kinds it can fold.
//
// # Money and tax
//
// Money is int64 minor units; the currency (ISO 4217) travels in the body.
// Tax rates are basis points (2000 = 20%). For each sale line:
//
//	gross    = qty x unit price          (qty in grams for Kilogram lines:
//	                                      gross = grams x price per kg / 1000)
//	paid     = gross - line discount - share of the cart discount
//	included: tax = paid x rate / (10000 + rate), net = paid - tax, amount = paid
//	excluded: tax = paid x rate / 10000,          net = paid,       amount = paid + tax
//
// Every division rounds half away from zero, once per line (never on the
// sum), in 128-bit arithmetic so no intermediate overflows. The cart
// discount is split over the lines in proportion to what each line costs
// after its own discount, by the largest remainder method: shares are
// rounded down and the units left over go to the largest remainders,
// earlier lines first; the shares sum to the discount exactly. Worked
// examples (tax_test.go):
//
//	3 x 1.99 at 20% included: 5.97, tax 597x2000/12000 = 99.5 -> 1.00, net 4.97
//	2 x 4.99 at 8.25% excluded: net 9.98, tax 82.335 -> 0.82, total 10.80
//	1.234 kg at 2.99/kg: 1234 x 299 / 1000 = 368.966 -> 3.69
//	1.00 off a cart of 3.00 (20% incl.) + 7.00 (0%): 0.30 and 0.70 off;
//	  the first line pays 2.70 of which tax 0.45
//	0.10 off three lines of 1.00: 0.04, 0.03, 0.03
//
// A sale's tenders less its change equal its total exactly, and change
// comes out of cash only. A refund line's amount and tax are prorated from
// what remains of the sale line (Prorate), so refunding the last unit
// returns exactly what is left and partial refunds never drift. Cash
// rounding (rounding.go) rounds only the cash part due to the store's
// step (so'm to 100, francs to 0.05), half away from zero; the rounding
// is a line of its own in the body (Sale.Rounding), untaxed, and the
// tenders less the change equal the total plus the rounding.
//
// # State and folds
//
// State.Apply takes verified events in any order, any number of times:
// duplicates are no-ops, events above a gap are held until it fills, and
// the folds (Fold) see each event once in its till's chain order. Any two
// States holding the same events report identical totals, shifts, stock and
// refundable remainders. Refunds and voids copy what they need from the
// sale (SKU, tax rate, amounts), so folds never wait for another till's
// event. State.CheckLocal holds a till's own new events to the rules that
// need the rest of the ledger (refund at most what remains, counting every
// till's refunds; void only a known, unvoided, unrefunded sale; one open
// shift); a peer's events are accepted as signed, since the peer may have
// acted during a partition, and Fold.Anomalies reports the conflicts.
//
// Spent once (grant.go, card.go, overspend.go): a refund names the
// grant of the till that made the sale (Refund.Grant) or an offline
// approval (Refund.Offline); the owner grants with GrantLines, counting
// what its unused grants still reserve. Gift cards, store credit and
// loyalty points are balances folded from card events (FoldCard,
// FoldEntries) owned by the till that first issued them. Overspends and
// CardBalance.Overspend report what went beyond a total, with the tills,
// events and amounts; only spends without a grant can cause one.
//
// A State keeps no event: only chain heads and the running folds. It
// finds older events (a refund's sale, a sale's refunds, the ID at a
// chain position) through an Index its owner keeps (a node's is on disk;
// NewState keeps a MemIndex of its own), and State.Checkpoint and
// RestoreState save and restore it, so a node need not apply every event
// at start.
//
// # Concurrency
//
// Nothing here is safe for concurrent mutation: one goroutine owns a State.
// Events are immutable once signed or decoded.
package ledger
