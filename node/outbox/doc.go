// Package outbox sends the store's events to services outside the store
// (a fiscal service, a messenger, webhooks) once each, whenever the
// internet is up, without ever holding up a sale.
//
// # The outbox is the ledger
//
// There is no queue. A Connector says which events it wants (Wants); its
// outbox is the store's merged ledger above its cursor, a version vector
// kept in the store's CRDT (crdt.OutboxEntry, /outbox/<connector>/...).
// The till that leads (Config.Leader: the store's elected relay, or the
// lowest-numbered till in reach when the store has no HQ) sends; every
// other till only counts the backlog, from the same replicated state.
//
// # Once, across a failover
//
//   - Every request carries the event's ID as its idempotency key.
//   - Each result (sent with the service's reference, or rejected with a
//     code and reason) is recorded as the item's Record in the CRDT,
//     grouped (Flush results or FlushEvery, one DAG node per group), and
//     the cursor moves only over recorded items, in a later write. So a
//     till taking over never sends an item whose result it has received,
//     and repeats at most the requests the old leader had in flight or
//     not yet recorded; the service answers those from the idempotency
//     key with its first answer (never a second registration).
//   - Telegram's sendMessage takes no idempotency key, so there such a
//     repeat is a second message: the window is a sender killed after a
//     send and before its record reached another till (FlushEvery, then
//     a merge). A webhook names the event in its EventHeader, by which a
//     receiver drops a repeat.
//   - A Ref (fiscal number) the service already gave another event is a
//     rejection ("duplicate_ref"), indexed in the CRDT by its hash.
//
// # Failures
//
// Send's error decides: ErrUnreachable (no answer, 429, 502-504) retries
// for as long as it takes, the whole connector backing off (MinBackoff
// doubling to MaxBackoff, jittered in the upper half); a *Rejection goes
// to the dead-letter list at once; any other error (garbage, a broken-off
// answer, a 500) is retried with backoff up to MaxAttempts, then
// dead-lettered with the last error. Retry puts a dead letter back; it is
// sent with its original event ID. A connector with Window 1 sends in
// strict ledger order (an item that failed holds back the ones after
// it); a wider window sends items in order but lets them overlap.
//
// # Store-wide order
//
// A connector that is not PerTill gets the store's items in ledger order
// (HLC time, till number, seq) among the tills this till hears from: an
// item goes only once every till Config.Heard lists has shown an event
// or a clock at least as late (watermark.go), or once it has held the
// outbox back for Config.Hold. A till not listed (cut off, silent) is not
// waited for; its events that arrive later go out late. Status.WaitingFor
// names the till an item waits for.
//
// When the service is found away, the round takes no new item but lets
// the requests in flight answer and records them: an answer cut off is
// an item the service may hold that goes again.
//
// # Concurrency
//
// Run runs one goroutine per connector (plus Window senders during a
// round). Status, DeadLetters, Record, Retry and Kick are safe from any
// goroutine.
//
// # Imports
//
// outbox imports ledger and crdt's entry type; not node, ui, hw or the
// connectors (they import it).
package outbox
