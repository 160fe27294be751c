package badgeropen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/table"
	"google.golang.org/protobuf/proto"
)

// repairManifest handles a manifest that names a level-0 table whose file
// is missing. Badger writes the table a memtable is flushed to, records
// it in the (synced) manifest, and only then deletes the memtable's log,
// without syncing the directory in between. On a file system that drops
// directory entries nobody synced, a cut there keeps the manifest's record
// but loses the table's file, and brings the deleted log back (its
// deletion was not synced either). The records are in that log, so
// deleting the table from the manifest lets Badger replay them; Open
// otherwise fails with "file does not exist for table". A missing table
// at a deeper level came from a compaction, which syncs the directory
// before the manifest: that is real damage and is left to fail. So is a
// missing level-0 table older than a table still there, or with no
// memtable log to replay, unless salvage is set: then every missing table
// is dropped, to read what remains of a store that is being salvaged.
func repairManifest(o badger.Options, salvage bool) ([]Repair, error) {
	path := filepath.Join(o.Dir, badger.ManifestFilename)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check manifest %s: %w", path, err)
	}
	defer f.Close()
	m, valid, err := badger.ReplayManifestFile(f, o.ExternalMagicVersion, o)
	if err != nil {
		return nil, nil // Badger reports its own manifest errors
	}
	var missing []uint64
	var newestPresent uint64
	for id, tm := range m.Tables {
		_, err := os.Stat(table.NewFilename(id, o.Dir))
		if err == nil {
			newestPresent = max(newestPresent, id)
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("check manifest %s: %w", path, err)
		}
		if tm.Level != 0 && !salvage {
			return nil, fmt.Errorf("check manifest %s: table %d at level %d is missing: the store is damaged", path, id, tm.Level)
		}
		missing = append(missing, id)
	}
	if len(missing) == 0 {
		return nil, nil
	}
	// After such a cut the lost tables are the newest (any later table
	// came from a compaction, whose directory sync would have kept them),
	// and each one's memtable log is back. Anything else is damage.
	slices.Sort(missing)
	if !salvage && missing[0] < newestPresent {
		return nil, fmt.Errorf("check manifest %s: level-0 table %d is missing but the newer table %d is not: the store is damaged", path, missing[0], newestPresent)
	}
	if n := memtableLogs(o.Dir); !salvage && n < len(missing) {
		return nil, fmt.Errorf("check manifest %s: level-0 tables %v are missing and only %d memtable logs could hold their records", path, missing, n)
	}
	set := &pb.ManifestChangeSet{}
	for _, id := range missing {
		set.Changes = append(set.Changes, &pb.ManifestChange{Id: id, Op: pb.ManifestChange_DELETE})
	}
	buf, err := proto.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("repair manifest %s: %w", path, err)
	}
	var head [8]byte
	binary.BigEndian.PutUint32(head[0:4], uint32(len(buf)))
	binary.BigEndian.PutUint32(head[4:8], crc32.Checksum(buf, crc32.MakeTable(crc32.Castagnoli)))
	// Drop a torn tail first, as Badger's open would: a change set
	// appended after it would never be read.
	if err := f.Truncate(valid); err != nil {
		return nil, fmt.Errorf("repair manifest %s: %w", path, err)
	}
	if _, err := f.WriteAt(append(head[:], buf...), valid); err != nil {
		return nil, fmt.Errorf("repair manifest %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("repair manifest %s: %w", path, err)
	}
	var done []Repair
	for _, id := range missing {
		action := "missing level-0 table deleted from the manifest: its records are replayed from the memtable log"
		if salvage {
			action = "missing table deleted from the manifest, to salvage the rest"
		}
		done = append(done, Repair{File: table.NewFilename(id, o.Dir), Size: -1, Action: action})
	}
	return done, nil
}

// memtableLogs counts the memtable logs in dir that hold more than their
// header.
func memtableLogs(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size() > headerSize {
			n++
		}
	}
	return n
}
