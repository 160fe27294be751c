package powerfs

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is a mounted power-loss file system. Its methods are safe for
// concurrent use.
type FS struct {
	backing string
	store   string
	mnt     string
	log     *slog.Logger
	model   Model

	opMu sync.Mutex // one Cut or Close at a time

	mu     sync.Mutex // the model: every node of the current generation
	gen    *generation
	server *fuse.Server
	cuts   int
	closed bool
}

// generation is the model between two cuts: the tree as programs see
// it. A cut marks it dead (every operation then fails with EIO and
// changes nothing) and builds a new one from the backing directory.
type generation struct {
	fs           *FS
	frozen       bool          // the power is off: operations wait for released, then fail
	released     chan struct{} // closed by Release (or Cut)
	releasedDone bool
	nsDirty      bool // Ext4: a namespace change not yet committed
	nextIno      uint64
	root         *dirNode
	files        []*fileNode // every file node, to close their store files
}

// Model says which changes an fsync makes durable.
type Model int

// Models.
const (
	// POSIX: a file's fsync makes its contents and size durable, a
	// directory's fsync its entries; nothing else does.
	POSIX Model = iota
	// Ext4: as POSIX, but every fsync, of a file or a directory, also
	// makes every namespace change made so far durable (creates,
	// renames, unlinks, in every directory), as ext4's journal commit
	// does. Contents and sizes still need their own file's fsync.
	Ext4
)

func (m Model) String() string {
	if m == Ext4 {
		return "ext4"
	}
	return "posix"
}

// ParseModel reads "posix" or "ext4".
func ParseModel(s string) (Model, error) {
	switch s {
	case "posix":
		return POSIX, nil
	case "ext4":
		return Ext4, nil
	}
	return 0, fmt.Errorf("powerfs: model %q: want posix or ext4", s)
}

// Options configure a mount.
type Options struct {
	Logger *slog.Logger // required
	Model  Model
}

// Mount serves backing at mountpoint. The store directory backing +
// ".powerfs" is made (or emptied) next to backing. Both directories must
// exist; backing's contents are the durable state the mount starts from.
func Mount(backing, mountpoint string, o Options) (*FS, error) {
	log := o.Logger
	if log == nil {
		return nil, errors.New("powerfs: no logger")
	}
	var err error
	if backing, err = filepath.Abs(backing); err != nil {
		return nil, fmt.Errorf("powerfs: backing %q: %w", backing, err)
	}
	if mountpoint, err = filepath.Abs(mountpoint); err != nil {
		return nil, fmt.Errorf("powerfs: mount point %q: %w", mountpoint, err)
	}
	for _, d := range []string{backing, mountpoint} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("powerfs: %s is not a directory (%v)", d, err)
		}
	}
	f := &FS{backing: backing, store: backing + ".powerfs", mnt: mountpoint, log: log, model: o.Model}
	if err := f.mount(); err != nil {
		return nil, err
	}
	return f, nil
}

// Model returns the durability model.
func (f *FS) Model() Model { return f.model }

// Mountpoint returns where the file system is mounted.
func (f *FS) Mountpoint() string { return f.mnt }

// Backing returns the backing directory: what a cut would leave.
func (f *FS) Backing() string { return f.backing }

// Cuts returns how many cuts there were.
func (f *FS) Cuts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cuts
}

// Freeze turns the power off: from now on every operation on the mount
// waits without an answer, changing nothing, until Release. Kill the
// programs using the mount, then Release (or Cut, which releases) so
// that the killed programs, stuck in the kernel waiting for an answer,
// can exit: a program must not see a failed write and go on, as it
// would if the disk answered EIO at once.
func (f *FS) Freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != nil {
		f.gen.frozen = true
	}
}

// Release answers every operation waiting since Freeze, and every later
// one, with EIO, until the next Cut mounts the disk again.
func (f *FS) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != nil && !f.gen.releasedDone {
		f.gen.releasedDone = true
		close(f.gen.released)
	}
}

// Cut loses power: it freezes the file system, unmounts it, drops every
// write not yet synced and mounts the backing directory again. Programs
// using the mount must have been killed first; a mount still busy is
// detached lazily (its stragglers keep getting EIO).
func (f *FS) Cut() error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if f.closed {
		return errors.New("powerfs: cut: closed")
	}
	f.Freeze()
	f.Release()
	if err := f.unmount(); err != nil {
		return fmt.Errorf("powerfs: cut: %w", err)
	}
	f.mu.Lock()
	f.cuts++
	f.mu.Unlock()
	if err := f.mount(); err != nil {
		return fmt.Errorf("powerfs: cut: remount: %w", err)
	}
	return nil
}

// Close unmounts without a cut's loss: nothing is synced either, so
// what was not synced is dropped just the same, but the mount point is
// left empty. The backing and store directories stay; RemoveStore
// deletes the latter.
func (f *FS) Close() error {
	f.opMu.Lock()
	defer f.opMu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.Freeze()
	f.Release()
	err := f.unmount()
	return errors.Join(err, os.RemoveAll(f.store))
}

func (f *FS) unmount() error {
	f.mu.Lock()
	srv, gen := f.server, f.gen
	f.server = nil
	f.mu.Unlock()
	if srv != nil {
		if err := srv.Unmount(); err != nil {
			// Still busy: detach it; the old server keeps answering EIO
			// to whatever still holds it.
			if derr := syscall.Unmount(f.mnt, syscall.MNT_DETACH); derr != nil {
				return fmt.Errorf("unmount %s: %v; detach: %w", f.mnt, err, derr)
			}
			f.log.Warn("powerfs: mount busy at the cut: detached", "mount", f.mnt, "err", err)
		}
	}
	if gen != nil {
		f.mu.Lock()
		for _, n := range gen.files {
			n.data.Close()
		}
		f.mu.Unlock()
	}
	return nil
}

