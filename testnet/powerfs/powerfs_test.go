package powerfs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tillmesh/tillmesh/testnet/testkit"
)

var (
	availOnce sync.Once
	availErr  error
)

func quiet() *slog.Logger { return testkit.Quiet() }

// mount mounts a fresh powerfs (POSIX model) over an empty backing
// directory, or skips where FUSE is missing.
func mount(t *testing.T) *FS {
	t.Helper()
	return mountModel(t, POSIX)
}

func mountModel(t *testing.T, model Model) *FS {
	t.Helper()
	availOnce.Do(func() { availErr = Available(quiet()) })
	if availErr != nil {
		t.Skipf("powerfs needs FUSE: %v", availErr)
	}
	dir := t.TempDir()
	b, m := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{b, m} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Mount(b, m, Options{Logger: quiet(), Model: model})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return f
}

func mustWrite(t *testing.T, path string, data []byte, syncFile bool) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if syncFile {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustSyncDir(t *testing.T, path string) {
	t.Helper()
	if err := syncDir(path); err != nil {
		t.Fatalf("fsync dir %s: %v", path, err)
	}
}

func mustCut(t *testing.T, f *FS) {
	t.Helper()
	if err := f.Cut(); err != nil {
		t.Fatal(err)
	}
}

// content reads a file, "<absent>" when it is not there.
func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCutDropsWhatWasNotSynced(t *testing.T) {
	tests := []struct {
		name     string
		syncFile bool
		syncDir  bool
		want     string
	}{
		{"nothing synced: gone", false, false, "<absent>"},
		{"file synced, directory not: gone", true, false, "<absent>"},
		{"directory synced, file not: there, empty", false, true, ""},
		{"both synced: kept", true, true, "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mount(t)
			p := filepath.Join(f.Mountpoint(), "a")
			mustWrite(t, p, []byte("hello"), tt.syncFile)
			if tt.syncDir {
				mustSyncDir(t, f.Mountpoint())
			}
			if got := content(t, p); got != "hello" {
				t.Fatalf("before the cut: %q, want hello", got)
			}
			mustCut(t, f)
			if got := content(t, p); got != tt.want {
				t.Errorf("after the cut: %q, want %q", got, tt.want)
			}
			if got := content(t, filepath.Join(f.Backing(), "a")); got != tt.want {
				t.Errorf("backing after the cut: %q, want %q", got, tt.want)
			}
		})
	}
}

// The ext4 model commits every namespace change at any fsync, as ext4's
// journal does: a synced new file keeps its name without a directory
// fsync, and a file never synced whose name another fsync committed
// comes back empty.
func TestExt4Model(t *testing.T) {
	f := mountModel(t, Ext4)
	sub := filepath.Join(f.Mountpoint(), "ledger")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	a, b, c := filepath.Join(sub, "a"), filepath.Join(sub, "b"), filepath.Join(f.Mountpoint(), "c")
	mustWrite(t, a, []byte("unsynced"), false)
	mustWrite(t, b, []byte("synced"), true)
	mustWrite(t, c, []byte("after the last fsync"), false)
	mustCut(t, f)
	for _, tt := range []struct{ path, want string }{{a, ""}, {b, "synced"}, {c, "<absent>"}} {
		if got := content(t, tt.path); got != tt.want {
			t.Errorf("%s after the cut: %q, want %q", filepath.Base(tt.path), got, tt.want)
		}
	}
}

// A synced file's later writes, truncates and extensions are lost
// unless synced again; what was synced stays.
func TestCutRestoresSyncedContents(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "a")
	mustWrite(t, p, []byte("hello world"), true)
	mustSyncDir(t, f.Mountpoint())

	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("HELLO"), 0); err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(8); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if got, want := content(t, p), "HE\x00\x00\x00\x00\x00\x00"; got != want {
		t.Fatalf("before the cut: %q, want %q (a truncate then extend reads zeros)", got, want)
	}
	mustCut(t, f)
	if got := content(t, p); got != "hello world" {
		t.Errorf("after the cut: %q, want the synced hello world", got)
	}

	// Synced this time: the new contents stay.
	fh, err = os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Truncate(3)
	fh.WriteAt([]byte("p!"), 3)
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	mustCut(t, f)
	if got := content(t, p); got != "help!" {
		t.Errorf("after a synced rewrite and a cut: %q, want help!", got)
	}
}

