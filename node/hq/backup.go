package hq

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/tillmesh/tillmesh/ledger"
)

// Backups of the embedded storage.
//
// A backup file is a header line, Badger's own backup stream (db.Backup:
// every key at one read timestamp, so it is consistent even while HQ
// writes), and a fixed trailer: the stream's length and SHA-256 and an end
// mark. Restore checks the header, the trailer and the hash before it
// creates anything, so a truncated or altered file, or a file that is not
// an HQ backup, is refused with nothing written.
//
//	tillmesh-hq-backup {"version":1,"created":<Unix ms>,"stores":[...]}\n
//	<badger backup stream>
//	<8-byte big-endian stream length><32-byte SHA-256 of the stream>TMHQEND1

// Backup errors.
var (
	ErrInUse     = errors.New("hq: storage in use by another process (is tillmesh hq running? stop it first)")
	ErrNotBackup = errors.New("hq: not an HQ backup file")
	ErrTarget    = errors.New("hq: restore target holds data")
)

const (
	backupMagic   = "tillmesh-hq-backup "
	backupEnd     = "TMHQEND1"
	backupTrailer = 8 + sha256.Size + len(backupEnd)
	backupVersion = 1
)

// BackupHeader describes a backup file.
type BackupHeader struct {
	Version int              `json:"version"`
	Created int64            `json:"created"` // Unix ms
	Stores  []ledger.StoreID `json:"stores"`
}

// BackupInfo is what a backup holds, as Backup and Restore report it.
type BackupInfo struct {
	BackupHeader
	Bytes  int64             // length of the Badger stream
	Events map[string]uint64 // store name -> events held
}

// Backup writes a consistent backup of the storage to w; it is safe while
// HQ runs on b.
func (b *Badger) Backup(ctx context.Context, w io.Writer, now time.Time) (BackupInfo, error) {
	stores, err := b.Stores(ctx)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	info := BackupInfo{BackupHeader: BackupHeader{Version: backupVersion, Created: now.UnixMilli()}, Events: map[string]uint64{}}
	for _, s := range stores {
		info.Stores = append(info.Stores, s.ID)
		n, err := b.Count(ctx, s.ID)
		if err != nil {
			return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
		}
		info.Events[s.Name] = n
	}
	hdr, err := json.Marshal(info.BackupHeader)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := fmt.Fprintf(bw, "%s%s\n", backupMagic, hdr); err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(bw, h)}
	if _, err := b.db.Backup(cw, 0); err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	info.Bytes = cw.n
	trailer := binary.BigEndian.AppendUint64(nil, uint64(cw.n))
	trailer = append(h.Sum(trailer), backupEnd...)
	if _, err := bw.Write(trailer); err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	return info, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BackupBadgerFile backs up the embedded storage in dir, which no HQ may
// have open (ErrInUse), to the file out: written beside it, synced, then
// renamed into place, so out is never a partial backup.
func BackupBadgerFile(ctx context.Context, dir, out string, now time.Time, log *slog.Logger) (BackupInfo, error) {
	if err := checkNotInUse(dir); err != nil {
		return BackupInfo{}, err
	}
	if _, err := os.Stat(filepath.Join(dir, badger.ManifestFilename)); err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage %s: no HQ storage there: %w", dir, err)
	}
	// Opening the storage may create log files; made by another user
	// (root), they would stop HQ from opening it again.
	if fi, err := os.Stat(dir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return BackupInfo{}, fmt.Errorf("backup hq storage %s: it belongs to user id %d: run the backup as that user (sudo -u tillmesh ...)", dir, st.Uid)
		}
	}
	b, err := OpenBadger(dir, log)
	if err != nil {
		return BackupInfo{}, err
	}
	defer b.Close()
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup hq storage: %w", err)
	}
	info, err := b.Backup(ctx, f, now)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return BackupInfo{}, fmt.Errorf("backup hq storage to %s: %w", out, err)
	}
	return info, syncDir(filepath.Dir(out))
}

// ReadBackupHeader checks a backup file from end to end (header, length,
// SHA-256) without writing anything, and returns its header and where
// the Badger stream lies in it.
func ReadBackupHeader(f *os.File) (BackupHeader, int64, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return BackupHeader{}, 0, 0, err
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, fi.Size()), 64<<10)
	line, err := br.ReadSlice('\n')
	rest, ok := bytes.CutPrefix(line, []byte(backupMagic))
	if err != nil || !ok {
		return BackupHeader{}, 0, 0, fmt.Errorf("%w: %s does not start with %q", ErrNotBackup, f.Name(), backupMagic)
	}
	var hdr BackupHeader
	if err := json.Unmarshal(rest, &hdr); err != nil {
		return BackupHeader{}, 0, 0, fmt.Errorf("%w: %s: header: %v", ErrNotBackup, f.Name(), err)
	}
	if hdr.Version != backupVersion {
		return BackupHeader{}, 0, 0, fmt.Errorf("%w: %s is format version %d, this tillmesh reads %d", ErrNotBackup, f.Name(), hdr.Version, backupVersion)
	}
	start := int64(len(line))
	if fi.Size() < start+int64(backupTrailer) {
		return BackupHeader{}, 0, 0, fmt.Errorf("%w: %s is truncated (%d bytes, no end mark)", ErrNotBackup, f.Name(), fi.Size())
	}
	tr := make([]byte, backupTrailer)
	if _, err := f.ReadAt(tr, fi.Size()-int64(backupTrailer)); err != nil {
		return BackupHeader{}, 0, 0, fmt.Errorf("read backup %s: %w", f.Name(), err)
	}
	length := int64(binary.BigEndian.Uint64(tr))
	if string(tr[8+sha256.Size:]) != backupEnd || length != fi.Size()-start-int64(backupTrailer) {
		return BackupHeader{}, 0, 0, fmt.Errorf("%w: %s is truncated or damaged (its end mark does not match its length, %d bytes)", ErrNotBackup, f.Name(), fi.Size())
	}
	var h hash.Hash = sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, start, length)); err != nil {
		return BackupHeader{}, 0, 0, fmt.Errorf("read backup %s: %w", f.Name(), err)
	}
	if !bytes.Equal(h.Sum(nil), tr[8:8+sha256.Size]) {
		return BackupHeader{}, 0, 0, fmt.Errorf("%w: %s is damaged (SHA-256 %s, its trailer says %s)", ErrNotBackup, f.Name(),
			hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(tr[8:8+sha256.Size]))
	}
	return hdr, start, length, nil
}