// mount builds a generation from the backing directory and serves it.
func (f *FS) mount() error {
	if err := os.RemoveAll(f.store); err != nil {
		return fmt.Errorf("powerfs: clear store: %w", err)
	}
	if err := os.Mkdir(f.store, 0o700); err != nil {
		return fmt.Errorf("powerfs: store: %w", err)
	}
	g := &generation{fs: f, nextIno: 1, released: make(chan struct{})}
	g.root = g.newDir(0o755)
	g.root.inited = true
	seen := map[[2]uint64]*fileNode{}
	if err := g.load(g.root, f.backing, seen); err != nil {
		return err
	}
	sec := time.Second
	opts := &gofs.Options{
		EntryTimeout: &sec,
		AttrTimeout:  &sec,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "powerfs:" + f.backing,
			Name:              "powerfs",
			MaxWrite:          1 << 20,
			DisableXAttrs:     true,
		},
	}
	srv, err := gofs.Mount(f.mnt, g.root, opts)
	if err != nil {
		for _, n := range g.files {
			n.data.Close()
		}
		return fmt.Errorf("powerfs: mount %s: %w", f.mnt, err)
	}
	f.mu.Lock()
	f.gen, f.server = g, srv
	f.mu.Unlock()
	return nil
}

// load reads a backing directory into d: each file is linked into the
// store under its inode number, each directory read in turn.
func (g *generation) load(d *dirNode, path string, seen map[[2]uint64]*fileNode) error {
	ents, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("powerfs: load %s: %w", path, err)
	}
	for _, e := range ents {
		p := filepath.Join(path, e.Name())
		if isTemp(e.Name()) {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("powerfs: load: %w", err)
			}
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("powerfs: load: %w", err)
		}
		var n node
		switch {
		case fi.IsDir():
			c := g.newDir(uint32(fi.Mode().Perm()))
			c.bParent, c.bName = d, e.Name()
			if err := g.load(c, p, seen); err != nil {
				return err
			}
			n = c
		case fi.Mode().IsRegular():
			st := fi.Sys().(*syscall.Stat_t)
			key := [2]uint64{uint64(st.Dev), st.Ino}
			c := seen[key]
			if c == nil {
				if c, err = g.newFile(uint32(fi.Mode().Perm()), p); err != nil {
					return err
				}
				c.durSize, c.size, c.trunc = fi.Size(), fi.Size(), fi.Size()
				c.mtime = fi.ModTime()
				seen[key] = c
			}
			n = c
		default:
			return fmt.Errorf("powerfs: load %s: only files and directories are supported, not %v", p, fi.Mode().Type())
		}
		d.entries[e.Name()] = n
		d.durable[e.Name()] = n
	}
	return nil
}

const tempPrefix = ".powerfs-tmp-"

func isTemp(name string) bool {
	return len(name) > len(tempPrefix) && name[:len(tempPrefix)] == tempPrefix
}

// node is a file or a directory of the model.
type node interface {
	gofs.InodeEmbedder
	ino() uint64
	fileMode() uint32 // S_IF* | permissions
	initDone() bool
	setInit()
}

func (g *generation) newDir(perm uint32) *dirNode {
	d := &dirNode{g: g, id: g.nextIno, perm: perm, entries: map[string]node{}, durable: map[string]node{}, mtime: time.Now()}
	g.nextIno++
	return d
}

// newFile makes a file node whose store file is a hard link to link, or
// a new empty file when link is "".
func (g *generation) newFile(perm uint32, link string) (*fileNode, error) {
	n := &fileNode{g: g, id: g.nextIno, perm: perm, dirty: map[int64][]byte{}, mtime: time.Now()}
	g.nextIno++
	p := n.storePath()
	var err error
	if link != "" {
		err = os.Link(link, p)
	}
	if err == nil {
		n.data, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, fs.FileMode(perm)|0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("powerfs: store file: %w", err)
	}
	g.files = append(g.files, n)
	return n, nil
}

// attr fills a FUSE attribute from a node.
func fillAttr(n node, out *fuse.Attr) {
	out.Ino = n.ino()
	out.Mode = n.fileMode()
	out.Owner = fuse.Owner{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	out.Blksize = pageSize
	switch n := n.(type) {
	case *fileNode:
		out.Size = uint64(n.size)
		out.Blocks = (out.Size + 511) / 512
		out.Nlink = 1
		out.SetTimes(nil, &n.mtime, &n.mtime)
	case *dirNode:
		out.Size = 4096
		out.Nlink = 2
		out.SetTimes(nil, &n.mtime, &n.mtime)
	}
}

// sortedNames lists a map's keys in order.
func sortedNames(m map[string]node) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Available reports whether this machine can mount a powerfs: /dev/fuse
// is there and this process may mount (it tries, in a temporary
// directory). The error says what is missing.
func Available(log *slog.Logger) error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("powerfs: no FUSE on this machine: %w", err)
	}
	dir, err := os.MkdirTemp("", "powerfs-probe-")
	if err != nil {
		return fmt.Errorf("powerfs: probe: %w", err)
	}
	defer os.RemoveAll(dir)
	b, m := filepath.Join(dir, "b"), filepath.Join(dir, "m")
	if err := errors.Join(os.Mkdir(b, 0o755), os.Mkdir(m, 0o755)); err != nil {
		return fmt.Errorf("powerfs: probe: %w", err)
	}
	f, err := Mount(b, m, Options{Logger: log})
	if err != nil {
		return fmt.Errorf("powerfs: mounting is not permitted here (root or CAP_SYS_ADMIN, and /dev/fuse readable, are needed): %w", err)
	}
	return f.Close()
}
