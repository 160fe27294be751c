package ledgerdb

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/node/badgeropen"
)

// openBadger opens the ledger's Badger in dir through badgeropen, which
// repairs the empty logs a power cut during an earlier open leaves
// (dgraph-io/badger issue 2207), and logs each repair.
func openBadger(dir string, log *slog.Logger) (*badger.DB, error) {
	bdb, rep, err := badgeropen.Open(BadgerOptions(dir, log))
	for _, r := range rep {
		log.Warn("ledger: repaired a file a power cut left", "file", r.String())
	}
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	return bdb, nil
}

// BadgerOptions returns Badger options sized for a till, not a server:
// synced writes (an acknowledged sale survives power loss: see docs/ARCHITECTURE.md,
// "Durability facts") and Badger's own log routed to slog at warning
// level. Memory is what a till can spare (BENCHMARKS.md, "Till
// footprint"): each memtable is an arena of 1.3x MemTableSize on the Go
// heap, and flushing one builds its table in memory, so 1 MB memtables
// (about 3,000 sales; Insert's WriteBatch splits bigger runs) and 1 MB
// base tables keep Badger's heap near 6 MB at peak; the block cache
// (decompressed Snappy blocks) is 1 MB, and there is no index cache
// (Badger reads it only for encrypted tables; its fork makes none without
// a key); values up to 64 KB (every event
// but the largest) are stored in the LSM tree, bigger ones in value log
// files of 16 MB. (Badger requires the value threshold to be below its
// largest batch, 15% of MemTableSize.)
// HQ opens its stores with its own, bigger options.
//
// A write-ahead log left in dir by a crash is replayed with the memtable
// size it was written with (see MemTableSizeFor), so a ledger of an
// earlier release (8 MB memtables) still opens after a power cut.
func BadgerOptions(dir string, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithMemTableSize(MemTableSizeFor(dir, 1<<20)).
		WithNumMemtables(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(8 << 20).
		WithBlockCacheSize(1 << 20).
		WithIndexCacheSize(0).
		WithValueThreshold(64 << 10).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		// Writes are serialised by DB's mutex: nothing to detect. With
		// detection on, Badger keeps every committed key's hash while an
		// older read is open (a Range serving a peer, the index build at
		// an upgrade), which grew to hundreds of MB over a year's ledger.
		WithDetectConflicts(false).
		WithLogger(badgerLog{log})
	// Tables of 1 MB at every level, not doubling per level: a compaction
	// keeps up to 13 table builders of twice the table size in memory, so
	// a bulk write (a newcomer fetching a year from a peer) peaked at 525
	// MB of heap with the default and 251 MB with this (BENCHMARKS.md, "A
	// year of history, flat"). A year's ledger is then ~250 files.
	o.TableSizeMultiplier = 1
	return o
}

// MemTableSizeFor returns the memtable size to open the Badger directory
// dir with: want, or the size the memtables of a write-ahead log left in
// dir were written with, if bigger. Badger replays such a log (a file
// *.mem of twice its memtable size, left by a crash; a clean close removes
// it) into an arena of the configured size and exits the process if it
// does not fit. A till that crashed under an earlier release with bigger
// memtables opens with those once; its next clean close flushes them.
func MemTableSizeFor(dir string, want int64) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return want
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size()/2 > want {
			want = fi.Size() / 2
		}
	}
	return want
}

type badgerLog struct{ l *slog.Logger }

func (b badgerLog) Errorf(f string, a ...any)   { b.l.Error("badger: " + trim(fmt.Sprintf(f, a...))) }
func (b badgerLog) Warningf(f string, a ...any) { b.l.Warn("badger: " + trim(fmt.Sprintf(f, a...))) }
func (b badgerLog) Infof(string, ...any)        {}
func (b badgerLog) Debugf(string, ...any)       {}

func trim(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
