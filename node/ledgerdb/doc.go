// Package ledgerdb is a till's durable ledger: every event the till holds,
// its own and its peers', in Badger with synced writes, and a ledger.State
// kept in step in memory.
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
//   - Open checks every chain as it reads it (one record in memory at a
//     time); a damaged record is moved aside and reported (Problems)
//     instead of the till refusing to start. A till
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
