// Package relay is the till side of HQ: the election of one relay per
// store among the tills that reach HQ, the upload of the store's ledger to
// HQ, and the downlink of HQ's catalog, price and staff changes into the
// store's CRDT. Customers go both ways (customers.go): the store's changes
// up, every store's down, merged by the clocks of their field edits.
//
// # Election
//
// Every till heartbeats on the gossip topic tillmesh/<store>/relay (Topic)
// every Heartbeat: whether it reaches HQ, whether it claims the lease,
// its token and the highest token it knows. Only heartbeats authored by
// an admitted till about itself count (Config.Admitted). A relay keeps the
// lease while it heartbeats and reaches HQ. When no till holds a lease
// (none heard for Lease), the lowest-numbered till that reaches HQ claims
// it with a fencing token above every token it has seen, in heartbeats
// and at HQ; it does not if HQ heard from the holder of HQ's highest token
// within a lease (that relay is alive on the far side of a partition).
// Two claims made at once resolve to the higher token, then the lower
// number. A relay that HQ refuses as stale steps down and holds off for
// HoldOff. A dead relay is replaced about Lease after its last heartbeat
// (2 s by default); a relay that stops cleanly tells the others at once.
//
// # Outbox
//
// There is no queue: the outbox is the ledger above HQ's vector. Each
// round the relay asks HQ for its vector (sending its token and its own
// vector), reads what HQ lacks from the ledger (Ledger.RangeRaw: the
// bytes as signed, not decoded) and posts it in batches with the tills'
// certificates; HQ verifies and stores each event once (EventID), so
// overlapping relays cost nothing. Failed rounds are retried after
// MinBackoff doubling to MaxBackoff, with jitter; nothing is dropped
// however long HQ is away. Events HQ refuses (bad signature, unenrolled
// till) are logged at ERROR, stay in the ledger and are offered again
// after MaxBackoff.
//
// # Downlink
//
// The relay asks HQ for changes after a cursor kept in the CRDT itself
// (setting hq.cursor), applies them with PutProduct and PutStaff, and
// moves the cursor, so the next relay goes on where this one stopped and
// tills that were off get the changes through CRDT replication.
//
// # Concurrency
//
// New joins the topic; Run runs the election loop, the gossip receiver,
// the uploader and the HQ prober until its context ends. Status, IsRelay
// and Kick are safe from any goroutine.
//
// # Imports
//
// relay imports ledger, crdt (its value types), hq/hqapi and libp2p's
// interfaces; not node (node composes it), hq itself, ui or hw.
package relay