func TestRenameAndUnlink(t *testing.T) {
	f := mount(t)
	dir := f.Mountpoint()
	a, tmp := filepath.Join(dir, "a"), filepath.Join(dir, "a.tmp")
	mustWrite(t, a, []byte("old"), true)
	mustSyncDir(t, dir)

	// The atomic-replace idiom without the directory fsync: the rename
	// is lost, a keeps its old contents, the temporary file is gone.
	mustWrite(t, tmp, []byte("new"), true)
	if err := os.Rename(tmp, a); err != nil {
		t.Fatal(err)
	}
	mustCut(t, f)
	if got := content(t, a); got != "old" {
		t.Errorf("rename without directory fsync: a = %q, want old", got)
	}
	if got := content(t, tmp); got != "<absent>" {
		t.Errorf("rename without directory fsync: a.tmp = %q, want absent", got)
	}

	// With it: replaced.
	mustWrite(t, tmp, []byte("new"), true)
	if err := os.Rename(tmp, a); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, dir)
	mustCut(t, f)
	if got := content(t, a); got != "new" {
		t.Errorf("rename with directory fsync: a = %q, want new", got)
	}
	if got := content(t, tmp); got != "<absent>" {
		t.Errorf("rename with directory fsync: a.tmp = %q, want absent", got)
	}

	// An unlink not synced comes back; a synced one does not.
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	mustCut(t, f)
	if got := content(t, a); got != "new" {
		t.Errorf("unlink without directory fsync: a = %q, want new", got)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, dir)
	mustCut(t, f)
	if got := content(t, a); got != "<absent>" {
		t.Errorf("synced unlink: a = %q, want absent", got)
	}
}

// A directory and what is in it survive only if every directory on the
// way is synced: the new directory's entry lives in its parent.
func TestNewDirectoryNeedsItsParentSynced(t *testing.T) {
	f := mount(t)
	sub := filepath.Join(f.Mountpoint(), "ledger")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(sub, "000001.vlog")
	mustWrite(t, p, []byte("entry"), true)
	mustSyncDir(t, sub)
	mustCut(t, f)
	if _, err := os.Stat(sub); !os.IsNotExist(err) {
		t.Fatalf("directory whose parent was never synced: stat %v, want not exist", err)
	}

	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, p, []byte("entry"), true)
	mustSyncDir(t, sub)
	mustSyncDir(t, f.Mountpoint())
	// Moved to a new name and the move synced in the parent: kept there.
	moved := filepath.Join(f.Mountpoint(), "ledger.old")
	if err := os.Rename(sub, moved); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, f.Mountpoint())
	mustCut(t, f)
	if got := content(t, filepath.Join(moved, "000001.vlog")); got != "entry" {
		t.Errorf("synced directory after a synced rename: %q, want entry", got)
	}
	if _, err := os.Stat(sub); !os.IsNotExist(err) {
		t.Errorf("old name after a synced rename: stat %v, want not exist", err)
	}
}

// Shared writable mappings, as Badger's memtables and value logs use:
// msync makes them durable, and without it a cut drops them.
func TestMmap(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "m")
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	const size = 1 << 20
	if err := fh.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, f.Mountpoint())
	fh.Close()
	// The mapping is made in a child process: a goroutine of this
	// process faulting on a page of its own FUSE mount can hold up the
	// garbage collector's stop-the-world while the server goroutines that
	// would answer the fault are stopped (a deadlock seen under -race).
	cmd := exec.Command(os.Args[0], "-test.run=^TestMmapChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), mmapChildEnv+"="+p)
	if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("mapped ok")) {
		t.Fatalf("mmap child: %v\n%s", err, out)
	}
	// Another reader sees both writes through the page cache.
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[4096:4102], []byte("synced")) || !bytes.Equal(got[8192:8202], []byte("not synced")) {
		t.Fatalf("reader does not see the mapping's writes")
	}
	mustCut(t, f)
	got, err = os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != size || !bytes.Equal(got[4096:4102], []byte("synced")) {
		t.Fatalf("after the cut: %d bytes, synced part %q", len(got), got[4096:4102])
	}
	if !bytes.Equal(got[8192:8202], make([]byte, 10)) {
		t.Errorf("after the cut, the unsynced part reads %q, want zeros", got[8192:8202])
	}
}

const mmapChildEnv = "POWERFS_MMAP_CHILD"