// RestoreBadgerFile restores the backup file in into dir, which must be
// missing or empty (ErrTarget otherwise: move the old storage aside
// first). The file is checked whole first; the database is built in a
// directory beside dir and renamed into place only when it opened again,
// so a failed restore leaves dir as it was.
func RestoreBadgerFile(ctx context.Context, dir, in string, log *slog.Logger) (BackupInfo, error) {
	if err := checkNotInUse(dir); err != nil {
		return BackupInfo{}, err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return BackupInfo{}, fmt.Errorf("%w: %s is not empty: restore into a new directory, or move this one aside first", ErrTarget, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return BackupInfo{}, fmt.Errorf("restore hq storage %s: %w", dir, err)
	}
	f, err := os.Open(in)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("restore hq storage: %w", err)
	}
	defer f.Close()
	hdr, start, length, err := ReadBackupHeader(f)
	if err != nil {
		return BackupInfo{}, err
	}
	tmp := filepath.Clean(dir) + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return BackupInfo{}, fmt.Errorf("restore hq storage: %w", err)
	}
	info, err := restoreInto(ctx, tmp, io.NewSectionReader(f, start, length), hdr, log)
	if err == nil {
		if rerr := os.Remove(dir); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return BackupInfo{}, fmt.Errorf("restore hq storage %s from %s: %w", dir, in, err)
	}
	info.Bytes = length
	return info, syncDir(filepath.Dir(filepath.Clean(dir)))
}

// restoreInto loads a backup stream into a new database in dir, closes
// it, opens it again and counts what it holds.
func restoreInto(ctx context.Context, dir string, r io.Reader, hdr BackupHeader, log *slog.Logger) (BackupInfo, error) {
	b, err := OpenBadger(dir, log)
	if err != nil {
		return BackupInfo{}, err
	}
	if err := b.db.Load(r, 256); err != nil {
		b.Close()
		return BackupInfo{}, fmt.Errorf("load backup stream: %w", err)
	}
	// The stores' relays may have taken downlink changes the backup
	// lacks, up to cursors it does not know. The restored HQ numbers its
	// changes far above them (CursorGap), or a relay would take its next
	// changes for ones it already applied and skip them.
	if err := b.setCursorFloor(CursorGap); err != nil {
		b.Close()
		return BackupInfo{}, err
	}
	if err := b.Close(); err != nil {
		return BackupInfo{}, err
	}
	if b, err = OpenBadger(dir, log); err != nil {
		return BackupInfo{}, err
	}
	defer b.Close()
	info := BackupInfo{BackupHeader: hdr, Events: map[string]uint64{}}
	stores, err := b.Stores(ctx)
	if err != nil {
		return BackupInfo{}, err
	}
	if len(stores) != len(hdr.Stores) {
		return BackupInfo{}, fmt.Errorf("backup names %d stores, its data holds %d", len(hdr.Stores), len(stores))
	}
	for _, s := range stores {
		n, err := b.Count(ctx, s.ID)
		if err != nil {
			return BackupInfo{}, err
		}
		info.Events[s.Name] = n
	}
	return info, nil
}

// CursorGap is how far a restore moves the downlink change cursor on:
// more changes than HQ makes in its life.
const CursorGap = 1 << 32

// setCursorFloor makes the next change's cursor at least floor+1, now and
// after every reopen.
func (b *Badger) setCursorFloor(floor uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Ask the database for its newest change: b.cursor was read at open,
	// before a Load.
	err := b.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{bChange}, Reverse: true})
		defer it.Close()
		it.Seek([]byte{bChange, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		if it.Valid() {
			floor = max(floor, binary.BigEndian.Uint64(it.Item().Key()[1:])+CursorGap)
		}
		return txn.Set([]byte{bFloor}, binary.BigEndian.AppendUint64(nil, floor))
	})
	if err != nil {
		return fmt.Errorf("move the change cursor on: %w", err)
	}
	b.cursor = max(b.cursor, floor)
	return nil
}

// checkNotInUse fails with ErrInUse while a process holds Badger's lock
// on dir (a flock of the directory itself). It runs before anything opens dir: opening prepares the
// directory (badgeropen's repairs), which must never touch the files of a
// running HQ.
func checkNotInUse(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check hq storage %s: %w", dir, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s", ErrInUse, dir)
		}
		return fmt.Errorf("check hq storage %s: %w", dir, err)
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
