package ledgerdb

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// freeBytes returns the bytes available to this process on dir's disk.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

const ballastName = "BALLAST"

// ensureBallast keeps a file of size bytes that can be deleted to give
// Badger room to open on a full disk (it needs ~16 MB: docs/ARCHITECTURE.md). It is
// created only when the disk has room for it beyond the watermark.
func ensureBallast(dir string, size, watermark uint64) error {
	path := filepath.Join(dir, ballastName)
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(size) {
		return nil
	}
	free, err := freeBytes(dir)
	if err != nil || free < size+watermark {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create ballast: %w", err)
	}
	buf := make([]byte, 1<<20)
	for n := uint64(0); n < size; n += uint64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("write ballast: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync ballast: %w", err)
	}
	return f.Close()
}

// releaseBallast deletes the ballast file; it reports whether one existed.
func releaseBallast(dir string) bool {
	err := os.Remove(filepath.Join(dir, ballastName))
	return err == nil
}
