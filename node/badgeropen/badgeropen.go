package badgeropen

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// headerSize is Badger's log file header: an 8-byte data key ID (0 when
// the database is not encrypted) and a 12-byte base IV.
const headerSize = 20

// Repair is one file Prepare fixed.
type Repair struct {
	File   string // path
	Size   int64  // its size before; -1 for a file that was missing
	Action string // what was done, in a few words
}

func (r Repair) String() string {
	if r.Size < 0 {
		return fmt.Sprintf("%s: %s", filepath.Base(r.File), r.Action)
	}
	return fmt.Sprintf("%s (%d bytes): %s", filepath.Base(r.File), r.Size, r.Action)
}

// Prepare readies the directory of o for badger.Open after a power cut
// and reports what it repaired: .mem and .vlog files (in o.Dir and
// o.ValueDir) shorter than Badger's log header (see the package doc), and
// level-0 tables the manifest names but the directory lost (see
// repairManifest). A missing directory is not an error: Badger creates
// it. Encrypted databases are refused when a log needs repair: the header
// would need the current data key, which only Badger holds.
func Prepare(o badger.Options) ([]Repair, error) { return prepare(o, false) }

// PrepareSalvage is Prepare for a store that did not open and is being
// salvaged (a copy, or a directory moved aside): it also drops from the
// manifest every table whose file is missing, whatever its level, so that
// what remains can be read.
func PrepareSalvage(o badger.Options) ([]Repair, error) { return prepare(o, true) }

func prepare(o badger.Options, salvage bool) ([]Repair, error) {
	if o.InMemory {
		return nil, nil
	}
	done, err := prepareLogs(o.Dir, o.ValueDir, len(o.EncryptionKey) > 0)
	if err != nil {
		return done, err
	}
	if len(o.EncryptionKey) == 0 {
		vdir := o.ValueDir
		if vdir == "" {
			vdir = o.Dir
		}
		trimmed, err := trimEmptyValueLogs(vdir)
		done = append(done, trimmed...)
		if err != nil {
			return done, err
		}
	}
	rep, err := repairManifest(o, salvage)
	return append(done, rep...), err
}

// trimEmptyValueLogs cuts every value log but the newest that holds no
// entry back to its header, so that Badger deletes it at open. Badger
// v4.9.6 creates a new value log at every open, preallocated, and
// deletes an older one only when it is exactly a header long; it shortens
// the newest to its end with a truncate it never syncs, so after a power
// cut (or a cut during start-up) the preallocated file comes back and is
// kept for good: the power-cut scenario found 230 value logs after 229
// starts, and starts slowing from 0.8 s to 3.5 s. A log whose first entry
// header is all zeros holds no entry (a real entry's header encodes a key
// length above zero), so no value pointer can name it.
func trimEmptyValueLogs(dir string) ([]Repair, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prepare badger dir %s: %w", dir, err)
	}
	newest := -1
	for _, e := range entries {
		var id int
		if _, err := fmt.Sscanf(e.Name(), "%06d.vlog", &id); err == nil && strings.HasSuffix(e.Name(), ".vlog") {
			newest = max(newest, id)
		}
	}
	var done []Repair
	for _, e := range entries {
		var id int
		name := e.Name()
		if !strings.HasSuffix(name, ".vlog") || !e.Type().IsRegular() {
			continue
		}
		if _, err := fmt.Sscanf(name, "%06d.vlog", &id); err != nil || id == newest {
			continue
		}
		path := filepath.Join(dir, name)
		empty, size, err := emptyValueLog(path)
		if err != nil {
			return done, fmt.Errorf("prepare badger dir %s: %w", dir, err)
		}
		if !empty || size == headerSize {
			continue
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return done, fmt.Errorf("prepare badger dir %s: %w", dir, err)
		}
		err = f.Truncate(headerSize)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return done, fmt.Errorf("prepare badger dir %s: trim empty value log %s: %w", dir, name, err)
		}
		done = append(done, Repair{File: path, Size: size, Action: "cut an older value log that holds no entry back to its header, for Badger to delete"})
	}
	return done, nil
}

// emptyValueLog reports whether the value log at path holds no entry: its
// first entry header, right after the file header, is all zeros or
// missing.
func emptyValueLog(path string) (bool, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, 0, err
	}
	if fi.Size() <= headerSize {
		return true, fi.Size(), nil
	}
	buf := make([]byte, 32)
	n, err := f.ReadAt(buf, headerSize)
	if err != nil && n == 0 && !errors.Is(err, io.EOF) {
		return false, fi.Size(), err
	}
	for _, b := range buf[:n] {
		if b != 0 {
			return false, fi.Size(), nil
		}
	}
	return true, fi.Size(), nil
}

