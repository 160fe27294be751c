package badgeropen

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// A DirSyncer fsyncs a Badger directory whenever its entries changed since
// its last sync. Badger fsyncs the directory after compactions and at
// close, but not when it creates a new memtable log (every MemTableSize of
// writes) or the table a memtable is flushed to: with synced writes the
// records in a new log are on disk, and the file holding them is reachable
// once its directory entry is too. File systems that journal metadata in
// order (ext4, XFS) keep the entry anyway; stricter ones need the fsync.
//
// Call Sync after each write that must survive a power cut before it is
// acknowledged; Start also checks in the background. It is safe for
// concurrent use.
type DirSyncer struct {
	dir string

	mu    sync.Mutex
	names []string // the entries at the last sync, sorted
	syncs int
}

// NewDirSyncer returns a DirSyncer for dir that knows none of its entries
// yet, so its first Sync fsyncs.
func NewDirSyncer(dir string) *DirSyncer { return &DirSyncer{dir: dir} }

// Sync fsyncs the directory if its entries changed since the last sync.
// Listing a Badger directory (a few dozen names) costs microseconds; the
// fsync happens only after Badger created or removed a file.
func (s *DirSyncer) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", s.dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", s.dir, err)
	}
	slices.Sort(names)
	if s.names != nil && slices.Equal(names, s.names) {
		return nil
	}
	// Entries made after the listing are synced too; they differ from
	// the names kept, so the next call syncs again: harmless.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", s.dir, err)
	}
	s.names = names
	s.syncs++
	return nil
}

// Syncs reports how many times the directory was fsynced.
func (s *DirSyncer) Syncs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncs
}

// Start checks the directory every interval until stop is called; stop
// waits for the checker to end. onErr, if not nil, gets each failed sync.
func (s *DirSyncer) Start(every time.Duration, onErr func(error)) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := s.Sync(); err != nil && onErr != nil {
					onErr(err)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}