// TestMmapChild is TestMmap's child process: it maps the file named in
// its environment, writes "synced" and msyncs it, then writes "not
// synced" without a sync. Run alone it does nothing.
func TestMmapChild(t *testing.T) {
	p := os.Getenv(mmapChildEnv)
	if p == "" {
		t.Skip("run by TestMmap")
	}
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	mem, err := syscall.Mmap(int(fh.Fd()), 0, 1<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(mem[4096:], "synced")
	if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
		t.Fatal(err)
	}
	copy(mem[8192:], "not synced")
	if err := syscall.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	fmt.Println("mapped ok")
}

// Frozen, the file system answers nothing until Release, then EIO, and
// changes nothing.
func TestFreeze(t *testing.T) {
	f := mount(t)
	p := filepath.Join(f.Mountpoint(), "a")
	mustWrite(t, p, []byte("x"), true)
	mustSyncDir(t, f.Mountpoint())
	f.Freeze()
	var released atomic.Bool
	done := make(chan error, 1)
	go func() {
		err := os.WriteFile(filepath.Join(f.Mountpoint(), "b"), []byte("y"), 0o644)
		if !released.Load() {
			err = fmt.Errorf("answered before Release: %v", err)
		} else if err == nil {
			err = errors.New("write after Freeze succeeded")
		} else {
			err = nil
		}
		done <- err
	}()
	released.Store(true)
	f.Release()
	if err := <-done; err != nil {
		t.Error(err)
	}
	mustCut(t, f)
	if got := content(t, p); got != "x" {
		t.Errorf("after freeze and cut: %q, want x", got)
	}
	if got := content(t, filepath.Join(f.Mountpoint(), "b")); got != "<absent>" {
		t.Errorf("file written while frozen: %q, want absent", got)
	}
	if err := os.WriteFile(filepath.Join(f.Mountpoint(), "b"), []byte("y"), 0o644); err != nil {
		t.Errorf("write after the cut's remount: %v", err)
	}
}

// Random writes, truncates, extensions, fsyncs and cuts on a few files,
// checked against a plain model after every step: what a read returns
// is what was written last, and after a cut what was last synced.
func TestRandomAgainstModel(t *testing.T) {
	f := mount(t)
	seed := uint64(time.Now().UnixNano() % 1_000_000)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	const files = 3
	type model struct{ now, synced []byte }
	ms := make([]model, files)
	paths := make([]string, files)
	for i := range files {
		paths[i] = filepath.Join(f.Mountpoint(), fmt.Sprintf("f%d", i))
		mustWrite(t, paths[i], nil, true)
	}
	mustSyncDir(t, f.Mountpoint())
	for step := range 400 {
		i := rng.IntN(files)
		m := &ms[i]
		fh, err := os.OpenFile(paths[i], os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		what := ""
		switch r := rng.IntN(10); {
		case r < 5:
			off := rng.IntN(3 * pageSize * 4)
			data := make([]byte, 1+rng.IntN(3*pageSize))
			for k := range data {
				data[k] = byte(rng.IntN(255) + 1)
			}
			if _, err := fh.WriteAt(data, int64(off)); err != nil {
				t.Fatal(err)
			}
			if end := off + len(data); end > len(m.now) {
				m.now = append(m.now, make([]byte, end-len(m.now))...)
			}
			copy(m.now[off:], data)
			what = fmt.Sprintf("write %d at %d", len(data), off)
		case r < 7:
			sz := rng.IntN(3 * pageSize * 4)
			if err := fh.Truncate(int64(sz)); err != nil {
				t.Fatal(err)
			}
			if sz < len(m.now) {
				m.now = m.now[:sz]
			} else {
				m.now = append(m.now, make([]byte, sz-len(m.now))...)
			}
			what = fmt.Sprintf("truncate %d", sz)
		case r < 9:
			if err := fh.Sync(); err != nil {
				t.Fatal(err)
			}
			m.synced = append([]byte(nil), m.now...)
			what = "fsync"
		default:
			fh.Close()
			mustCut(t, f)
			for k := range ms {
				ms[k].now = append([]byte(nil), ms[k].synced...)
			}
			what = "cut"
		}
		fh.Close()
		for k := range files {
			got, err := os.ReadFile(paths[k])
			if err != nil {
				t.Fatalf("seed %d step %d (%s on f%d): read f%d: %v", seed, step, what, i, k, err)
			}
			if !bytes.Equal(got, ms[k].now) {
				t.Fatalf("seed %d step %d (%s on f%d): f%d reads %d bytes, want %d (first difference at %d)",
					seed, step, what, i, k, len(got), len(ms[k].now), firstDiff(got, ms[k].now))
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