func prepareLogs(dir, valueDir string, encrypted bool) ([]Repair, error) {
	var done []Repair
	dirs := []string{dir}
	if valueDir != "" && filepath.Clean(valueDir) != filepath.Clean(dir) {
		dirs = append(dirs, valueDir)
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("prepare badger dir %s: %w", d, err)
		}
		changed := false
		for _, e := range entries {
			name := e.Name()
			mem, vlog := strings.HasSuffix(name, ".mem"), strings.HasSuffix(name, ".vlog")
			if !mem && !vlog || !e.Type().IsRegular() {
				continue
			}
			path := filepath.Join(d, name)
			fi, err := os.Stat(path)
			if err != nil {
				return done, fmt.Errorf("prepare badger dir %s: %w", d, err)
			}
			if fi.Size() >= headerSize {
				continue
			}
			if encrypted {
				return done, fmt.Errorf("prepare badger dir %s: %s is %d bytes, and an encrypted log cannot be repaired here", d, name, fi.Size())
			}
			r := Repair{File: path, Size: fi.Size()}
			if mem {
				// A memtable WAL is named by number only; nothing refers
				// to it, so an empty one can simply go.
				if err := os.Remove(path); err != nil {
					return done, fmt.Errorf("prepare badger dir %s: remove empty memtable log %s: %w", d, name, err)
				}
				r.Action = "removed: an empty memtable log holds no synced write"
			} else {
				if err := writeEmptyLog(path); err != nil {
					return done, fmt.Errorf("prepare badger dir %s: %w", d, err)
				}
				r.Action = "wrote an empty value log header: the log held no synced value"
			}
			done = append(done, r)
			changed = true
		}
		if changed {
			if err := SyncDir(d); err != nil {
				return done, fmt.Errorf("prepare badger dir %s: %w", d, err)
			}
		}
	}
	return done, nil
}

// writeEmptyLog makes path a valid, empty, unencrypted Badger log: data
// key ID 0, a random base IV, no entries; synced.
func writeEmptyLog(path string) error {
	var h [headerSize]byte
	if _, err := rand.Read(h[8:]); err != nil {
		return fmt.Errorf("value log header for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("repair value log %s: %w", path, err)
	}
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		return fmt.Errorf("repair value log %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("repair value log %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("repair value log %s: %w", path, err)
	}
	return nil
}

// Sync fsyncs the .mem and .vlog files in dir and valueDir, the
// directories and their parents, so the files an open just created (and
// their sizes and headers) survive a power cut. Call it right after an
// open succeeds.
func Sync(dir, valueDir string) error {
	dirs := []string{dir}
	if valueDir != "" && filepath.Clean(valueDir) != filepath.Clean(dir) {
		dirs = append(dirs, valueDir)
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("sync badger dir %s: %w", d, err)
		}
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") || !e.Type().IsRegular() {
				continue
			}
			// Badger deletes a replayed memtable log once it is flushed,
			// possibly meanwhile.
			if err := syncFile(filepath.Join(d, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("sync badger dir %s: %w", d, err)
			}
		}
		if err := SyncDir(d); err != nil {
			return fmt.Errorf("sync badger dir %s: %w", d, err)
		}
		if err := SyncDir(filepath.Dir(filepath.Clean(d))); err != nil {
			return fmt.Errorf("sync badger dir %s: %w", d, err)
		}
	}
	return nil
}

// Open prepares o.Dir (see Prepare), opens it with badger.Open and syncs
// what the open created (see Sync). It returns the repairs made, for the
// caller to log.
func Open(o badger.Options) (*badger.DB, []Repair, error) {
	rep, err := Prepare(o)
	if err != nil {
		return nil, rep, err
	}
	db, err := badger.Open(o)
	if err != nil {
		return nil, rep, err
	}
	if o.InMemory {
		return db, rep, nil
	}
	if err := Sync(o.Dir, o.ValueDir); err != nil {
		db.Close()
		return nil, rep, err
	}
	return db, rep, nil
}

// LeaveCutAtOpen leaves the closed Badger directory dir as a power cut
// during the next badger.Open would: the memtable log and value log that
// the open creates exist, at 0 bytes. For tests, here and in the packages
// that open Badger through this one.
func LeaveCutAtOpen(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cut at open %s: %w", dir, err)
	}
	mem, vlog := 0, 0
	for _, e := range entries {
		n := e.Name()
		var id int
		switch {
		case strings.HasSuffix(n, ".mem"):
			if _, err := fmt.Sscanf(n, "%05d.mem", &id); err == nil {
				mem = max(mem, id)
			}
		case strings.HasSuffix(n, ".vlog"):
			if _, err := fmt.Sscanf(n, "%06d.vlog", &id); err == nil {
				vlog = max(vlog, id)
			}
		}
	}
	names := []string{fmt.Sprintf("%05d.mem", mem+1), fmt.Sprintf("%06d.vlog", vlog+1)}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			return nil, fmt.Errorf("cut at open %s: %w", dir, err)
		}
	}
	return names, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs a directory, so the names created, renamed or removed
// in it survive a power cut.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
