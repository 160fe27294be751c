// Package ledgerdb is a till's durable ledger: every event the till holds,
// its own and its peers', in Badger with synced writes, and a ledger.State
// kept in step in memory. The State holds no event: it finds sales and
// their refunds and voids through indexes on disk (index.go, a
// ledger.Index), so a till's memory does not grow with its history.
//
// Invariants:
//   - Append returns only once the event is fsynced. The event and its
//     idempotency key go in one transaction, so a retried request gets the
//     original event and a sale is never recorded twice.
//   - Before each local append the free disk space is checked; below
//     Config.MinFree it refuses with ErrDiskFull rather than let Badger hit
//     a full disk (which kills it with SIGBUS). A ballast file is kept to
//     delete so Badger can reopen on a full disk.
//   - Events from peers are verified before they are stored (Insert):
//     runs that extend a chain by their newest signature plus the hash
//     chain, others one by one. Events above a gap are stored and held
//     until it fills; a conflicting signed event is kept as evidence.
//   - Every event stored under e/ has its index records (sale by ID,
//     refunds and voids by sale) written in the same transaction; a
//     ledger of a release without them is indexed once when it opens.
//   - Each receipt event's number (ledger.ReceiptNo) is indexed both
//     ways (n/, o/; index.go) when it is applied: in the append's
//     transaction, in Insert's batch (after it for events held above a
//     gap), and again for every event Open applies
//     above the checkpoint or Refuse applies, so the records a
//     checkpoint covers are always durable before it.
//   - A checkpoint of the State (chain heads and folds) is stored every
//     Config.CheckpointEvery applied events and at Close, always after
//     the events it covers are durable. Open restores it when the event
//     stored at each of its chain heads is that head, and applies only
//     the events above it; otherwise it applies every event.
//   - Open checks every chain above the checkpoint as it reads it (one
//     record in memory at a time; Config.FullCheck: every chain from its
//     start); a damaged record is moved aside and reported (Problems)
//     instead of the till refusing to start. Damage below the checkpoint
//     is found by Verify (tillmesh ledger verify). A till
//     whose own chain is damaged refuses to sell (ErrOwnChainDamaged) until
//     it has fetched its chain from peers, so it never signs a seq twice.
//   - Open and Verify open Badger through node/badgeropen: a power cut at
//     any instant, start-up included, leaves a ledger that opens on the
//     first attempt with every acknowledged event (dgraph-io/badger issue
//     2207 left the logs of a cut open at 0 bytes and Badger refused them).
//     After every write, before it is acknowledged, the directory is
//     fsynced if Badger created a file (badgeropen.DirSyncer), and a
//     background check does the same every 100 ms.
//   - Badger is sized for a till (BadgerOptions); a write-ahead log left
//     by a crash is replayed with the memtable size it was written with
//     (MemTableSizeFor), so data directories of earlier releases open.
//
// Concurrency: DB is safe for concurrent use; appends and inserts are
// serialised by one mutex.
//
// ledgerdb imports ledger, Badger and node/badgeropen; never node, ui or
// hw.
package ledgerdb
