package ledgerdb

import (
	"fmt"
	"log/slog"

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
// synced writes (an acknowledged sale survives power loss: see DESIGN.md,
// "Durability facts"), small memtables and caches (a day of sales is a few
// MB), and Badger's own log routed to slog at warning level.
func BadgerOptions(dir string, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithLogger(badgerLog{log})
	return o
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
