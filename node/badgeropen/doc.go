// Package badgeropen opens Badger databases so that a power cut at any
// instant, start-up included, leaves a directory that opens again on the
// first attempt with everything that was fsynced.
//
// Badger v4 (v4.9.6) creates a new memtable WAL (.mem) and value log
// (.vlog) at every open and syncs neither the files' sizes nor the
// directory. A cut before the first synced write leaves them at 0 bytes,
// and the next badger.Open fails with "while opening fid: N err: Create a
// new file" or "Open existing file: .../00000N.vlog err: Create a new
// file" (upstream: dgraph-io/badger issue 2207; a fix is proposed in pull
// request 2331, not merged). Prepare repairs such files before the open
// and Sync makes the files an open created durable after it; Open does
// both around badger.Open. When a Badger release fixes issue 2207, upgrade
// and let TestPlainBadgerFailsOnCutDirectory tell you the workaround can go.
//
// Invariants:
//   - Prepare never removes or rewrites a file that can hold a synced
//     record: it touches only .mem and .vlog files shorter than Badger's
//     20-byte log header. Badger writes that header first, through the
//     same page as the first entry, and syncing an entry syncs the file's
//     size, so a shorter file never held a synced entry. It edits the
//     manifest only to drop a level-0 table whose file is gone while a
//     memtable log holds its records (below).
//   - Log file numbers never go back: a short .vlog is given an empty
//     header instead of being deleted, so Badger skips it (or, if it is
//     the newest, starts the next number after it) and no value pointer
//     can ever resolve into a different file.
//
// Badger also creates a memtable log every MemTableSize of writes, and
// the table a memtable is flushed to, without syncing the directory. On
// file systems that journal metadata in order (ext4, XFS) the entries
// survive with the next fsync anyway; on stricter ones (a power-loss test
// file system that drops every unsynced directory entry) a synced record
// could sit in a file the directory no longer lists. DirSyncer fsyncs the
// directory when its entries changed: the ledger after every write,
// before the write is acknowledged, and every Badger in the background.
// A table flushed in the background is recorded in the manifest before
// that check can see it; a cut in that gap, on such a file system only,
// leaves a manifest naming a missing level-0 table and brings back the
// memtable log it was flushed from. Prepare then deletes the table from
// the manifest so Badger replays the log; without the log it refuses.
//
// Every Badger open in the repository goes through this package: the till
// ledger (node/ledgerdb), the inventory datastore (node), and HQ's embedded
// store (node/hq). It lives under node, not crdt or hw: crdt takes its
// datastore from the node and hw keeps no Badger (the print queue is plain
// files), and node/hq may import it.
//
// Concurrency: the functions are safe to call concurrently for different
// directories; a directory must not be open in Badger while Prepare runs.
//
// badgeropen imports Badger (and its protobuf manifest types) and the
// standard library only.
package badgeropen
